/* Register-tiled SGEMM micro-kernels, one per instruction set, chosen at run
 * time: the binary is built for the baseline ISA and each kernel is compiled
 * for its own target with GCC's target attribute. */
#include "gemm/gemm_kernels.h"
#include "gemm/gemm_rows.h"
#include "gemm/gemm_tile_store.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86_KERNELS 1
#endif

/* Portable: 4 x 16, plain C the compiler can vectorise with the baseline
 * ISA. */
enum { P_MR = 4, P_NR = 16 };

static void kernel_portable(int rows, size_t kc, const float *a, const float *b,
                            const struct tile_output *out)
{
        float acc[P_MR][P_NR];
        memset(acc, 0, sizeof acc);
        for (size_t p = 0; p < kc; p++, a += P_MR, b += P_NR)
                for (int i = 0; i < rows; i++)
                        for (int j = 0; j < P_NR; j++)
                                acc[i][j] += a[i] * b[j];
        for (int i = 0; i < rows; i++) {
                float *c = out->c + i * out->ldc;
                float add = out->bias ? out->bias[i] : 0.0f;
                for (int j = 0; j < P_NR; j++) {
                        float v = acc[i][j] + (out->accumulate ? c[j] : 0.0f) +
                                  add;
                        c[j] = out->relu && v < 0.0f ? 0.0f : v;
                }
        }
}

#ifdef HAVE_X86_KERNELS
/* Asks for the cache lines of a row of the C tile while the products are
 * computed, so that adding to C at the end does not wait for memory (C
 * is revisited once per K slice and, for the large conv GEMMs, is bigger
 * than L2): what BLIS's kernels do. */
static inline void prefetch_row(const float *row, int n)
{
        _mm_prefetch((const char *)row, _MM_HINT_T0);
        _mm_prefetch((const char *)(row + n - 1), _MM_HINT_T0);
}

/* Asks for A's panel 2 KiB ahead.  A fully connected layer's weights are
 * read once per batch, straight from memory, and the hardware prefetcher
 * alone left the kernel waiting for them; in conv layers A is in
 * cache and the prefetch costs one instruction per step of K. */
static inline void prefetch_a(const void *a)
{
        _mm_prefetch((const char *)a + 2048, _MM_HINT_T0);
}

/* AVX2 + FMA: 6 x 16, twelve ymm accumulators, two B vectors and one
 * broadcast of A in flight (15 of the 16 registers).  Each kernel is
 * compiled once per row count (the count a constant, so the loops unroll
 * into registers): a tile of fewer rows than MR at the bottom of C (conv1's
 * 64 rows are 5 x 12 + 4) costs only its rows. */
enum { AVX2_MR = 6, AVX2_NR = 16 };

__attribute__((target("avx2,fma"), always_inline)) static inline void
avx2_rows(const int rows, size_t kc, const float *a, const float *b,
          const struct tile_output *out)
{
        __m256 c[AVX2_MR][2];
#pragma GCC unroll 6
        for (int i = 0; i < rows; i++) {
                c[i][0] = c[i][1] = _mm256_setzero_ps();
                prefetch_row(out->c + i * out->ldc, AVX2_NR);
        }
        for (size_t p = 0; p < kc; p++, a += AVX2_MR, b += AVX2_NR) {
                prefetch_a(a);
                __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
                for (int i = 0; i < rows; i++) {
                        __m256 ai = _mm256_broadcast_ss(a + i);
                        c[i][0] = _mm256_fmadd_ps(ai, b0, c[i][0]);
                        c[i][1] = _mm256_fmadd_ps(ai, b1, c[i][1]);
                }
        }
        __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 6
        for (int i = 0; i < rows; i++) {
                float *ci = out->c + i * out->ldc;
                for (int h = 0; h < 2; h++) {
                        __m256 v = c[i][h];
                        if (out->accumulate)
                                v = _mm256_add_ps(v,
                                                  _mm256_loadu_ps(ci + 8 * h));
                        if (out->bias)
                                v = _mm256_add_ps(v,
                                                  _mm256_set1_ps(out->bias[i]));
                        if (out->relu)
                                v = _mm256_max_ps(v, zero);
                        _mm256_storeu_ps(ci + 8 * h, v);
                }
        }
}

/* AVX-512: 12 x 32, twenty-four zmm accumulators. */
enum { AVX512_MR = 12, AVX512_NR = 32 };

__attribute__((target("avx512f"), always_inline)) static inline void
avx512_rows(const int rows, size_t kc, const float *a, const float *b,
            const struct tile_output *out)
{
        __m512 c[AVX512_MR][2];
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
                c[i][0] = c[i][1] = _mm512_setzero_ps();
                prefetch_row(out->c + i * out->ldc, AVX512_NR);
        }
        for (size_t p = 0; p < kc; p++, a += AVX512_MR, b += AVX512_NR) {
                prefetch_a(a);
                __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
                for (int i = 0; i < rows; i++) {
                        __m512 ai = _mm512_set1_ps(a[i]);
                        c[i][0] = _mm512_fmadd_ps(ai, b0, c[i][0]);
                        c[i][1] = _mm512_fmadd_ps(ai, b1, c[i][1]);
                }
        }
        tile_store_avx512(c, rows, out);
}

