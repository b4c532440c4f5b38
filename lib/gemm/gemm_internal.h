/* What gemm.c (the blocked driver) and gemm_prepacked.c (matrices packed
 * once) share: the blocking, the kernel in use, and where a prepacked
 * matrix keeps each block. */
#ifndef ALEXNET_GEMM_INTERNAL_H
#define ALEXNET_GEMM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gemm/gemm.h"
#include "gemm/gemm_bf16.h"
#include "gemm/gemm_kernels.h"

enum {
        KC = 256,
        MC = 144,  /* a multiple of every kernel's MR (4, 6, 12) */
        NC = 4096, /* a multiple of every kernel's NR (16, 32) */
        MAX_TILE = 12 * 32,
        SMALL_N = SGEMM_GEMV_MAX_N,
        /* Up to this many columns, threads split C by row blocks. */
        ROW_BLOCKS_MAX_N = 128
};

/* Grows *p (64-byte aligned, *have floats) to hold want floats; keeps it
 * when it is large enough.  For the per-thread scratch buffers. */
bool gemm_reserve(float **p, size_t *have, size_t want);

/* Frees the calling thread's packing buffers (sgemm keeps them per
 * thread).  For the threads of a team that each ran a whole GEMM
 * (winograd_grad.c): OpenMP's pool threads may exit when the team size
 * changes, and their buffers with them would be lost. */
void gemm_release_thread_buffers(void);

/* The micro-kernel in use (selected on first call). */
const struct gemm_kernel *gemm_kernel(void);

/* Floats that one packed panel `lanes` wide (MR of A, NR of B) takes in
 * a kc-deep slice for kernel k: bfloat16 pairs go two to a float, the
 * slice padded to an even depth. */
static inline size_t panel_floats(const struct gemm_kernel *k, int lanes,
                                  size_t kc)
{
        return k->bf16_pairs ? bf16_pair_depth(kc) * (size_t)lanes / 2
                             : kc * (size_t)lanes;
}

/* Rows of a prepacked matrix: M rounded up to whole MR-high panels. */
static inline size_t packed_rows(size_t m, int mr)
{
        return (m + mr - 1) / mr * mr;
}

/* Elements before the panels of rows ic.. in the K slice starting at pc
 * (kc deep): slices before it are KC deep and hold all panel rows; ic is a
 * multiple of MR, and each panel of the slice holds kc * MR elements. */
static inline size_t packed_offset(size_t rows, size_t pc, size_t ic, size_t kc)
{
        return pc * rows + ic * kc;
}

/* The panels of rows ic.. in the slice at pc (kc deep) of packed data
 * (rows high), in FP32 or in bfloat16 pairs, whose slices are stored at
 * an even depth. */
static inline const float *packed_panels(const void *data, bool pairs,
                                         size_t rows, size_t pc, size_t ic,
                                         size_t kc)
{
        if (pairs)
                return (const float *)((const uint16_t *)data +
                                       packed_offset(rows, pc, ic,
                                                     bf16_pair_depth(kc)));
        return (const float *)data + packed_offset(rows, pc, ic, kc);
}

/* Packs row-major A (m x k, row stride lda) into data, which holds
 * packed_rows(m, mr) * k elements of the precision's size: the layout
 * sgemm_pack makes, padding rows zeroed. */
void pack_matrix(const float *a, size_t m, size_t k, size_t lda,
                 enum gemm_precision precision, int mr, void *data);

/* out[p * lanes + i] = alpha * src[i * ld + p] for p < kc, i < lanes: a
 * whole panel whose lanes are rows of src (row-major A, transposed B).
 * With vector, in 8 x 8 blocks transposed with AVX2, which the CPU must
 * have (gemm_transpose.c). */
void pack_lanes(bool vector, const float *src, size_t ld, int lanes, size_t kc,
                float alpha, float *out);

/* Whether packing may use AVX2: for every kernel but the portable one,
 * whose CPUs need not have it (and whose tests then test the plain C). */
bool gemm_vector_packing(void);

/* How a tile's product joins C. */
struct merge {
        float beta; /* applied on the first K slice only */
        bool first; /* first K slice: C is scaled by beta (or not read) */
        bool last;  /* last K slice: the epilogue applies */
        const struct gemm_epilogue *epilogue;
};

/* One MR x NR tile of C (rows x cols of it inside C, rows row0.. of the
 * epilogue's bias) from packed panels of A and B, kc deep, by kernel kern
 * (the one in use, or its bfloat16 twin). */
void multiply_tile(const struct gemm_kernel *kern, const float *pa,
                   const float *pb, size_t kc, size_t row0, size_t rows,
                   size_t cols, float *c, size_t ldc, const struct merge *m);

/* The same tile, computed once, whose first `cols` columns go to c and the
 * next cols_next (may be 0) to c_next: a panel of an implicit-GEMM
 * convolution that ends one image's plane and starts the next's. */
void multiply_split_tile(const struct gemm_kernel *kern, const float *pa,
                         const float *pb, size_t kc, size_t row0, size_t rows,
                         float *c, size_t cols, float *c_next, size_t cols_next,
                         size_t ldc, const struct merge *m);

/* The A operand of the blocked driver: a row-major (or transposed) matrix
 * packed as it is used, or a prepacked one. */
struct a_operand {
        bool trans;
        const float *a;
        size_t lda;
        float alpha;
        const struct packed_matrix *packed; /* when set, the rest is unused */
};

/* C = epilogue(alpha op(A) op(B) + beta C) by the packed, blocked path;
 * fails only with AN_E_NOMEM. */
enum an_status gemm_blocked(const struct a_operand *a, bool trans_b, size_t m,
                            size_t n, size_t k, const float *b, size_t ldb,
                            float beta, float *c, size_t ldc,
                            const struct gemm_epilogue *ep);

#endif
