/* The AVX-512 kernels' common ending (gemm_kernels.c for FP32,
 * gemm_bf16.c for the bfloat16 dot product): the first `rows` rows of a
 * 12 x 32 tile of accumulators written to C, added to what C holds when
 * asked, plus the bias, through ReLU (see gemm_kernels.h).  Inlined into
 * each kernel, so the accumulators stay in registers. */
#ifndef ALEXNET_GEMM_TILE_STORE_H
#define ALEXNET_GEMM_TILE_STORE_H

#ifdef __x86_64__
#include <immintrin.h>

#include "gemm/gemm_kernels.h"

__attribute__((target("avx512f"), always_inline)) static inline void
tile_store_avx512(__m512 (*c)[2], const int rows, const struct tile_output *out)
{
        __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
                float *ci = out->c + i * out->ldc;
                for (int h = 0; h < 2; h++) {
                        __m512 v = c[i][h];
                        if (out->accumulate)
                                v = _mm512_add_ps(v,
                                                  _mm512_loadu_ps(ci + 16 * h));
                        if (out->bias)
                                v = _mm512_add_ps(v,
                                                  _mm512_set1_ps(out->bias[i]));
                        if (out->relu)
                                v = _mm512_max_ps(v, zero);
                        _mm512_storeu_ps(ci + 16 * h, v);
                }
        }
}
#endif

#endif
