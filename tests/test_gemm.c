/* sgemm against a float64 triple loop, over every transposition, odd sizes,
 * strides, alpha/beta, and thread counts. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "gemm/cpu_caches.h"
#include "gemm/gemm.h"
#include "base/half.h"
#include "testutil.h"

static float *random_matrix(size_t count, uint64_t seed)
{
        float *m = malloc((count ? count : 1) * sizeof *m);
        ck_assert_ptr_nonnull(m);
        seeded_uniform(seed, 0, count, 1.0f, m);
        return m;
}

/* C = epilogue(alpha op(A) op(B) + beta C) in float64, row-major. */
static void reference(bool ta, bool tb, size_t m, size_t n, size_t k,
                      float alpha, const float *a, size_t lda, const float *b,
                      size_t ldb, float beta, float *c, size_t ldc,
                      const struct gemm_epilogue *ep)
{
        for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                        double sum = 0;
                        for (size_t p = 0; p < k; p++)
                                sum += (double)(ta ? a[p * lda + i]
                                                   : a[i * lda + p]) *
                                       (tb ? b[j * ldb + p] : b[p * ldb + j]);
                        double v = alpha * sum +
                                   (beta ? beta * c[i * ldc + j] : 0);
                        if (ep && ep->bias)
                                v += ep->bias[i];
                        if (ep && ep->relu && v < 0)
                                v = 0;
                        c[i * ldc + j] = (float)v;
                }
}

static void check_shape(bool ta, bool tb, size_t m, size_t n, size_t k,
                        float alpha, float beta, size_t extra_ld,
                        const struct gemm_epilogue *ep)
{
        size_t lda = (ta ? m : k) + extra_ld, ldb = (tb ? k : n) + extra_ld;
        size_t ldc = n + extra_ld;
        float *a = random_matrix((ta ? k : m) * lda, 1);
        float *b = random_matrix((tb ? n : k) * ldb, 2);
        float *c = random_matrix(m * ldc, 3);
        float *want = malloc((m * ldc + 1) * sizeof *want);
        memcpy(want, c, m * ldc * sizeof *c);
        if (beta == 0.0f) /* C must not be read: poison it */
                for (size_t i = 0; i < m * ldc; i++)
                        c[i] = NAN;
        reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc, ep);
        ck_assert_int_eq(sgemm_fused(ta, tb, m, n, k, alpha, a, lda, b, ldb,
                                     beta, c, ldc, ep),
                         AN_OK);
        char what[128];
        snprintf(what, sizeof what, "sgemm[%s] %c%c m=%zu n=%zu k=%zu%s",
                 sgemm_kernel_name(), ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k,
                 ep ? " +bias+relu" : "");
        /* float32 accumulation over k terms of magnitude <= 1 */
        double tol = 1e-6 * (double)(k + 1);
        for (size_t i = 0; i < m; i++)
                assert_close(c + i * ldc, want + i * ldc, n, tol, what);
        free(a);
        free(b);
        free(c);
        free(want);
}

static const size_t sizes[][3] = {
        {1, 1, 1},
        {1, 4096, 37},
        {4096 / 8, 1, 300},
        {7, 13, 5},
        {33, 1030, 257},
        {64, 169, 1152},
        {5, 3, 0},
        {130, 129, 513},
        /* tall and narrow: threads take row blocks, one of them short */
        {1000, 20, 300},
        /* 5 to 16 columns: the narrow kernels, whole and cut short */
        {50, 8, 300},
        {30, 16, 520},
        {25, 12, 257},
};
enum { N_SIZES = sizeof sizes / sizeof sizes[0] };

static const char *const kernels[] = {"avx512", "avx2", "portable"};

/* Every shape on every kernel this CPU runs (the loop index picks both). */
START_TEST(matches_reference)
{
        const size_t *s = sizes[_i / 3];
        if (!sgemm_use_kernel(kernels[_i % 3]))
                return; /* this CPU cannot run that kernel */
        float *bias = random_matrix(s[0], 6);
        struct gemm_epilogue ep = {bias, true};
        for (int t = 0; t < 4; t++)
                check_shape(t & 1, t & 2, s[0], s[1], s[2], 1.0f, 0.0f, 0,
                            NULL);
        check_shape(false, true, s[0], s[1], s[2], 0.5f, 1.0f, 3, NULL);
        check_shape(true, false, s[0], s[1], s[2], -2.0f, 0.25f, 1, NULL);
        check_shape(false, false, s[0], s[1], s[2], 1.0f, 0.0f, 0, &ep);
        check_shape(true, true, s[0], s[1], s[2], 1.0f, 0.5f, 2, &ep);
        free(bias);
}
END_TEST

