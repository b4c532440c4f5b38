#include "lrn.h"

#include <math.h>

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
