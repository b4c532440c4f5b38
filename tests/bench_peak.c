#include "bench_peak.h"

#include <immintrin.h>
#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

enum { ACCUMULATORS = 12 };

__attribute__((target("avx512f"))) static float fma_avx512(long iters)
{
        __m512 acc[ACCUMULATORS];
        __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
        for (int j = 0; j < ACCUMULATORS; j++)
                acc[j] = _mm512_set1_ps((float)j);
        for (long i = 0; i < iters; i++)
#pragma GCC unroll 12
                for (int j = 0; j < ACCUMULATORS; j++)
                        acc[j] = _mm512_fmadd_ps(acc[j], m, a);
        __m512 s = acc[0];
        for (int j = 1; j < ACCUMULATORS; j++)
                s = _mm512_add_ps(s, acc[j]);
        return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_avx2(long iters)
{
        __m256 acc[ACCUMULATORS];
        __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
        for (int j = 0; j < ACCUMULATORS; j++)
                acc[j] = _mm256_set1_ps((float)j);
        for (long i = 0; i < iters; i++)
#pragma GCC unroll 12
                for (int j = 0; j < ACCUMULATORS; j++)
                        acc[j] = _mm256_fmadd_ps(acc[j], m, a);
        float out[8], sum = 0;
        for (int j = 1; j < ACCUMULATORS; j++)
                acc[0] = _mm256_add_ps(acc[0], acc[j]);
        _mm256_storeu_ps(out, acc[0]);
        for (int j = 0; j < 8; j++)
                sum += out[j];
        return sum;
}

/* FP32 FLOP/s of FMAs on every OpenMP thread at once. */
/* FLOP/s of loop (ITERS steps of macs_per_step multiply-adds per thread)
 * on every OpenMP thread at once: the best of several runs of ~0.1 s each,
 * since on a shared or virtual machine a single short run can land on a
 * busy moment. */
static double best_rate(float (*loop)(long), double macs_per_step)
{
        enum { ITERS = 50 * 1000 * 1000 };
        volatile float sink = 0;
        double best = 0;
        for (int rep = 0; rep < 7; rep++) {
                double t0 = now();
#pragma omp parallel reduction(+ : sink)
                sink += loop(ITERS);
                double t = now() - t0;
                double flops =
                        2.0 * macs_per_step * ITERS * omp_get_max_threads();
                if (flops / t > best)
                        best = flops / t;
        }
        return best;
}

double measure_peak(const char **isa)
{
        int lanes = __builtin_cpu_supports("avx512f") ? 16
                    : __builtin_cpu_supports("avx2") &&
                                    __builtin_cpu_supports("fma")
                            ? 8
                            : 0;
        *isa = lanes == 16 ? "AVX-512" : lanes == 8 ? "AVX2+FMA" : "none";
        if (!lanes)
                return 0;
        return best_rate(lanes == 16 ? fma_avx512 : fma_avx2,
                         (double)lanes * ACCUMULATORS);
}

__attribute__((target("avx512f,avx512bf16"))) static float dot_bf16(long iters)
{
        __m512 acc[ACCUMULATORS];
        __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80); /* 1.0, 1.0 */
        __m512bh b = (__m512bh)_mm512_set1_epi32(0x33d633d6); /* 1e-7 */
        for (int j = 0; j < ACCUMULATORS; j++)
                acc[j] = _mm512_set1_ps((float)j);
        for (long i = 0; i < iters; i++)
#pragma GCC unroll 12
                for (int j = 0; j < ACCUMULATORS; j++)
                        acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
        __m512 s = acc[0];
        for (int j = 1; j < ACCUMULATORS; j++)
                s = _mm512_add_ps(s, acc[j]);
        return _mm512_reduce_add_ps(s);
}

double measure_bf16_peak(void)
{
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("avx512bf16"))
                return 0;
        /* 16 lanes, each two multiply-adds */
        return best_rate(dot_bf16, 32.0 * ACCUMULATORS);
}

/* Eight independent sums so that the adds keep up with memory. */
__attribute__((target("avx2"))) static float sum_avx2(const float *p, size_t n)
{
        __m256 s[8];
        for (int j = 0; j < 8; j++)
                s[j] = _mm256_setzero_ps();
        for (size_t i = 0; i + 64 <= n; i += 64)
                for (int j = 0; j < 8; j++)
                        s[j] = _mm256_add_ps(s[j],
                                             _mm256_loadu_ps(p + i + 8 * j));
        float out[8], total = 0;
        for (int j = 1; j < 8; j++)
                s[0] = _mm256_add_ps(s[0], s[j]);
        _mm256_storeu_ps(out, s[0]);
        for (int j = 0; j < 8; j++)
                total += out[j];
        return total;
}

static float sum_plain(const float *p, size_t n)
{
        float s[8] = {0};
        for (size_t i = 0; i + 8 <= n; i += 8)
                for (int j = 0; j < 8; j++)
                        s[j] += p[i + j];
        return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

double measure_read_bandwidth(void)
{
        size_t n = (size_t)128 << 20; /* floats: 512 MiB, far beyond cache */
        float *p = malloc(n * sizeof *p);
        if (!p)
                return 0;
        bool avx2 = __builtin_cpu_supports("avx2");
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++)
                p[i] = 1.0f;
        int threads = omp_get_max_threads();
        size_t per = n / threads / 64 * 64;
        double bytes = (double)per * threads * sizeof *p;
        volatile float sink = 0;
        double best = 0;
        for (int rep = 0; rep < 5; rep++) {
                double t0 = now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
                {
                        const float *mine = p + per * omp_get_thread_num();
                        sink += avx2 ? sum_avx2(mine, per)
                                     : sum_plain(mine, per);
                }
                double t = now() - t0;
                if (bytes / t > best)
                        best = bytes / t;
        }
        free(p);
        return best;
}

int compare_doubles(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}
