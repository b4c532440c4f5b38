#include "layers/dropout.h"

#include "base/rng.h"

void dropout_forward(double p, int batch, size_t per_sample, const size_t *ids,
                     const float *x, float *y, float *mask, uint64_t seed,
                     uint64_t stream)
{
        float keep = (float)(1.0 / (1.0 - p));
#pragma omp parallel for collapse(2) schedule(static)
        for (int n = 0; n < batch; n++)
                for (size_t j = 0; j < per_sample; j++) {
                        size_t i = (size_t)n * per_sample + j;
                        uint64_t id = ids ? ids[n] : (uint64_t)n;
                        mask[i] = rng_uniform(seed, stream,
                                              id * per_sample + j) < p
                                          ? 0.0f
                                          : keep;
                        y[i] = x[i] * mask[i];
                }
}

void dropout_backward(size_t count, const float *mask, const float *dy,
                      float *dx)
{
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < count; i++)
                dx[i] = dy[i] * mask[i];
}
