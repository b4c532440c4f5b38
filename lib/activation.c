#include "activation.h"

#include <math.h>

void relu_forward(size_t count, const float *x, float *y)
{
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < count; i++)
                y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void softmax_forward(int batch, int classes, const float *x, float *y)
{
        for (int n = 0; n < batch; n++) {
                const float *xs = x + (size_t)n * classes;
                float *ys = y + (size_t)n * classes;
                float max = xs[0];
                for (int i = 1; i < classes; i++)
                        if (xs[i] > max)
                                max = xs[i];
                double sum = 0.0;
                for (int i = 0; i < classes; i++) {
                        ys[i] = expf(xs[i] - max);
                        sum += ys[i];
                }
                for (int i = 0; i < classes; i++)
                        ys[i] = (float)(ys[i] / sum);
        }
}
