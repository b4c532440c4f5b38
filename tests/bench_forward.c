/* Forward-pass benchmark: `make bench`, never part of `make check`.
 *
 *   bench_forward [PRESET...]        default: alexnet-owt alexnet alexnet-half
 *   BENCH_BATCHES="1 8 32 64"        batch sizes to measure
 *   BENCH_PRECISIONS="fp32 bf16"     weight precisions (net_prepack, as
 *                                    predict --precision uses them)
 *   BENCH_SECONDS=2                  minimum time per measurement (best
 *                                    and median of five trials)
 *   BENCH_LAYERS=0                   leave out the per-layer rows
 *   BENCH_WINOGRAD=0                 every convolution direct (no Winograd)
 *
 * It first measures the machine's FP32 peak with an FMA loop on all threads
 * (AVX-512, else AVX2+FMA, else scalar) and, where the CPU has AVX512_BF16,
 * the peak of its dot product, then times net_forward on random weights
 * and inputs and reports ms per batch, images/s, GFLOP/s and the share of
 * the measured peak (2 FLOP per multiply-add).  In bf16, where the CPU
 * has AVX512_BF16, the layers run its dot product, and shares are of its
 * peak (twice the FP32 one; at batches up to 4 the fully connected layers
 * multiply bfloat16 in FP32 FMAs, bound by reading the weights). */
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_peak.h"
#include "layers/conv.h"
#include "model/model.h"

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t macs_per_image(const struct net *net)
{
        uint64_t total = 0;
        for (int i = 0; i < net->arch.n_layers; i++)
                total += layer_macs(&net->arch.layers[i], net->shapes[i],
                                    net->shapes[i + 1]);
        return total;
}

static void fill(float *p, size_t n, unsigned seed)
{
        for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                p[i] = ((seed >> 9) / 4194304.0f - 1.0f) * 0.05f;
        }
}

/* Per-layer times of `reps` forward passes, then one row per layer that
 * took time (a fused ReLU is counted with its conv or linear layer). */
static void print_layers(struct model *m, const float *x, int batch, int reps,
                         double peak)
{
        struct net *net = &m->net;
        double *t = calloc(net->arch.n_layers, sizeof *t);
        const float *out;
        struct an_error err;
        net->profile = t;
        for (int r = 0; r < reps; r++)
                net_forward(net, x, batch, &out, &err);
        net->profile = NULL;
        for (int i = 0; i < net->arch.n_layers; i++) {
                if (t[i] == 0)
                        continue;
                double ms = t[i] / reps * 1e3;
                double flop = 2.0 * batch *
                              layer_macs(&net->arch.layers[i], net->shapes[i],
                                         net->shapes[i + 1]);
                printf("  %-14s %-16s %9.2f", net->arch.layers[i].name,
                       layer_type_name(net->arch.layers[i].type), ms);
                if (flop > 0)
                        printf(" %9.1f %8.1f%%", flop / ms / 1e6,
                               peak > 0 ? 100 * flop / ms / 1e-3 / peak : 0);
                putchar('\n');
        }
        free(t);
}

/* Each figure is the best of TRIALS timings (the median is printed
 * too): on a shared or virtual machine other tenants slow single runs by
 * as much as a third, and the best trial is the one they disturbed least. */
enum { TRIALS = 5 };

static double best_of(double t[TRIALS])
{
        qsort(t, TRIALS, sizeof *t, compare_doubles);
        return t[0];
}

static double median_of(double t[TRIALS])
{
        qsort(t, TRIALS, sizeof *t, compare_doubles);
        return t[TRIALS / 2];
}

struct settings {
        int batches[16], n_batches;
        enum gemm_precision precisions[2];
        int n_precisions;
        double min_seconds, peak, bf16_peak;
        bool layers;
};

static const char *precision_name(enum gemm_precision p)
{
        return p == GEMM_BF16 ? "bf16" : "fp32";
}

static int bench_precision(struct model *m, enum gemm_precision precision,
                           const struct settings *s);

static int bench_preset(const char *preset, const struct settings *s)
{
        struct model m;
        struct an_error err;
        if (model_from_preset(&m, preset, 1000, &err) != AN_OK) {
                fprintf(stderr, "bench: %s: %s\n", preset, err.message);
                return 1;
        }
        fill(m.owned_params, model_param_count(&m), 1);
        int status = 0;
        for (int p = 0; p < s->n_precisions && !status; p++) {
                if (net_prepack(&m.net, s->precisions[p], &err) != AN_OK) {
                        fprintf(stderr, "bench: %s\n", err.message);
                        status = 1;
                        break;
                }
                status = bench_precision(&m, s->precisions[p], s);
        }
        model_close(&m);
        return status;
}

