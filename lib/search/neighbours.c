#include "search/neighbours.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm/gemm.h"

/* Rows of s scored per product: 16 MB of scores for 1024 queries. */
enum { ROW_BLOCK = 4096, QUERY_BLOCK = 1024, PAIR_BLOCK = 512 };

static float norm_of(const float *v, size_t n)
{
        float sum = 0; /* in SIMD lanes: a memory-bound pass */
#pragma omp simd reduction(+ : sum)
        for (size_t i = 0; i < n; i++)
                sum += v[i] * v[i];
        return sqrtf(sum);
}

enum an_status vector_set_init(struct vector_set *s, const float *data,
                               size_t rows, size_t cols, struct an_error *err)
{
        *s = (struct vector_set){data, rows, cols, NULL};
        s->norms = malloc((rows ? rows : 1) * sizeof *s->norms);
        if (!s->norms)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < rows; r++)
                s->norms[r] = norm_of(data + r * cols, cols);
        return AN_OK;
}

void vector_set_free(struct vector_set *s)
{
        free(s->norms);
        s->norms = NULL;
}

bool metric_nearer(enum metric m, float a, float b)
{
        return m == METRIC_COSINE ? a > b : a < b;
}

/* The metric's score from a dot product and the two lengths. */
static float score_of(enum metric m, float dot, float na, float nb)
{
        if (m == METRIC_COSINE)
                return na > 0 && nb > 0 ? dot / (na * nb) : 0;
        float d2 = na * na + nb * nb - 2 * dot;
        return d2 > 0 ? sqrtf(d2) : 0;
}

/* The euclidean distance from the expansion |a|^2 + |b|^2 - 2 a.b, as
 * the product gives it, loses to cancellation where a and b are close:
 * an image and its copy came out 0.0055 apart, not 0.  So the distances
 * reported are computed again from the differences, in float64, for the
 * pairs the expansion put within this share of |a|^2 + |b|^2 of them. */
#define EXPANSION_SLACK 1e-4

static float exact_distance(const float *a, const float *b, size_t n)
{
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
                double d = (double)a[i] - b[i];
                sum += d * d;
        }
        return (float)sqrt(sum);
}

/* Whether the expansion's distance d between vectors of lengths na and nb
 * could be within threshold. */
static bool maybe_within(float d, float na, float nb, double threshold)
{
        double slack = EXPANSION_SLACK * ((double)na * na + (double)nb * nb);
        return (double)d * d <= threshold * threshold + slack;
}

/* Each query's kept rows with exact distances, in order again (ties to the
 * earlier row). */
static void rescore(const struct vector_set *s, const float *queries, size_t q,
                    int k, const int *found, struct neighbour *out)
{
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < q; i++) {
                struct neighbour *best = out + i * k;
                for (int j = 0; j < found[i]; j++)
                        best[j].score = exact_distance(
                                queries + i * s->cols,
                                s->data + best[j].row * s->cols, s->cols);
                for (int j = 1; j < found[i]; j++) {
                        struct neighbour v = best[j];
                        int at = j;
                        while (at > 0 && (v.score < best[at - 1].score ||
                                          (v.score == best[at - 1].score &&
                                           v.row < best[at - 1].row))) {
                                best[at] = best[at - 1];
                                at--;
                        }
                        best[at] = v;
                }
        }
}

/* Dot products of the nq vectors a with the nr vectors rows.  Up to
 * SGEMM_GEMV_MAX_N queries, the rows are the product's A, so that the
 * GEMV path streams them once (dots[nr][nq]); more, the queries are A
 * (dots[nq][nr]), the faster shape for a large product (measured with
 * bench_search). */
static bool rows_first(size_t nq)
{
        return nq <= SGEMM_GEMV_MAX_N;
}

static enum an_status dot_block(const float *a, size_t nq, const float *rows,
                                size_t nr, size_t cols, float *dots)
{
        if (rows_first(nq))
                return sgemm(false, true, nr, nq, cols, 1.0f, rows, cols, a,
                             cols, 0.0f, dots, nq);
        return sgemm(false, true, nq, nr, cols, 1.0f, a, cols, rows, cols, 0.0f,
                     dots, nr);
}

/* The product of query i and row r from dot_block's output. */
static float dot_at(const float *dots, size_t nq, size_t nr, size_t i, size_t r)
{
        return rows_first(nq) ? dots[r * nq + i] : dots[i * nr + r];
}

/* Puts (row, score) into the k-long sorted list best (n entries so far). */
static void keep_best(struct neighbour *best, int k, int *n, enum metric m,
                      size_t row, float score)
{
        if (*n == k && !metric_nearer(m, score, best[k - 1].score))
                return; /* rows come in order: an equal score loses the tie */
        int i = *n < k ? (*n)++ : k - 1;
        while (i > 0 && metric_nearer(m, score, best[i - 1].score)) {
                best[i] = best[i - 1];
                i--;
        }
        best[i] = (struct neighbour){row, score};
}

