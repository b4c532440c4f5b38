/* Micro-kernels of the SGEMM (gemm.c).  A kernel multiplies a packed
 * MR x kc panel of A (column after column: a[p * MR + i]) by a packed
 * kc x NR panel of B (row after row: b[p * NR + j]) and stores the MR x NR
 * product, row-major, in tile.  Panels are 64-byte aligned. */
#ifndef ALEXNET_GEMM_KERNELS_H
#define ALEXNET_GEMM_KERNELS_H

#include <stddef.h>

struct gemm_kernel {
        const char *name;
        int mr, nr;
        void (*run)(size_t kc, const float *a, const float *b, float *tile);
};

/* The best kernel this CPU can run. */
const struct gemm_kernel *gemm_kernel_select(void);
/* The kernel called name if this CPU can run it, else NULL. */
const struct gemm_kernel *gemm_kernel_by_name(const char *name);

#endif
