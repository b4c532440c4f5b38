/* Single-precision matrix multiply, the kernel under convolution and the
 * fully connected layers.  Row-major storage throughout:
 *
 *     C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C
 *
 * op(X) is X, or its transpose when the matching trans flag is set (then A is
 * stored K x M, B is stored N x K).  lda/ldb/ldc are row strides in elements.
 * When beta is 0, C is written without being read (NaNs in C do not leak).
 * Parallelised with OpenMP over blocks of C; results do not depend on the
 * number of threads.  Fails only with AN_E_NOMEM (a packing buffer). */
#ifndef ALEXNET_GEMM_H
#define ALEXNET_GEMM_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

enum an_status sgemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                     float alpha, const float *a, size_t lda, const float *b,
                     size_t ldb, float beta, float *c, size_t ldc);

#endif