/* Narrow twins of the AVX-512 kernel for products of few columns (fully
 * connected layers at batches of 5 to 16): the same 12-row A panels, so
 * weights prepacked for the 12 x 32 kernel serve them too, and B panels 16
 * or 8 wide, where 32 wide spent most of its multiply-adds on padding
 * (fc6 at batch 8 took as long as at batch 32).  Twelve accumulators of
 * one vector per row; at 8 columns ymm, two FMAs a cycle. */
#define NARROW_ROWS(NAME, TARGET, VEC, MR, NR, ZERO, LOAD, SET1, FMA, LOADU,   \
                    ADD, MAX, STOREU)                                          \
        __attribute__((target(TARGET), always_inline)) static inline void      \
                NAME##_rows(const int rows, size_t kc, const float *a,         \
                            const float *b, const struct tile_output *out)     \
        {                                                                      \
                VEC c[MR];                                                     \
                _Pragma("GCC unroll 12") for (int i = 0; i < rows; i++)        \
                {                                                              \
                        c[i] = ZERO();                                         \
                        _mm_prefetch((const char *)(out->c + i * out->ldc),    \
                                     _MM_HINT_T0);                             \
                }                                                              \
                for (size_t p = 0; p < kc; p++, a += MR, b += NR) {            \
                        prefetch_a(a);                                         \
                        VEC b0 = LOAD(b);                                      \
                        _Pragma("GCC unroll 12") for (int i = 0; i < rows;     \
                                                      i++) c[i] =              \
                                FMA(SET1(a[i]), b0, c[i]);                     \
                }                                                              \
                VEC zero = ZERO();                                             \
                _Pragma("GCC unroll 12") for (int i = 0; i < rows; i++)        \
                {                                                              \
                        float *ci = out->c + i * out->ldc;                     \
                        VEC v = c[i];                                          \
                        if (out->accumulate)                                   \
                                v = ADD(v, LOADU(ci));                         \
                        if (out->bias)                                         \
                                v = ADD(v, SET1(out->bias[i]));                \
                        if (out->relu)                                         \
                                v = MAX(v, zero);                              \
                        STOREU(ci, v);                                         \
                }                                                              \
        }
NARROW_ROWS(n16, "avx512f", __m512, AVX512_MR, 16, _mm512_setzero_ps,
            _mm512_load_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_loadu_ps,
            _mm512_add_ps, _mm512_max_ps, _mm512_storeu_ps)
NARROW_ROWS(n8, "avx2,fma", __m256, AVX512_MR, 8, _mm256_setzero_ps,
            _mm256_load_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_loadu_ps,
            _mm256_add_ps, _mm256_max_ps, _mm256_storeu_ps)

/* The AVX2 kernel's twin, 6 x 8, for the same products on CPUs without
 * AVX-512. */
NARROW_ROWS(avx2n8, "avx2,fma", __m256, AVX2_MR, 8, _mm256_setzero_ps,
            _mm256_load_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_loadu_ps,
            _mm256_add_ps, _mm256_max_ps, _mm256_storeu_ps)

ROWS_KERNEL_6(avx2, "avx2,fma")
ROWS_KERNEL_12(avx512, "avx512f")
ROWS_KERNEL_12(n16, "avx512f")
ROWS_KERNEL_12(n8, "avx2,fma")
ROWS_KERNEL_6(avx2n8, "avx2,fma")

static const struct gemm_kernel avx512_narrow[] = {
        {"avx512-8", AVX512_MR, 8, false, kernel_n8},
        {"avx512-16", AVX512_MR, 16, false, kernel_n16},
};
static const struct gemm_kernel avx2_narrow = {"avx2-8", AVX2_MR, 8, false,
                                               kernel_avx2n8};
#endif

const struct gemm_kernel *gemm_narrow_kernel(const struct gemm_kernel *k,
                                             size_t n)
{
#ifdef HAVE_X86_KERNELS
        if (!strcmp(k->name, "avx512"))
                for (int i = 0; i < 2; i++)
                        if (n <= (size_t)avx512_narrow[i].nr)
                                return &avx512_narrow[i];
        if (!strcmp(k->name, "avx2") && n <= (size_t)avx2_narrow.nr)
                return &avx2_narrow;
#endif
        (void)n;
        return k;
}

static const struct gemm_kernel kernels[] = {
#ifdef HAVE_X86_KERNELS
        {"avx512", AVX512_MR, AVX512_NR, false, kernel_avx512},
        {"avx2", AVX2_MR, AVX2_NR, false, kernel_avx2},
#endif
        {"portable", P_MR, P_NR, false, kernel_portable},
};
enum { N_KERNELS = sizeof kernels / sizeof kernels[0] };

static bool cpu_runs(const struct gemm_kernel *k)
{
#ifdef HAVE_X86_KERNELS
        __builtin_cpu_init();
        if (!strcmp(k->name, "avx512"))
                return __builtin_cpu_supports("avx512f");
        if (!strcmp(k->name, "avx2"))
                return __builtin_cpu_supports("avx2") &&
                       __builtin_cpu_supports("fma");
#endif
        return !strcmp(k->name, "portable");
}

const struct gemm_kernel *gemm_kernel_by_name(const char *name)
{
        for (int i = 0; i < N_KERNELS; i++)
                if (!strcmp(kernels[i].name, name))
                        return cpu_runs(&kernels[i]) ? &kernels[i] : NULL;
        return NULL;
}

const struct gemm_kernel *gemm_kernel_select(void)
{
        for (int i = 0; i < N_KERNELS; i++)
                if (cpu_runs(&kernels[i]))
                        return &kernels[i];
        return &kernels[N_KERNELS - 1];
}
