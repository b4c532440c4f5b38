/* Exact nearest-neighbour search over feature vectors (lib/search): the
 * time to index (the rows' lengths), to find the k nearest of a query, of
 * a batch of 16 (predict's default) and of 256, and to find every near
 * pair (--duplicates), over N vectors of D values shaped as fc7's after
 * its ReLU (about half zeros).  Each product's rate is given as a share
 * of the machine's measured FP32 peak, and each scan's as a share of its
 * measured memory read bandwidth.
 *
 * usage: bench_search [N [D]]   (default 100000 4096; the pair search is
 *                                N^2 D multiply-adds: minutes at 100000)
 * BENCH_SEARCH_PAIRS=0 leaves the pair search out.
 * BENCH_SEARCH_NPY=FILE also writes the vectors as FILE (.npy) and their
 * names as FILE's .txt, for timing alexnet predict --index end to end. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_peak.h"
#include "formats/npy.h"
#include "search/neighbours.h"

static double now(void)
{
        return omp_get_wtime();
}

/* A ReLU output: each value 0 with probability one half, else
 * exponential-looking (a cheap counter-based generator). */
static void fill(float *v, size_t n)
{
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
                unsigned long long z = (i + 1) * 0x9E3779B97F4A7C15ull;
                z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
                z ^= z >> 29;
                double u = (double)(z >> 11) / 9007199254740992.0;
                v[i] = u < 0.5 ? 0.0f : (float)((u - 0.5) * (u - 0.5) * 8);
        }
}

static int count_pair(void *ctx, size_t i, size_t j, float score)
{
        (void)i, (void)j, (void)score;
        ++*(size_t *)ctx;
        return 0;
}

static void write_npy(const char *path, const float *v, size_t n, size_t d)
{
        char header[NPY_HEADER_BYTES];
        npy_header(header, n, d);
        FILE *f = fopen(path, "wb");
        char names[4096];
        snprintf(names, sizeof names, "%.*s.txt", (int)strlen(path) - 4, path);
        FILE *t = fopen(names, "w");
        if (!f || !t) {
                perror(path);
                exit(1);
        }
        fwrite(header, 1, sizeof header, f);
        fwrite(v, sizeof *v, n * d, f);
        for (size_t i = 0; i < n; i++)
                fprintf(t, "image%06zu.jpg\n", i);
        fclose(f);
        fclose(t);
}

/* The best of three searches for q queries. */
static double time_nearest(const struct vector_set *s, const float *q,
                           size_t nq, struct neighbour *out)
{
        double best = 1e30;
        for (int trial = 0; trial < 3; trial++) {
                double t0 = now();
                if (nearest(s, q, nq, METRIC_COSINE, 10, out, NULL) != AN_OK)
                        exit(1);
                double t = now() - t0;
                best = t < best ? t : best;
        }
        return best;
}

int main(int argc, char **argv)
{
        size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
        size_t d = argc > 2 ? strtoul(argv[2], NULL, 10) : 4096;
        const char *isa;
        double peak = measure_peak(&isa), bandwidth = measure_read_bandwidth();
        printf("threads %d, FP32 peak %.0f GFLOP/s (%s), read bandwidth %.1f "
               "GB/s\n",
               omp_get_max_threads(), peak / 1e9, isa, bandwidth / 1e9);
        float *v = malloc(n * d * sizeof *v);
        if (!v)
                return 1;
        fill(v, n * d);
        const char *npy = getenv("BENCH_SEARCH_NPY");
        if (npy)
                write_npy(npy, v, n, d);
        printf("%zu vectors of %zu values (%.2f GB)\n", n, d, n * d * 4 / 1e9);
        struct vector_set s;
        double t0 = now();
        if (vector_set_init(&s, v, n, d, NULL) != AN_OK)
                return 1;
        double t = now() - t0;
        printf("index (lengths):       %8.3f s  %5.1f GB/s (%.0f%% of read "
               "bandwidth)\n",
               t, n * d * 4 / t / 1e9, 100 * n * d * 4 / t / bandwidth);
        struct neighbour *out = malloc(256 * 10 * sizeof *out);
        const size_t batches[3] = {1, 16, 256};
        for (int b = 0; b < 3; b++) {
                t = time_nearest(&s, v + 12345 % n * d, batches[b], out);
                double flops = 2.0 * batches[b] * n * d;
                printf("nearest 10 of %3zu:     %8.3f s  %6.1f GFLOP/s (%.0f%% "
                       "of peak), %5.1f GB/s\n",
                       batches[b], t, flops / t / 1e9, 100 * flops / t / peak,
                       n * d * 4 / t / 1e9);
        }
        const char *want_pairs = getenv("BENCH_SEARCH_PAIRS");
        if (want_pairs && !strcmp(want_pairs, "0")) {
                vector_set_free(&s);
                free(out);
                free(v);
                return 0;
        }
        size_t pairs = 0;
        t0 = now();
        if (near_pairs(&s, METRIC_COSINE, 0.95, count_pair, &pairs, NULL) !=
            AN_OK)
                return 1;
        t = now() - t0;
        double flops =
                2.0 * n * d * (n + 511) / 2; /* the upper triangle's blocks */
        printf("all pairs >= 0.95:     %8.1f s  %6.1f GFLOP/s (%.0f%% of "
               "peak), %zu pairs\n",
               t, flops / t / 1e9, 100 * flops / t / peak, pairs);
        vector_set_free(&s);
        free(out);
        free(v);
        return 0;
}
