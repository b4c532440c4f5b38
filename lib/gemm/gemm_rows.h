/* Kernels compiled once per row count: a body NAME_rows(rows, kc, a, b,
 * out), always inlined, becomes one function per count 1..MR (the count a
 * constant, so its loops unroll into registers) and kernel_NAME(rows, ...)
 * picks one from a table; see gemm_kernels.h for what a kernel computes. */
#ifndef ALEXNET_GEMM_ROWS_H
#define ALEXNET_GEMM_ROWS_H

#include <stddef.h>

#include "gemm/gemm_kernels.h"

typedef void rows_fn(size_t kc, const float *a, const float *b,
                     const struct tile_output *out);

#define ROWS_INSTANCE(NAME, TARGET, R)                                         \
        __attribute__((target(TARGET))) static void NAME##_##R(                \
                size_t kc, const float *a, const float *b,                     \
                const struct tile_output *out)                                 \
        {                                                                      \
                NAME##_rows(R, kc, a, b, out);                                 \
        }

#define ROWS_DISPATCH(NAME, MR, ...)                                           \
        static void kernel_##NAME(int rows, size_t kc, const float *a,         \
                                  const float *b,                              \
                                  const struct tile_output *out)               \
        {                                                                      \
                static rows_fn *const by_rows[(MR) + 1] = {NULL, __VA_ARGS__}; \
                by_rows[rows](kc, a, b, out);                                  \
        }

#define ROWS_KERNEL_6(NAME, TARGET)                                            \
        ROWS_INSTANCE(NAME, TARGET, 1)                                         \
        ROWS_INSTANCE(NAME, TARGET, 2)                                         \
        ROWS_INSTANCE(NAME, TARGET, 3)                                         \
        ROWS_INSTANCE(NAME, TARGET, 4)                                         \
        ROWS_INSTANCE(NAME, TARGET, 5)                                         \
        ROWS_INSTANCE(NAME, TARGET, 6)                                         \
        ROWS_DISPATCH(NAME, 6, NAME##_1, NAME##_2, NAME##_3, NAME##_4,         \
                      NAME##_5, NAME##_6)

#define ROWS_KERNEL_12(NAME, TARGET)                                           \
        ROWS_INSTANCE(NAME, TARGET, 1)                                         \
        ROWS_INSTANCE(NAME, TARGET, 2)                                         \
        ROWS_INSTANCE(NAME, TARGET, 3)                                         \
        ROWS_INSTANCE(NAME, TARGET, 4)                                         \
        ROWS_INSTANCE(NAME, TARGET, 5)                                         \
        ROWS_INSTANCE(NAME, TARGET, 6)                                         \
        ROWS_INSTANCE(NAME, TARGET, 7)                                         \
        ROWS_INSTANCE(NAME, TARGET, 8)                                         \
        ROWS_INSTANCE(NAME, TARGET, 9)                                         \
        ROWS_INSTANCE(NAME, TARGET, 10)                                        \
        ROWS_INSTANCE(NAME, TARGET, 11)                                        \
        ROWS_INSTANCE(NAME, TARGET, 12)                                        \
        ROWS_DISPATCH(NAME, 12, NAME##_1, NAME##_2, NAME##_3, NAME##_4,        \
                      NAME##_5, NAME##_6, NAME##_7, NAME##_8, NAME##_9,        \
                      NAME##_10, NAME##_11, NAME##_12)

#endif
