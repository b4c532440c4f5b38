/* SGEMM benchmark on AlexNet's GEMM shapes: `make bench-gemm`.
 *
 *   bench_gemm [KERNEL]      avx512, avx2 or portable (default: best)
 *
 * Shapes are M x N x K of the convolutions lowered with im2col (M output
 * channels, N output positions of the images folded together, K the
 * unfolded input) and of the fully connected layers at batch 1 and 32,
 * with A packed per call (as training does) and prepacked in FP32 and BF16
 * (as predict does): BF16 widened for the FP32 kernel, and, where the CPU
 * has AVX512_BF16, as pairs for its dot product, whose share is of the dot
 * product's own measured peak. */
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_peak.h"
#include "gemm/gemm.h"

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best time of TRIALS trials of at least 0.2 s each (other tenants of a
 * shared machine slow single runs). */
enum { TRIALS = 5 };

struct product {
        size_t m, n, k;
        bool trans_b;
        const float *a, *b;
        float *c;
        const struct packed_matrix *packed; /* NULL: A packed per call */
};

static void run(const struct product *p)
{
        if (p->packed)
                sgemm_prepacked(p->packed, p->trans_b, p->n, p->b,
                                p->trans_b ? p->k : p->n, p->c, p->n, NULL);
        else
                sgemm(false, p->trans_b, p->m, p->n, p->k, 1, p->a, p->k, p->b,
                      p->trans_b ? p->k : p->n, 0, p->c, p->n);
}

static double best_seconds(const struct product *p)
{
        double best = 1e30;
        for (int t = 0; t < TRIALS; t++) {
                int reps = 0;
                double t0 = now(), elapsed;
                do {
                        run(p);
                        reps++;
                        elapsed = now() - t0;
                } while (elapsed < 0.2);
                if (elapsed / reps < best)
                        best = elapsed / reps;
        }
        return best;
}

static void report(const char *what, const char *how, const struct product *p,
                   double peak)
{
        if (peak <= 0)
                return;
        double s = best_seconds(p);
        double gflops = 2.0 * p->m * p->n * p->k / s / 1e9;
        printf("%-24s %-10s %6zu %6zu %6zu %9.3f %9.1f %7.1f%%\n", what, how,
               p->m, p->n, p->k, s * 1e3, gflops, 100 * gflops * 1e9 / peak);
}

int main(int argc, char **argv)
{
        static const struct {
                const char *what;
                size_t m, n, k;
        } shapes[] = {
                {"owt conv1 (1 image)", 64, 3025, 363},
                {"owt conv2 (2 images)", 192, 1458, 1600},
                {"owt conv3 (7 images)", 384, 1183, 1728},
                {"owt conv4 (7 images)", 256, 1183, 3456},
                {"owt conv5 (7 images)", 256, 1183, 2304},
                {"owt conv3 (1 image)", 384, 169, 1728},
                {"fc6 batch 32 (W.xT)", 4096, 32, 9216},
                {"fc6 batch 1 (W.xT)", 4096, 1, 9216},
        };
        if (argc > 1 && !sgemm_use_kernel(argv[1])) {
                fprintf(stderr, "bench_gemm: no kernel %s here\n", argv[1]);
                return 2;
        }
        const char *isa;
        double peak = measure_peak(&isa), dot_peak = measure_bf16_peak();
        printf("kernel %s, %d threads, measured FP32 peak %.1f GFLOP/s, "
               "BF16 dot-product peak %.1f GFLOP/s; best of %d trials\n"
               "%-24s %-10s %6s %6s %6s %9s %9s %8s\n",
               sgemm_kernel_name(), omp_get_max_threads(), peak / 1e9,
               dot_peak / 1e9, TRIALS, "shape", "A", "M", "N", "K", "ms",
               "GFLOP/s", "of peak");
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                size_t m = shapes[s].m, n = shapes[s].n, k = shapes[s].k;
                float *a = malloc(m * k * sizeof *a);
                float *b = malloc(k * n * sizeof *b);
                float *c = malloc(m * n * sizeof *c);
                for (size_t i = 0; i < m * k; i++)
                        a[i] = (float)(i % 7) * 0.1f;
                for (size_t i = 0; i < k * n; i++)
                        b[i] = (float)(i % 5) * 0.1f;
                /* the FC layers pass x untransposed (x rows are columns) */
                struct product p = {m, n, k, n <= 32, a, b, c, NULL};
                report(shapes[s].what, "per call", &p, peak);
                static const struct {
                        enum gemm_precision precision;
                        const char *how;
                } packs[] = {{GEMM_FP32, "fp32 pack"},
                             {GEMM_BF16, "bf16 pack"},
                             {GEMM_BF16_PAIRS, "bf16 dot"}};
                for (int i = 0; i < 3; i++) {
                        struct packed_matrix packed;
                        if (sgemm_pack(a, m, k, k, packs[i].precision,
                                       &packed) != AN_OK)
                                continue; /* no AVX512_BF16 here */
                        p.packed = &packed;
                        report(shapes[s].what, packs[i].how, &p,
                               packs[i].precision == GEMM_BF16_PAIRS ? dot_peak
                                                                     : peak);
                        packed_matrix_free(&packed);
                }
                free(a);
                free(b);
                free(c);
        }
        return 0;
}