/* A prepacked A (row-major M x K, packed once) times op(B), against the
 * float64 reference on A itself or, for bfloat16 storage, on A rounded to
 * bfloat16 by the file converter (half.c); for bfloat16 pairs (the
 * AVX512_BF16 dot product) B rounded too. */
static void check_prepacked(enum gemm_precision precision, bool tb, size_t m,
                            size_t n, size_t k, const struct gemm_epilogue *ep)
{
        size_t ldb = tb ? k + 1 : n + 2;
        float *a = random_matrix(m * k, 7),
              *b = random_matrix((tb ? n : k) * ldb, 8);
        float *c = malloc((m * n + 1) * sizeof *c);
        float *want = malloc((m * n + 1) * sizeof *want);
        float *rounded = random_matrix(m * k, 0);
        bool bf16 = precision != GEMM_FP32;
        for (size_t i = 0; i < m * k; i++)
                rounded[i] = bf16 ? bf16_to_f32(f32_to_bf16(a[i])) : a[i];
        size_t nb = (tb ? n : k) * ldb;
        float *b_used = malloc((nb + 1) * sizeof *b_used);
        for (size_t i = 0; i < nb; i++)
                b_used[i] = precision == GEMM_BF16_PAIRS
                                    ? bf16_to_f32(f32_to_bf16(b[i]))
                                    : b[i];
        for (size_t i = 0; i < m * n; i++)
                c[i] = NAN; /* beta is 0: C must not be read */
        reference(false, tb, m, n, k, 1.0f, rounded, k, b_used, ldb, 0.0f, want,
                  n, ep);
        struct packed_matrix packed;
        ck_assert_int_eq(sgemm_pack(a, m, k, k, precision, &packed), AN_OK);
        ck_assert_uint_ge(packed_matrix_bytes(&packed), m * k * (bf16 ? 2 : 4));
        ck_assert_int_eq(sgemm_prepacked(&packed, tb, n, b, ldb, c, n, ep),
                         AN_OK);
        char what[128];
        snprintf(what, sizeof what, "prepacked %s [%s] N%c m=%zu n=%zu k=%zu%s",
                 precision == GEMM_BF16_PAIRS ? "bf16 pairs"
                 : bf16                       ? "bf16"
                                              : "fp32",
                 sgemm_kernel_name(), tb ? 'T' : 'N', m, n, k,
                 ep ? " +bias+relu" : "");
        double tol = 1e-6 * (double)(k + 1);
        for (size_t i = 0; i < m; i++)
                assert_close(c + i * n, want + i * n, n, tol, what);
        packed_matrix_free(&packed);
        ck_assert_ptr_null(packed.data);
        free(a);
        free(b);
        free(c);
        free(want);
        free(rounded);
        free(b_used);
}

/* Shapes with ragged panels, several K slices (one partial), and N on both
 * sides of the GEMV path. */
static const size_t packed_sizes[][3] = {
        {1, 1, 1},
        {7, 3, 5},
        {13, 4, 1030},
        {13, 5, 1030},
        {50, 1, 600},
        {37, 33, 700},
        {200, 17, 70},
        {6, 2, 0},
        {1000, 20, 300},
        /* the narrow kernels (N 5 to 16), as batches of 8 and 16 use them */
        {50, 8, 300},
        {30, 16, 521},
        {25, 12, 257},
};
enum { N_PACKED = sizeof packed_sizes / sizeof packed_sizes[0] };

START_TEST(prepacked_matches_reference)
{
        const size_t *s = packed_sizes[_i / 3];
        if (!sgemm_use_kernel(kernels[_i % 3]))
                return;
        float *bias = random_matrix(s[0], 9);
        struct gemm_epilogue ep = {bias, true};
        for (int t = 0; t < 4; t++)
                check_prepacked(t & 1 ? GEMM_BF16 : GEMM_FP32, t & 2, s[0],
                                s[1], s[2], t == 3 ? &ep : NULL);
        for (int t = 0; sgemm_bf16_dot() && t < 2; t++)
                check_prepacked(GEMM_BF16_PAIRS, t, s[0], s[1], s[2],
                                t ? &ep : NULL);
        free(bias);
}
END_TEST

