#include "gemm/gemm_bf16.h"

#include <string.h>

#include "gemm/gemm_rows.h"
#include "gemm/gemm_tile_store.h"
#include "base/half.h"

#if defined(__x86_64__)
#include <immintrin.h>

enum { MR = 12, NR = 32 };

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

/* 12 x 32: twenty-four accumulators of sixteen floats, as the FP32 AVX-512
 * kernel, each VDPBF16PS taking two steps of K; compiled once per row
 * count, as the FP32 kernels are. */
BF16_TARGET __attribute__((always_inline)) static inline void
bf16_rows(const int rows, size_t kc, const float *a_, const float *b_,
          const struct tile_output *out)
{
        const uint16_t *a = (const uint16_t *)a_, *b = (const uint16_t *)b_;
        __m512 c[MR][2];
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++)
                c[i][0] = c[i][1] = _mm512_setzero_ps();
        for (size_t p = 0; p < kc; p += 2, a += 2 * MR, b += 2 * NR) {
                /* A 2 KiB ahead, as the FP32 kernels (gemm_kernels.c) */
                _mm_prefetch((const char *)a + 2048, _MM_HINT_T0);
                __m512bh b0 = (__m512bh)_mm512_load_si512(b);
                __m512bh b1 = (__m512bh)_mm512_load_si512(b + NR);
#pragma GCC unroll 12
                for (int i = 0; i < rows; i++) {
                        uint32_t pair;
                        memcpy(&pair, a + 2 * i, sizeof pair);
                        __m512bh ai = (__m512bh)_mm512_set1_epi32((int)pair);
                        c[i][0] = _mm512_dpbf16_ps(c[i][0], ai, b0);
                        c[i][1] = _mm512_dpbf16_ps(c[i][1], ai, b1);
                }
        }
        tile_store_avx512(c, rows, out);
}

ROWS_KERNEL_12(bf16, "avx512f,avx512bw,avx512bf16")

/* 12 x 16 for products of at most 16 columns (fully connected layers at
 * small batches), as gemm_narrow_kernel's FP32 twins: one accumulator a
 * row, the same A panels. */
BF16_TARGET __attribute__((always_inline)) static inline void
bf16_n16_rows(const int rows, size_t kc, const float *a_, const float *b_,
              const struct tile_output *out)
{
        const uint16_t *a = (const uint16_t *)a_, *b = (const uint16_t *)b_;
        __m512 c[MR];
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++)
                c[i] = _mm512_setzero_ps();
        for (size_t p = 0; p < kc; p += 2, a += 2 * MR, b += 2 * 16) {
                _mm_prefetch((const char *)a + 2048, _MM_HINT_T0);
                __m512bh b0 = (__m512bh)_mm512_load_si512(b);
#pragma GCC unroll 12
                for (int i = 0; i < rows; i++) {
                        uint32_t pair;
                        memcpy(&pair, a + 2 * i, sizeof pair);
                        c[i] = _mm512_dpbf16_ps(
                                c[i], (__m512bh)_mm512_set1_epi32((int)pair),
                                b0);
                }
        }
        __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
                float *ci = out->c + i * out->ldc;
                __m512 v = c[i];
                if (out->accumulate)
                        v = _mm512_add_ps(v, _mm512_loadu_ps(ci));
                if (out->bias)
                        v = _mm512_add_ps(v, _mm512_set1_ps(out->bias[i]));
                if (out->relu)
                        v = _mm512_max_ps(v, zero);
                _mm512_storeu_ps(ci, v);
        }
}

ROWS_KERNEL_12(bf16_n16, "avx512f,avx512bw,avx512bf16")

static const struct gemm_kernel bf16_kernel = {"avx512-bf16", MR, NR, true,
                                               kernel_bf16};
static const struct gemm_kernel bf16_narrow = {"avx512-bf16-16", MR, 16, true,
                                               kernel_bf16_n16};

const struct gemm_kernel *gemm_bf16_narrow_kernel(const struct gemm_kernel *k,
                                                  size_t n)
{
        return k == &bf16_kernel && n <= 16 ? &bf16_narrow : k;
}

const struct gemm_kernel *gemm_bf16_kernel(const struct gemm_kernel *fp32)
{
        __builtin_cpu_init();
        if (fp32->mr != MR || fp32->nr != NR ||
            strcmp(fp32->name, "avx512") != 0 ||
            !__builtin_cpu_supports("avx512bf16") ||
            !__builtin_cpu_supports("avx512bw"))
                return NULL;
        return &bf16_kernel;
}

/* Lane l of the result: element l / 2 of lo (l even) or of hi (l odd). */
BF16_TARGET static inline __m512i interleave_rows(__m512 lo, __m512 hi)
{
        /* cvtne2ps puts hi's 16 values above lo's */
        __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
        const __m512i order = _mm512_set_epi16(
                31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
        return _mm512_permutexvar_epi16(order, both);
}

BF16_TARGET void pack_bf16_pairs_b(const float *panel, int nr, size_t kc,
                                   uint16_t *dst)
{
        const __m512 zero = _mm512_setzero_ps();
        for (size_t p = 0; p < kc; p += 2, panel += 2 * (size_t)nr) {
                const float *next = p + 1 < kc ? panel + nr : NULL;
                for (int j = 0; j < nr; j += 16, dst += 32) {
                        __m512 lo = _mm512_loadu_ps(panel + j);
                        __m512 hi = next ? _mm512_loadu_ps(next + j) : zero;
                        _mm512_store_si512(dst, interleave_rows(lo, hi));
                }
        }
}
#else
const struct gemm_kernel *gemm_bf16_kernel(const struct gemm_kernel *fp32)
{
        (void)fp32;
        return NULL;
}

const struct gemm_kernel *gemm_bf16_narrow_kernel(const struct gemm_kernel *k,
                                                  size_t n)
{
        (void)n;
        return k;
}

void pack_bf16_pairs_b(const float *panel, int nr, size_t kc, uint16_t *dst)
{
        (void)panel, (void)nr, (void)kc, (void)dst;
}
#endif

void pack_bf16_pairs_a(const float *a, size_t lda, size_t i0, size_t rows,
                       size_t pc, size_t kc, int mr, uint16_t *dst)
{
        size_t depth = bf16_pair_depth(kc);
        for (size_t p = 0; p < depth; p++)
                for (size_t i = 0; i < (size_t)mr; i++) {
                        float v = i < rows && p < kc
                                          ? a[(i0 + i) * lda + pc + p]
                                          : 0.0f;
                        dst[p / 2 * 2 * mr + 2 * i + p % 2] = f32_to_bf16(v);
                }
}
