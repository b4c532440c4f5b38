#include "layers/lrn.h"

#include <math.h>
#include <string.h>

/* Elements of a plane handled per step (a stack buffer of window sums). */
enum { CHUNK = 1024 };

/* y = x * (k + scale * sum)^-beta over n elements.  AlexNet's beta = 0.75
 * is computed as (1/sqrt(s)) * sqrt(1/sqrt(s)): two correctly rounded
 * square roots that vectorise, instead of a call to powf per element. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
normalise(const float *x, const float *sum, int n, float k, float scale,
          float beta, float *y)
{
        if (beta == 0.75f) {
                for (int i = 0; i < n; i++) {
                        float r = 1.0f / sqrtf(k + scale * sum[i]);
                        y[i] = x[i] * (r * sqrtf(r));
                }
        } else {
                for (int i = 0; i < n; i++)
                        y[i] = x[i] / powf(k + scale * sum[i], beta);
        }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) static void
add_squares(const float *x, int n, float *sum)
{
        for (int i = 0; i < n; i++)
                sum[i] += x[i] * x[i];
}

/* Parallel over (sample, channel) planes; each plane is processed in
 * chunks: the window's squares summed into a buffer, then normalised. */
void lrn_forward(const struct lrn_params *p, int batch, struct shape in,
                 const float *x, float *y)
{
        size_t plane = (size_t)in.h * in.w;
        int before = p->size / 2, after = (p->size - 1) / 2;
        float scale = (float)(p->alpha / p->size);
        float k = (float)p->k, beta = (float)p->beta;
#pragma omp parallel for collapse(2) schedule(static)
        for (int n = 0; n < batch; n++) {
                for (int c = 0; c < in.c; c++) {
                        const float *xs = x + (size_t)n * shape_count(in);
                        float *ys = y + (size_t)n * shape_count(in);
                        int lo = c - before < 0 ? 0 : c - before;
                        int hi = c + after >= in.c ? in.c - 1 : c + after;
                        float sum[CHUNK];
                        for (size_t i0 = 0; i0 < plane; i0 += CHUNK) {
                                int m = plane - i0 < CHUNK ? (int)(plane - i0)
                                                           : CHUNK;
                                for (int i = 0; i < m; i++)
                                        sum[i] = 0.0f;
                                for (int cc = lo; cc <= hi; cc++)
                                        add_squares(xs + cc * plane + i0, m,
                                                    sum);
                                normalise(xs + c * plane + i0, sum, m, k, scale,
                                          beta, ys + c * plane + i0);
                        }
                }
        }
}

/* With s_i = k + a/n sum_{j in W(i)} x_j^2 and y_i = x_i s_i^-b:
 *   dx_j = dy_j s_j^-b - (2ab/n) x_j sum_{i : j in W(i)} dy_i x_i s_i^(-b-1)
 * where j in W(i) means i - before <= j <= i + after.  Two passes over
 * (sample, channel) planes: the first writes the first term and
 * t_i = dy_i x_i s_i^(-b-1) (into workspace), the second subtracts the
 * window sums of t.  Plane-wise loops vectorise; b = 0.75 avoids pow. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
lrn_first_term(const float *x, const float *dy, const float *sum, size_t n,
               float k, float scale, float beta, float *dx, float *t)
{
        for (size_t i = 0; i < n; i++) {
                float s = k + scale * sum[i], sb;
                if (beta == 0.75f) {
                        float r = 1.0f / sqrtf(s);
                        sb = r * sqrtf(r);
                } else {
                        sb = powf(s, -beta);
                }
                dx[i] = dy[i] * sb;
                t[i] = dy[i] * x[i] * sb / s;
        }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) static void
lrn_accumulate(const float *x, const float *a, size_t n, float factor,
               float *acc, int square)
{
        if (square)
                for (size_t i = 0; i < n; i++)
                        acc[i] += a[i] * a[i];
        else if (x)
                for (size_t i = 0; i < n; i++)
                        acc[i] -= factor * x[i] * a[i];
        else
                for (size_t i = 0; i < n; i++)
                        acc[i] += a[i];
}

enum { LRN_CHUNK = 1024 };

size_t lrn_backward_workspace_floats(struct shape in, int batch)
{
        return shape_count(in) * (size_t)batch;
}

void lrn_backward(const struct lrn_params *p, int batch, struct shape in,
                  const float *x, const float *dy, float *dx, float *workspace)
{
        size_t plane = (size_t)in.h * in.w;
        int before = p->size / 2, after = (p->size - 1) / 2;
        float scale = (float)(p->alpha / p->size);
        float k = (float)p->k, beta = (float)p->beta;
        float factor = 2.0f * scale * beta;
        float *t = workspace;
#pragma omp parallel for collapse(2) schedule(static)
        for (int n = 0; n < batch; n++)
                for (int c = 0; c < in.c; c++) {
                        size_t base = (size_t)n * shape_count(in);
                        int lo = c - before < 0 ? 0 : c - before;
                        int hi = c + after >= in.c ? in.c - 1 : c + after;
                        float sum[LRN_CHUNK];
                        for (size_t i0 = 0; i0 < plane; i0 += LRN_CHUNK) {
                                size_t m = plane - i0 < LRN_CHUNK ? plane - i0
                                                                  : LRN_CHUNK;
                                memset(sum, 0, m * sizeof *sum);
                                for (int j = lo; j <= hi; j++)
                                        lrn_accumulate(
                                                NULL, x + base + j * plane + i0,
                                                m, 0, sum, 1);
                                size_t at = base + c * plane + i0;
                                lrn_first_term(x + at, dy + at, sum, m, k,
                                               scale, beta, dx + at, t + at);
                        }
                }
#pragma omp parallel for collapse(2) schedule(static)
        for (int n = 0; n < batch; n++)
                for (int c = 0; c < in.c; c++) {
                        size_t base = (size_t)n * shape_count(in);
                        /* channels i whose window holds c */
                        int lo = c - after < 0 ? 0 : c - after;
                        int hi = c + before >= in.c ? in.c - 1 : c + before;
                        float sum[LRN_CHUNK];
                        for (size_t i0 = 0; i0 < plane; i0 += LRN_CHUNK) {
                                size_t m = plane - i0 < LRN_CHUNK ? plane - i0
                                                                  : LRN_CHUNK;
                                memset(sum, 0, m * sizeof *sum);
                                for (int j = lo; j <= hi; j++)
                                        lrn_accumulate(
                                                NULL, t + base + j * plane + i0,
                                                m, 0, sum, 0);
                                size_t at = base + c * plane + i0;
                                lrn_accumulate(x + at, sum, m, factor, dx + at,
                                               0);
                        }
                }
}
