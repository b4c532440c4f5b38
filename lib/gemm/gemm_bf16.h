/* Convolution in bfloat16 with the AVX512_BF16 dot-product instruction
 * (VDPBF16PS), for `--precision bf16`: each instruction multiplies sixteen
 * pairs of bfloat16 and adds both products of a pair to a float32 lane,
 * twice the multiply-adds of an FP32 FMA in the same time.  Weights and
 * the unfolded input are rounded to bfloat16 (to nearest, ties to even);
 * products are exact in float32 and are summed in float32.
 *
 * Layout ("pairs"): as the FP32 panels (KC-deep slices, MR-high panels of
 * A, NR-wide panels of B), but K runs in pairs: element (p, i) of an A
 * panel is at (p / 2) * 2 MR + 2 i + p % 2, element (p, j) of a B panel at
 * (p / 2) * 2 NR + 2 j + p % 2, and a slice of odd depth is padded with a
 * zero row.  Only the AVX-512 kernel's 12-row tiles have bf16 twins
 * (12 x 32, and 12 x 16 for few columns). */
#ifndef ALEXNET_GEMM_BF16_H
#define ALEXNET_GEMM_BF16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gemm/gemm_kernels.h"

/* A slice of depth kc holds this many pair rows' worth of K (kc rounded
 * up to even). */
static inline size_t bf16_pair_depth(size_t kc)
{
        return kc + (kc & 1);
}

/* The dot-product kernel twin of `fp32` (same MR and NR) when this CPU has
 * AVX512_BF16, else NULL.  Its run() takes uint16_t panels in the pairs
 * layout through the float pointers, and kc the slice's real depth. */
const struct gemm_kernel *gemm_bf16_kernel(const struct gemm_kernel *fp32);

/* For a product of n columns: the bf16 kernel k, or its 12 x 16 twin
 * when n <= 16 (the same A panels). */
const struct gemm_kernel *gemm_bf16_narrow_kernel(const struct gemm_kernel *k,
                                                  size_t n);

/* One MR-high panel slice of A in pairs: rows i0..i0+rows-1 (rows <= mr,
 * the rest zero), columns pc..pc+kc-1 of row-major a (stride lda). */
void pack_bf16_pairs_a(const float *a, size_t lda, size_t i0, size_t rows,
                       size_t pc, size_t kc, int mr, uint16_t *dst);

/* A packed FP32 B panel (kc rows of nr floats, nr a multiple of 16)
 * rounded into pairs; needs the bf16 kernel's CPU. */
void pack_bf16_pairs_b(const float *panel, int nr, size_t kc, uint16_t *dst);

#endif
