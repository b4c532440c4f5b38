#include "lrn.h"

#include <math.h>

/* Parallel over (sample, image row); for each output the window's squares are
 * summed afresh (size is 5 in AlexNet, so a running sum would save little). */
void lrn_forward(const struct lrn_params *p, int batch, struct shape in,
                 const float *x, float *y)
{
        size_t plane = (size_t)in.h * in.w;
        int before = p->size / 2, after = (p->size - 1) / 2;
        float scale = (float)(p->alpha / p->size);
        float k = (float)p->k, beta = (float)p->beta;
#pragma omp parallel for collapse(2) schedule(static)
        for (int n = 0; n < batch; n++) {
                for (int row = 0; row < in.h; row++) {
                        const float *xs = x + (size_t)n * shape_count(in) +
                                          (size_t)row * in.w;
                        float *ys = y + (size_t)n * shape_count(in) +
                                    (size_t)row * in.w;
                        for (int c = 0; c < in.c; c++) {
                                int lo = c - before < 0 ? 0 : c - before;
                                int hi = c + after >= in.c ? in.c - 1
                                                           : c + after;
                                for (int i = 0; i < in.w; i++) {
                                        float sum = 0.0f;
                                        for (int cc = lo; cc <= hi; cc++) {
                                                float v = xs[cc * plane + i];
                                                sum += v * v;
                                        }
                                        ys[c * plane + i] =
                                                xs[c * plane + i] /
                                                powf(k + scale * sum, beta);
                                }
                        }
                }
        }
}
