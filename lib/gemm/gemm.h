/* Single-precision matrix multiply, the kernel under convolution and the
 * fully connected layers.  Row-major storage throughout:
 *
 *     C[M x N] = epilogue(alpha * op(A)[M x K] * op(B)[K x N] + beta * C)
 *
 * op(X) is X, or its transpose when the matching trans flag is set (then A is
 * stored K x M, B is stored N x K).  lda/ldb/ldc are row strides in elements.
 * When beta is 0, C is written without being read (NaNs in C do not leak).
 * The optional epilogue adds bias[i] to row i and/or applies ReLU as the
 * result is written, saving a pass over C.
 *
 * Implementation (gemm.c): BLIS-style packing of A and B panels, cache
 * blocking, and a register-tiled micro-kernel chosen at run time for the CPU
 * (AVX-512, AVX2+FMA, or portable C); a GEMV-like path streams A once when N
 * is tiny (fully connected layers at batch 1).  Parallelised with OpenMP;
 * results are identical for any number of threads. */
#ifndef ALEXNET_GEMM_H
#define ALEXNET_GEMM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errors.h"

struct gemm_epilogue {
        const float *bias; /* per row of C, or NULL */
        bool relu;
};

/* Fails only with AN_E_NOMEM (packing buffers, allocated on first use and
 * kept per calling thread). */
enum an_status sgemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                     float alpha, const float *a, size_t lda, const float *b,
                     size_t ldb, float beta, float *c, size_t ldc);

enum an_status sgemm_fused(bool trans_a, bool trans_b, size_t m, size_t n,
                           size_t k, float alpha, const float *a, size_t lda,
                           const float *b, size_t ldb, float beta, float *c,
                           size_t ldc, const struct gemm_epilogue *epilogue);

/* Up to this many columns (N), products take a GEMV path that streams A
 * once as it is stored; beyond, A is packed into panels as it is used,
 * unless it was prepacked. */
#define SGEMM_GEMV_MAX_N 4

/* Storage of a prepacked matrix: float32, or bfloat16 (half the memory and
 * memory traffic; widened to float32 as it is used, so products and sums
 * stay float32), or bfloat16 in pairs along K for the AVX512_BF16 dot
 * product, which rounds the other operand to bfloat16 too and sums in
 * float32 (see gemm_bf16.h). */
enum gemm_precision { GEMM_FP32, GEMM_BF16, GEMM_BF16_PAIRS };

/* A matrix used again and again as the A operand (a layer's weights),
 * packed once into the micro-kernel's panels so that no call packs it: the
 * M x K matrix in KC-deep slices, each a column of MR-high panels
 * (a[p * MR + i] within a panel), zero-padded to whole panels. */
struct gemm_kernel;
struct packed_matrix {
        size_t m, k;
        enum gemm_precision precision;
        const struct gemm_kernel *kernel; /* the one it was packed for */
        void *data;
};

/* Packs row-major A (M x K, row stride lda) for the current micro-kernel.
 * Fails with AN_E_NOMEM, or AN_E_INVALID for GEMM_BF16_PAIRS where
 * sgemm_bf16_dot() is false. */
enum an_status sgemm_pack(const float *a, size_t m, size_t k, size_t lda,
                          enum gemm_precision precision,
                          struct packed_matrix *out);
void packed_matrix_free(struct packed_matrix *p);
size_t packed_matrix_bytes(const struct packed_matrix *p);

/* C = epilogue(A op(B)) with A prepacked (M x K), op(B) K x N: what
 * sgemm_fused with alpha 1 and beta 0 computes on the unpacked A (for N >
 * 4 bit for bit in FP32; for N <= 4 the sums are taken in another order).
 * AN_E_INVALID if the micro-kernel was switched since packing.  For
 * GEMM_BF16_PAIRS, op(B) is rounded to bfloat16 first. */
enum an_status sgemm_prepacked(const struct packed_matrix *a, bool trans_b,
                               size_t n, const float *b, size_t ldb, float *c,
                               size_t ldc, const struct gemm_epilogue *ep);

/* Whether GEMM_BF16_PAIRS (the AVX512_BF16 dot product) runs here: the
 * CPU has it and the AVX-512 kernel is in use. */
bool sgemm_bf16_dot(void);

/* The micro-kernel in use: "avx512", "avx2" or "portable". */
const char *sgemm_kernel_name(void);
/* Switches to the named kernel if this CPU can run it (for tests and
 * benchmarks; call it before any thread multiplies). */
bool sgemm_use_kernel(const char *name);

#endif
