#include "layers/activation.h"

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

void relu_backward(size_t count, const float *y, const float *dy, float *dx)
{
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < count; i++)
                dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

int top_k_hits(int batch, int classes, const float *logits, const int *labels,
               int k)
{
        int hits = 0;
        for (int n = 0; n < batch; n++) {
                const float *z = logits + (size_t)n * classes;
                int above = 0;
                for (int c = 0; c < classes; c++)
                        above += z[c] > z[labels[n]];
                hits += above < k;
        }
        return hits;
}

double softmax_cross_entropy(int batch, int classes, const float *logits,
                             const int *labels, float *dlogits, int *correct)
{
        double loss = 0;
        int right = 0;
        for (int n = 0; n < batch; n++) {
                const float *z = logits + (size_t)n * classes;
                float *d = dlogits + (size_t)n * classes;
                int arg = 0;
                for (int c = 1; c < classes; c++)
                        if (z[c] > z[arg])
                                arg = c;
                double sum = 0;
                for (int c = 0; c < classes; c++)
                        sum += exp((double)z[c] - z[arg]);
                double log_sum = log(sum) + z[arg];
                loss += log_sum - z[labels[n]];
                right += arg == labels[n];
                for (int c = 0; c < classes; c++)
                        d[c] = (float)((exp(z[c] - log_sum) -
                                        (c == labels[n])) /
                                       batch);
        }
        if (correct)
                *correct = right;
        return loss / batch;
}
