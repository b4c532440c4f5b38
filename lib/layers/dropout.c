#include "layers/dropout.h"

#include "base/rng.h"

void dropout_forward(double p, size_t count, const float *x, float *y,
                     float *mask, uint64_t seed, uint64_t stream)
{
        float keep = (float)(1.0 / (1.0 - p));
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < count; i++) {
                mask[i] = rng_uniform(seed, stream, i) < p ? 0.0f : keep;
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
