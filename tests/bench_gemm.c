/* SGEMM benchmark on AlexNet's GEMM shapes: `make bench-gemm`.
 *
 *   bench_gemm [KERNEL]      avx512, avx2 or portable (default: best)
 *
 * Shapes are M x N x K of the convolutions lowered with im2col (M output
 * channels, N output positions of the images folded together, K the
 * unfolded input) and of the fully connected layers at batch 1 and 32. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gemm.h"

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
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
        printf("kernel %s\n%-24s %6s %6s %6s %9s %9s\n", sgemm_kernel_name(),
               "shape", "M", "N", "K", "ms", "GFLOP/s");
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                size_t m = shapes[s].m, n = shapes[s].n, k = shapes[s].k;
                float *a = malloc(m * k * sizeof *a);
                float *b = malloc(k * n * sizeof *b);
                float *c = malloc(m * n * sizeof *c);
                for (size_t i = 0; i < m * k; i++)
                        a[i] = (float)(i % 7) * 0.1f;
                for (size_t i = 0; i < k * n; i++)
                        b[i] = (float)(i % 5) * 0.1f;
                bool tb = n <= 32; /* the FC layers pass x untransposed */
                int reps = 0;
                double t0 = now(), t;
                do {
                        sgemm(false, tb, m, n, k, 1, a, k, b, tb ? k : n, 0, c,
                              n);
                        reps++;
                        t = now() - t0;
                } while (t < 1.0);
                printf("%-24s %6zu %6zu %6zu %9.3f %9.1f\n", shapes[s].what, m,
                       n, k, t / reps * 1e3, 2.0 * m * n * k * reps / t / 1e9);
                free(a);
                free(b);
                free(c);
        }
        return 0;
}
