/* Nearest neighbours among feature vectors, exactly (no approximate
 * index): the scores of a block of queries against a block of rows are
 * one matrix product on the library's SGEMM (lib/gemm), so a search is
 * bound by reading the vectors once per block of queries, and an
 * all-pairs duplicate search by the machine's multiply-add rate.
 *
 * Cosine: similarity in -1..1, larger is nearer (a zero vector is 0 to
 * everything).  Euclidean: the distance, smaller is nearer. */
#ifndef ALEXNET_NEIGHBOURS_H
#define ALEXNET_NEIGHBOURS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errors.h"

enum metric { METRIC_COSINE, METRIC_EUCLIDEAN };

/* rows x cols vectors (not owned) and their lengths (owned). */
struct vector_set {
        const float *data;
        size_t rows, cols;
        float *norms;
};

enum an_status vector_set_init(struct vector_set *s, const float *data,
                               size_t rows, size_t cols, struct an_error *err);
void vector_set_free(struct vector_set *s);

struct neighbour {
        size_t row;
        float score; /* similarity or distance, as the metric */
};

/* Whether score a is nearer than b under the metric. */
bool metric_nearer(enum metric m, float a, float b);

/* For each of the q vectors of `queries` ([q][s->cols]), its k nearest
 * rows of s, nearest first, ties by row, into out[q * k ...]; each query
 * gets min(k, s->rows) of them. */
enum an_status nearest(const struct vector_set *s, const float *queries,
                       size_t q, enum metric m, int k, struct neighbour *out,
                       struct an_error *err);

/* Calls found(ctx, i, j, score) for every pair i < j of rows of s at least
 * `threshold` similar (cosine) or at most `threshold` apart (Euclidean),
 * in order of i, then j; a non-zero return from found stops the search
 * (and is what near_pairs returns in its status: AN_E_IO). */
typedef int (*pair_found)(void *ctx, size_t i, size_t j, float score);
enum an_status near_pairs(const struct vector_set *s, enum metric m,
                          double threshold, pair_found found, void *ctx,
                          struct an_error *err);

#endif
