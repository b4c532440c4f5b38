/* Micro-kernels of the SGEMM (gemm.c).  A kernel multiplies a packed
 * MR x kc panel of A (column after column: a[p * MR + i]) by a packed
 * kc x NR panel of B (row after row: b[p * NR + j]) and writes the first
 * `rows` (1 to MR) rows of the MR x NR product to c (row stride ldc):
 * added to what c holds when `accumulate`, then, when given, bias[i] added
 * to row i and ReLU applied.  A row's result does not depend on `rows`.
 * Panels are 64-byte aligned; c need not be. */
#ifndef ALEXNET_GEMM_KERNELS_H
#define ALEXNET_GEMM_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

struct tile_output {
        float *c;
        size_t ldc;
        bool accumulate;
        const float *bias; /* MR values, or NULL */
        bool relu;
};

struct gemm_kernel {
        const char *name;
        int mr, nr;
        /* Its panels hold bfloat16 in pairs along K (gemm_bf16.h), which
         * run() reads through the float pointers. */
        bool bf16_pairs;
        void (*run)(int rows, size_t kc, const float *a, const float *b,
                    const struct tile_output *out);
};

/* The best kernel this CPU can run. */
const struct gemm_kernel *gemm_kernel_select(void);
/* For a product of n columns: a twin of k with the same A panels (MR) and
 * narrower B panels where n is small (the AVX-512 kernel's 12 x 8 and
 * 12 x 16, the AVX2 kernel's 6 x 8), else k itself. */
const struct gemm_kernel *gemm_narrow_kernel(const struct gemm_kernel *k,
                                             size_t n);

/* The kernel called name if this CPU can run it, else NULL. */
const struct gemm_kernel *gemm_kernel_by_name(const char *name);

#endif