/* N > SGEMM_GEMV_MAX_N: the same blocked path as an unpacked A, so the
 * same bits. */
START_TEST(prepacked_fp32_same_bits_as_unpacked)
{
        size_t m = 77, n = 40, k = 1100;
        float *a = random_matrix(m * k, 10), *b = random_matrix(k * n, 11);
        float *c1 = calloc(m * n, sizeof *c1), *c2 = calloc(m * n, sizeof *c2);
        struct packed_matrix packed;
        ck_assert_int_eq(sgemm_pack(a, m, k, k, GEMM_FP32, &packed), AN_OK);
        sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c1, n);
        ck_assert_int_eq(sgemm_prepacked(&packed, false, n, b, n, c2, n, NULL),
                         AN_OK);
        ck_assert_int_eq(memcmp(c1, c2, m * n * sizeof *c1), 0);
        packed_matrix_free(&packed);
        free(a);
        free(b);
        free(c1);
        free(c2);
}
END_TEST

START_TEST(prepacked_refuses_another_kernel)
{
        float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {1, 1, 1}, c[2];
        struct packed_matrix packed;
        ck_assert(sgemm_use_kernel("portable"));
        ck_assert_int_eq(sgemm_pack(a, 2, 3, 3, GEMM_FP32, &packed), AN_OK);
        ck_assert_int_eq(sgemm_prepacked(&packed, false, 1, b, 1, c, 1, NULL),
                         AN_OK);
        ck_assert_float_eq(c[0], 6.0f);
        ck_assert_float_eq(c[1], 15.0f);
        if (sgemm_use_kernel("avx2") || sgemm_use_kernel("avx512"))
                ck_assert_int_eq(
                        sgemm_prepacked(&packed, false, 1, b, 1, c, 1, NULL),
                        AN_E_INVALID);
        packed_matrix_free(&packed);
}
END_TEST

START_TEST(portable_kernel_is_always_available)
{
        ck_assert(sgemm_use_kernel("portable"));
        ck_assert_str_eq(sgemm_kernel_name(), "portable");
        ck_assert(!sgemm_use_kernel("sse9"));
}
END_TEST

/* Shared tiles (77 rows) and row blocks per thread (1000 x 20). */
START_TEST(same_bits_for_any_thread_count)
{
        size_t m = _i ? 1000 : 77, n = _i ? 20 : 1100, k = 300;
        float *a = random_matrix(m * k, 4), *b = random_matrix(k * n, 5);
        float *c1 = calloc(m * n, sizeof *c1), *c3 = calloc(m * n, sizeof *c3);
        int saved = omp_get_max_threads();
        omp_set_num_threads(1);
        sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c1, n);
        omp_set_num_threads(3);
        sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c3, n);
        omp_set_num_threads(saved);
        ck_assert_int_eq(memcmp(c1, c3, m * n * sizeof *c1), 0);
        free(a);
        free(b);
        free(c1);
        free(c3);
}
END_TEST

/* The cache sizes blocks are chosen from are plausible ones (a virtual
 * machine's cpuid reported a 508 MiB L3 here), and read once. */
START_TEST(cache_sizes_are_plausible)
{
        const struct cpu_caches *c = cpu_caches();
        ck_assert_uint_ge(c->l1d, 16 * 1024);
        ck_assert_uint_le(c->l1d, 256 * 1024);
        ck_assert_uint_ge(c->l2, 256 * 1024);
        ck_assert_uint_le(c->l2, 4096 * 1024);
        ck_assert_ptr_eq(cpu_caches(), c);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("gemm");
        TCase *tc = tcase_create("gemm");
        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, matches_reference, 0, 3 * N_SIZES);
        tcase_add_loop_test(tc, prepacked_matches_reference, 0, 3 * N_PACKED);
        tcase_add_test(tc, prepacked_fp32_same_bits_as_unpacked);
        tcase_add_test(tc, prepacked_refuses_another_kernel);
        tcase_add_test(tc, portable_kernel_is_always_available);
        tcase_add_test(tc, cache_sizes_are_plausible);
        tcase_add_loop_test(tc, same_bits_for_any_thread_count, 0, 2);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
