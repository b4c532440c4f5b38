#include "linear.h"

#include "gemm.h"

size_t linear_workspace_floats(int in_features, int out_features, int batch)
{
        (void)in_features;
        return (size_t)out_features * batch;
}

/* Computed as yT[out][n] = weight . xT so that the large weight matrix is the
 * GEMM's A operand, read row by row exactly once, and only the small input is
 * repacked; then transposed into y with the bias added. */
enum an_status linear_forward(int in_features, int out_features, int batch,
                              const float *x, const float *weight,
                              const float *bias, float *y, float *workspace)
{
        enum an_status st = sgemm(false, true, out_features, batch, in_features,
                                  1.0f, weight, in_features, x, in_features,
                                  0.0f, workspace, batch);
        if (st != AN_OK)
                return st;
#pragma omp parallel for schedule(static)
        for (int n = 0; n < batch; n++)
                for (int o = 0; o < out_features; o++)
                        y[(size_t)n * out_features + o] =
                                workspace[(size_t)o * batch + n] +
                                (bias ? bias[o] : 0.0f);
        return AN_OK;
}