enum an_status nearest(const struct vector_set *s, const float *queries,
                       size_t q, enum metric m, int k, struct neighbour *out,
                       struct an_error *err)
{
        size_t block = s->rows < ROW_BLOCK ? s->rows : ROW_BLOCK;
        size_t qb = q < QUERY_BLOCK ? q : QUERY_BLOCK;
        float *dots = malloc((block * qb > 0 ? block * qb : 1) * sizeof *dots);
        float *qnorm = malloc((q ? q : 1) * sizeof *qnorm);
        int *found = calloc(q ? q : 1, sizeof *found);
        enum an_status st = dots && qnorm && found ? AN_OK : AN_E_NOMEM;
        for (size_t i = 0; st == AN_OK && i < q; i++)
                qnorm[i] = norm_of(queries + i * s->cols, s->cols);
        for (size_t q0 = 0; st == AN_OK && q0 < q; q0 += qb) {
                size_t nq = q - q0 < qb ? q - q0 : qb;
                for (size_t r0 = 0; st == AN_OK && r0 < s->rows; r0 += block) {
                        size_t nr = s->rows - r0 < block ? s->rows - r0 : block;
                        st = dot_block(queries + q0 * s->cols, nq,
                                       s->data + r0 * s->cols, nr, s->cols,
                                       dots);
                        if (st != AN_OK)
                                break;
#pragma omp parallel for schedule(static)
                        for (size_t i = 0; i < nq; i++)
                                for (size_t r = 0; r < nr; r++)
                                        keep_best(out + (q0 + i) * k, k,
                                                  &found[q0 + i], m, r0 + r,
                                                  score_of(m,
                                                           dot_at(dots, nq, nr,
                                                                  i, r),
                                                           qnorm[q0 + i],
                                                           s->norms[r0 + r]));
                }
        }
        if (st == AN_OK && m == METRIC_EUCLIDEAN)
                rescore(s, queries, q, k, found, out);
        free(dots);
        free(qnorm);
        free(found);
        if (st != AN_OK)
                return an_error_set(err, st, "out of memory");
        return AN_OK;
}

struct pair {
        size_t i, j;
        float score;
};

static int by_rows(const void *a, const void *b)
{
        const struct pair *x = a, *y = b;
        if (x->i != y->i)
                return x->i < y->i ? -1 : 1;
        return x->j < y->j ? -1 : x->j > y->j;
}

/* A growing list of pairs. */
struct pair_list {
        struct pair *p;
        size_t n, capacity;
};

static bool pair_add(struct pair_list *l, size_t i, size_t j, float score)
{
        if (l->n == l->capacity) {
                size_t c = l->capacity ? 2 * l->capacity : 1024;
                struct pair *p = realloc(l->p, c * sizeof *p);
                if (!p)
                        return false;
                l->p = p;
                l->capacity = c;
        }
        l->p[l->n++] = (struct pair){i, j, score};
        return true;
}

static bool close_enough(enum metric m, float score, double threshold)
{
        return m == METRIC_COSINE ? score >= threshold : score <= threshold;
}

/* The pairs of rows [i0, i0 + ni) with every later row, into list. */
static enum an_status pairs_of_block(const struct vector_set *s, enum metric m,
                                     double threshold, size_t i0, size_t ni,
                                     float *dots, struct pair_list *list)
{
        for (size_t r0 = i0; r0 < s->rows; r0 += ROW_BLOCK) {
                size_t nr = s->rows - r0 < ROW_BLOCK ? s->rows - r0 : ROW_BLOCK;
                enum an_status st =
                        dot_block(s->data + i0 * s->cols, ni,
                                  s->data + r0 * s->cols, nr, s->cols, dots);
                if (st != AN_OK)
                        return st;
                for (size_t a = 0; a < ni; a++)
                        for (size_t r = 0; r < nr; r++) {
                                size_t i = i0 + a, j = r0 + r;
                                if (j <= i)
                                        continue;
                                float score =
                                        score_of(m, dot_at(dots, ni, nr, a, r),
                                                 s->norms[i], s->norms[j]);
                                if (m == METRIC_EUCLIDEAN &&
                                    maybe_within(score, s->norms[i],
                                                 s->norms[j], threshold))
                                        score = exact_distance(
                                                s->data + i * s->cols,
                                                s->data + j * s->cols, s->cols);
                                if (close_enough(m, score, threshold) &&
                                    !pair_add(list, i, j, score))
                                        return AN_E_NOMEM;
                        }
        }
        return AN_OK;
}

enum an_status near_pairs(const struct vector_set *s, enum metric m,
                          double threshold, pair_found found, void *ctx,
                          struct an_error *err)
{
        float *dots = malloc((size_t)PAIR_BLOCK * ROW_BLOCK * sizeof *dots);
        struct pair_list list = {0};
        enum an_status st = dots ? AN_OK : AN_E_NOMEM;
        for (size_t i0 = 0; st == AN_OK && i0 < s->rows; i0 += PAIR_BLOCK) {
                size_t ni =
                        s->rows - i0 < PAIR_BLOCK ? s->rows - i0 : PAIR_BLOCK;
                list.n = 0;
                st = pairs_of_block(s, m, threshold, i0, ni, dots, &list);
                if (st != AN_OK)
                        break;
                qsort(list.p, list.n, sizeof *list.p, by_rows);
                for (size_t p = 0; p < list.n; p++)
                        if (found(ctx, list.p[p].i, list.p[p].j,
                                  list.p[p].score)) {
                                st = AN_E_IO;
                                break;
                        }
        }
        free(dots);
        free(list.p);
        if (st == AN_E_NOMEM)
                return an_error_set(err, st, "out of memory");
        if (st != AN_OK)
                return an_error_set(err, st, "stopped");
        return AN_OK;
}
