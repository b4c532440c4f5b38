/* Fully connected layer, forward and backward:
 * y[n][out] = x[n][in] . weight[out][in] + bias[out].
 * weight is [out, in] as in PyTorch; an NCHW input is read as [n, C*H*W]. */
#ifndef ALEXNET_LINEAR_H
#define ALEXNET_LINEAR_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errors.h"
#include "gemm/gemm.h"

/* Floats of scratch linear_forward needs. */
size_t linear_workspace_floats(int in_features, int out_features, int batch);

/* bias may be NULL; relu applies max(0, .) to the result.  packed, when
 * not NULL, is the weight prepacked (sgemm_pack) and is used instead. */
enum an_status linear_forward(int in_features, int out_features, int batch,
                              const float *x, const float *weight,
                              const float *bias, bool relu, float *y,
                              float *workspace,
                              const struct packed_matrix *packed);

/* dW = dY^T X and db = the column sums of dY (overwritten; each skipped
 * when NULL), dX = dY W
 * (skipped when dx is NULL), in a fixed order for any thread count. */
enum an_status linear_backward(int in_features, int out_features, int batch,
                               const float *x, const float *weight,
                               const float *dy, float *dx, float *dweight,
                               float *dbias);

#endif
