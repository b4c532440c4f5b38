/* Packing a panel whose lanes are rows of the source matrix: a row-major A
 * (its MR rows become the lanes of each panel column) or a transposed B
 * (its NR stored rows become the lanes of each panel row).  Element by
 * element this reads `lanes` rows at once and writes 4 bytes at a time;
 * in 8 x 8 blocks transposed in registers it reads and writes whole
 * vectors. */
#include "gemm/gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Rows 0..rows-1 of the 8 x 8 block at src (row stride ld), transposed:
 * t[c] holds column c (missing rows read as 0). */
__attribute__((target("avx2"))) static inline void
load_transposed8(const float *src, size_t ld, int rows, __m256 t[8])
{
        __m256 r[8], u[8], s[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
                r[i] = i < rows ? _mm256_loadu_ps(src + i * ld)
                                : _mm256_setzero_ps();
#pragma GCC unroll 4
        for (int i = 0; i < 8; i += 2) {
                u[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
                u[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
        }
        /* s[i + c]: rows i..i+3 of columns c and c + 4 (one per lane) */
#pragma GCC unroll 2
        for (int i = 0; i < 8; i += 4) {
                s[i] = _mm256_shuffle_ps(u[i], u[i + 2], 0x44);
                s[i + 1] = _mm256_shuffle_ps(u[i], u[i + 2], 0xEE);
                s[i + 2] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0x44);
                s[i + 3] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0xEE);
        }
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
                t[c] = _mm256_permute2f128_ps(s[c], s[c + 4], 0x20);
                t[c + 4] = _mm256_permute2f128_ps(s[c], s[c + 4], 0x31);
        }
}

/* The first n (8, 6 or 4 in practice) floats of v to dst. */
__attribute__((target("avx2"))) static inline void store_first(float *dst,
                                                               __m256 v, int n)
{
        if (n == 8) {
                _mm256_storeu_ps(dst, v);
                return;
        }
        __m128 lo = _mm256_castps256_ps128(v);
        if (n == 4) {
                _mm_storeu_ps(dst, lo);
        } else if (n == 6) {
                _mm_storeu_ps(dst, lo);
                _mm_storel_pi((__m64 *)(dst + 4), _mm256_extractf128_ps(v, 1));
        } else {
                float tmp[8];
                _mm256_storeu_ps(tmp, v);
                for (int i = 0; i < n; i++)
                        dst[i] = tmp[i];
        }
}

__attribute__((target("avx2"))) static void
pack_lanes_avx2(const float *src, size_t ld, int lanes, size_t kc, float alpha,
                float *out)
{
        __m256 scale = _mm256_set1_ps(alpha);
        size_t p = 0;
        for (; p + 8 <= kc; p += 8)
                for (int i0 = 0; i0 < lanes; i0 += 8) {
                        int rows = lanes - i0 < 8 ? lanes - i0 : 8;
                        __m256 t[8];
                        load_transposed8(src + i0 * ld + p, ld, rows, t);
#pragma GCC unroll 8
                        for (int c = 0; c < 8; c++) {
                                if (alpha != 1.0f)
                                        t[c] = _mm256_mul_ps(t[c], scale);
                                store_first(out + (p + c) * lanes + i0, t[c],
                                            rows);
                        }
                }
        for (; p < kc; p++)
                for (int i = 0; i < lanes; i++)
                        out[p * lanes + i] = alpha * src[i * ld + p];
}
#endif

void pack_lanes(bool vector, const float *src, size_t ld, int lanes, size_t kc,
                float alpha, float *out)
{
#if defined(__x86_64__) || defined(__i386__)
        if (vector) {
                pack_lanes_avx2(src, ld, lanes, kc, alpha, out);
                return;
        }
#endif
        for (size_t p = 0; p < kc; p++)
                for (int i = 0; i < lanes; i++)
                        out[p * lanes + i] = alpha * src[i * ld + p];
}
