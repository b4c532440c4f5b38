/* Forward-pass benchmark: `make bench`, never part of `make check`.
 *
 *   bench_forward [PRESET...]        default: alexnet-owt alexnet alexnet-half
 *   BENCH_BATCHES="1 8 32"           batch sizes to measure
 *   BENCH_SECONDS=2                  minimum time per measurement
 *   BENCH_LAYERS=0                   leave out the per-layer rows
 *
 * It first measures the machine's FP32 peak with an FMA loop on all threads
 * (AVX-512, else AVX2+FMA, else scalar), then times net_forward on random
 * weights and inputs and reports ms per batch, images/s, GFLOP/s and the
 * share of the measured peak (2 FLOP per multiply-add). */
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_peak.h"
#include "model.h"

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

static int bench_preset(const char *preset, const int *batches, int n_batches,
                        double min_seconds, double peak, bool layers)
{
        struct model m;
        struct an_error err;
        if (model_from_preset(&m, preset, 1000, &err) != AN_OK) {
                fprintf(stderr, "bench: %s: %s\n", preset, err.message);
                return 1;
        }
        fill(m.owned_params, model_param_count(&m), 1);
        double flop = 2.0 * macs_per_image(&m.net);
        size_t in = shape_count(m.net.shapes[0]);
        for (int b = 0; b < n_batches; b++) {
                int batch = batches[b];
                float *x = malloc(in * batch * sizeof *x);
                fill(x, in * batch, 2);
                const float *out;
                if (!x || net_forward(&m.net, x, batch, &out, &err) != AN_OK) {
                        fprintf(stderr, "bench: %s\n", x ? err.message : "oom");
                        free(x);
                        model_close(&m);
                        return 1;
                }
                int reps = 0;
                double t0 = now(), t;
                do {
                        net_forward(&m.net, x, batch, &out, &err);
                        reps++;
                        t = now() - t0;
                } while (t < min_seconds);
                double per_batch = t / reps;
                double gflops = flop * batch / per_batch / 1e9;
                printf("%-13s %6d %11.2f %10.1f %9.1f %8.1f%%\n", preset, batch,
                       per_batch * 1e3, batch / per_batch, gflops,
                       peak > 0 ? 100 * gflops * 1e9 / peak : 0.0);
                if (layers)
                        print_layers(&m, x, batch, reps, peak);
                fflush(stdout);
                free(x);
        }
        model_close(&m);
        return 0;
}

int main(int argc, char **argv)
{
        static const char *const default_presets[] = {"alexnet-owt", "alexnet",
                                                      "alexnet-half"};
        int batches[16], n_batches = 0;
        const char *spec = getenv("BENCH_BATCHES");
        char buf[256];
        snprintf(buf, sizeof buf, "%s", spec ? spec : "1 8 32");
        for (char *tok = strtok(buf, " ,"); tok && n_batches < 16;
             tok = strtok(NULL, " ,"))
                if (atoi(tok) > 0)
                        batches[n_batches++] = atoi(tok);
        const char *secs = getenv("BENCH_SECONDS");
        double min_seconds = secs ? atof(secs) : 2.0;
        const char *layers_env = getenv("BENCH_LAYERS");
        bool layers = !layers_env || strcmp(layers_env, "0");

        const char *isa;
        double peak = measure_peak(&isa);
        printf("threads %d, measured FP32 peak %.1f GFLOP/s (%s FMA loop)\n\n",
               omp_get_max_threads(), peak / 1e9, isa);
        printf("%-13s %6s %11s %10s %9s %9s\n", "preset", "batch", "ms/batch",
               "images/s", "GFLOP/s", "of peak");
        int status = 0;
        if (argc > 1)
                for (int i = 1; i < argc; i++)
                        status |= bench_preset(argv[i], batches, n_batches,
                                               min_seconds, peak, layers);
        else
                for (int i = 0; i < 3; i++)
                        status |= bench_preset(default_presets[i], batches,
                                               n_batches, min_seconds, peak,
                                               layers);
        return status;
}