static int bench_precision(struct model *m, enum gemm_precision precision,
                           const struct settings *s)
{
        struct an_error err;
        double flop = 2.0 * macs_per_image(&m->net);
        size_t in = shape_count(m->net.shapes[0]);
        for (int b = 0; b < s->n_batches; b++) {
                int batch = s->batches[b];
                float *x = malloc(in * batch * sizeof *x);
                const float *out;
                if (x)
                        fill(x, in * batch, 2);
                if (!x || net_forward(&m->net, x, batch, &out, &err) != AN_OK) {
                        fprintf(stderr, "bench: %s\n", x ? err.message : "oom");
                        free(x);
                        return 1;
                }
                double trial[TRIALS];
                int reps = 0;
                for (int i = 0; i < TRIALS; i++) {
                        int n = 0;
                        double t0 = now(), t;
                        do {
                                net_forward(&m->net, x, batch, &out, &err);
                                n++;
                                t = now() - t0;
                        } while (t < s->min_seconds / TRIALS);
                        trial[i] = t / n;
                        reps += n;
                }
                double per_batch = best_of(trial), median = median_of(trial);
                double peak = precision == GEMM_BF16 && sgemm_bf16_dot()
                                      ? s->bf16_peak
                                      : s->peak;
                double gflops = flop * batch / per_batch / 1e9;
                printf("%-13s %-5s %6d %11.2f %10.1f %9.1f %8.1f%% %11.2f\n",
                       m->net.arch.name, precision_name(precision), batch,
                       per_batch * 1e3, batch / per_batch, gflops,
                       peak > 0 ? 100 * gflops * 1e9 / peak : 0.0,
                       median * 1e3);
                if (s->layers)
                        print_layers(m, x, batch, reps < 5 ? reps : 5, peak);
                fflush(stdout);
                free(x);
        }
        return 0;
}

/* "1 8 32" into batches; "fp32 bf16" into precisions. */
static void parse_settings(struct settings *s)
{
        const char *spec = getenv("BENCH_BATCHES");
        char buf[256];
        snprintf(buf, sizeof buf, "%s", spec ? spec : "1 8 32 64");
        s->n_batches = 0;
        for (char *tok = strtok(buf, " ,"); tok && s->n_batches < 16;
             tok = strtok(NULL, " ,"))
                if (atoi(tok) > 0)
                        s->batches[s->n_batches++] = atoi(tok);
        spec = getenv("BENCH_PRECISIONS");
        snprintf(buf, sizeof buf, "%s", spec ? spec : "fp32 bf16");
        s->n_precisions = 0;
        for (char *tok = strtok(buf, " ,"); tok && s->n_precisions < 2;
             tok = strtok(NULL, " ,"))
                if (!strcmp(tok, "fp32") || !strcmp(tok, "bf16"))
                        s->precisions[s->n_precisions++] =
                                strcmp(tok, "fp32") ? GEMM_BF16 : GEMM_FP32;
        const char *secs = getenv("BENCH_SECONDS");
        s->min_seconds = secs ? atof(secs) : 2.0;
        const char *layers = getenv("BENCH_LAYERS");
        s->layers = !layers || strcmp(layers, "0");
        const char *winograd = getenv("BENCH_WINOGRAD");
        conv_allow_winograd(!winograd || strcmp(winograd, "0"));
}

int main(int argc, char **argv)
{
        static const char *const default_presets[] = {"alexnet-owt", "alexnet",
                                                      "alexnet-half"};
        struct settings s;
        parse_settings(&s);
        const char *isa;
        s.peak = measure_peak(&isa);
        s.bf16_peak = measure_bf16_peak();
        double bandwidth = measure_read_bandwidth();
        printf("threads %d, measured FP32 peak %.1f GFLOP/s (%s FMA loop), "
               "memory read %.1f GB/s, GEMM kernel %s\n",
               omp_get_max_threads(), s.peak / 1e9, isa, bandwidth / 1e9,
               sgemm_kernel_name());
        if (s.bf16_peak > 0)
                printf("measured BF16 dot-product peak %.1f GFLOP/s "
                       "(AVX512_BF16), bf16 layers: %s\n\n",
                       s.bf16_peak / 1e9,
                       sgemm_bf16_dot() ? "dot product"
                                        : "fp32 conv, widened bf16 fc");
        else
                putchar('\n');
        printf("%-13s %-5s %6s %11s %10s %9s %9s %11s\n", "preset", "prec",
               "batch", "ms/batch", "images/s", "GFLOP/s", "of peak",
               "median ms");
        int status = 0;
        for (int i = 1; i < argc; i++)
                status |= bench_preset(argv[i], &s);
        for (int i = 0; argc == 1 && i < 3; i++)
                status |= bench_preset(default_presets[i], &s);
        return status;
}
