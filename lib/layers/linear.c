#include "layers/linear.h"

#include "gemm/gemm.h"

size_t linear_workspace_floats(int in_features, int out_features, int batch)
{
        (void)in_features;
        return (size_t)out_features * batch;
}

/* Computed as yT[out][n] = weight . xT (bias and ReLU applied by the GEMM)
 * so that the large weight matrix is the GEMM's A operand, streamed once at
 * small batch sizes; then transposed into y. */
enum an_status linear_forward(int in_features, int out_features, int batch,
                              const float *x, const float *weight,
                              const float *bias, bool relu, float *y,
                              float *workspace,
                              const struct packed_matrix *packed)
{
        struct gemm_epilogue ep = {bias, relu};
        enum an_status st =
                packed ? sgemm_prepacked(packed, true, batch, x, in_features,
                                         workspace, batch, &ep)
                       : sgemm_fused(false, true, out_features, batch,
                                     in_features, 1.0f, weight, in_features, x,
                                     in_features, 0.0f, workspace, batch, &ep);
        if (st != AN_OK)
                return st;
#pragma omp parallel for schedule(static)
        for (int n = 0; n < batch; n++)
                for (int o = 0; o < out_features; o++)
                        y[(size_t)n * out_features + o] =
                                workspace[(size_t)o * batch + n];
        return AN_OK;
}

enum an_status linear_backward(int in_features, int out_features, int batch,
                               const float *x, const float *weight,
                               const float *dy, float *dx, float *dweight,
                               float *dbias)
{
        /* dW = dY^T X, dX = dY W */
        enum an_status st = AN_OK;
        if (dweight)
                st = sgemm(true, false, out_features, in_features, batch, 1.0f,
                           dy, out_features, x, in_features, 0.0f, dweight,
                           in_features);
        if (st == AN_OK && dx)
                st = sgemm(false, false, batch, in_features, out_features, 1.0f,
                           dy, out_features, weight, in_features, 0.0f, dx,
                           in_features);
        if (st == AN_OK && dbias) {
#pragma omp parallel for schedule(static)
                for (int o = 0; o < out_features; o++) {
                        double sum = 0;
                        for (int n = 0; n < batch; n++)
                                sum += dy[(size_t)n * out_features + o];
                        dbias[o] = (float)sum;
                }
        }
        return st;
}
