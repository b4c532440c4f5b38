/* Training-step benchmark: `make bench-train`, never part of `make check`.
 *
 *   bench_train [PRESET[:BATCH] ...] default: alexnet-owt alexnet
 *                                    alexnet-small:128
 *   BENCH_BATCHES="1 8 32 64"        batch sizes of a PRESET without one
 *   BENCH_SECONDS=5                  minimum time per measurement (every
 *                                    step timed: best and median shown)
 *   BENCH_LAYERS=0                   leave out the per-layer rows
 *   BENCH_WINOGRAD=0                 every convolution direct (no Winograd)
 *
 * Times trainer_step (forward with every activation kept, loss, backward,
 * SGD update, dropout on) on random data and reports images/s and GFLOP/s,
 * counting a step as three forward passes of multiply-adds (forward, input
 * gradients, weight gradients), and the share of the machine's peak as
 * bench_forward measures it (an FMA loop on every thread). */
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_peak.h"
#include "layers/conv.h"
#include "model/model.h"
#include "train/init.h"
#include "train/trainer.h"

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Per-layer forward and backward times of `steps` steps: one row per
 * layer that took time; GFLOP/s for conv and linear layers (backward: the
 * input- and weight-gradient products, two forward passes' worth). */
static void print_layers(const struct net *net, const double *t, int steps,
                         int batch, double peak)
{
        int n = net->arch.n_layers;
        for (int i = 0; i < n; i++) {
                if (t[i] + t[n + i] == 0)
                        continue;
                double fwd = t[i] / steps * 1e3, bwd = t[n + i] / steps * 1e3;
                double flop = 2.0 * batch *
                              layer_macs(&net->arch.layers[i], net->shapes[i],
                                         net->shapes[i + 1]);
                printf("  %-14s %-10s fwd %8.2f ms", net->arch.layers[i].name,
                       layer_type_name(net->arch.layers[i].type), fwd);
                if (flop > 0)
                        printf(" %6.1f%%", 100 * flop / fwd / 1e-3 / peak);
                printf("  bwd %8.2f ms", bwd);
                if (flop > 0 && bwd > 0)
                        printf(" %6.1f%%", 100 * 2 * flop / bwd / 1e-3 / peak);
                putchar('\n');
        }
}

static int bench(const char *preset, int batch, double machine_peak,
                 double min_seconds, bool layers)
{
        struct model m;
        struct trainer t;
        struct an_error err;
        if (model_from_preset(&m, preset, 1000, &err) != AN_OK ||
            trainer_init(&t, &m, batch, &err) != AN_OK) {
                fprintf(stderr, "bench_train: %s\n", err.message);
                return 1;
        }
        model_init_weights(&m, INIT_HE, 1, 0);
        size_t in = shape_count(m.net.shapes[0]);
        float *x = malloc(in * batch * sizeof *x);
        int *labels = malloc(batch * sizeof *labels);
        for (size_t i = 0; i < in * batch; i++)
                x[i] = (float)(i % 251) / 251.0f - 0.5f;
        for (int i = 0; i < batch; i++)
                labels[i] = i % 1000;
        struct train_config cfg = {.momentum = 0.9,
                                   .weight_decay = 5e-4,
                                   .dropout = true,
                                   .seed = 1};
        struct train_batch tb = {x, labels, NULL, batch, batch};
        struct step_stats stats;
        trainer_step(&t, &cfg, &tb, 1e-4, &stats, &err);
        /* every step timed: the best is reported (the one other tenants of
         * a shared machine disturbed least), with the median beside it */
        enum { MAX_STEPS = 256 };
        double step_time[MAX_STEPS], elapsed = 0;
        int steps = 0;
        while (steps < MAX_STEPS && (steps < 3 || elapsed < min_seconds)) {
                double t0 = now();
                trainer_step(&t, &cfg, &tb, 1e-4, &stats, &err);
                step_time[steps] = now() - t0;
                elapsed += step_time[steps++];
        }
        qsort(step_time, steps, sizeof *step_time, compare_doubles);
        double best = step_time[0], median = step_time[steps / 2];
        uint64_t macs = 0;
        for (int i = 0; i < m.net.arch.n_layers; i++)
                macs += layer_macs(&m.net.arch.layers[i], m.net.shapes[i],
                                   m.net.shapes[i + 1]);
        double images = batch / best;
        double gflops = images * 3.0 * 2.0 * macs / 1e9;
        printf("%-14s %6d %10.1f %10.1f %9.1f %8.1f%% %10.1f\n", preset, batch,
               best * 1e3, images, gflops,
               machine_peak > 0 ? 100 * gflops * 1e9 / machine_peak : 0.0,
               median * 1e3);
        if (layers) {
                double *profile =
                        calloc(2 * m.net.arch.n_layers, sizeof *profile);
                int reps = steps < 3 ? steps : 3;
                t.profile = profile;
                for (int r = 0; r < reps; r++)
                        trainer_step(&t, &cfg, &tb, 1e-4, &stats, &err);
                t.profile = NULL;
                print_layers(&m.net, profile, reps, batch, machine_peak);
                free(profile);
        }
        fflush(stdout);
        free(x);
        free(labels);
        trainer_free(&t);
        model_close(&m);
        return 0;
}

int main(int argc, char **argv)
{
        static char *defaults[] = {"alexnet-owt", "alexnet",
                                   "alexnet-small:128"};
        char **specs = argc > 1 ? argv + 1 : defaults;
        int n = argc > 1 ? argc - 1 : 3, status = 0;
        const char *secs = getenv("BENCH_SECONDS");
        double min_seconds = secs ? atof(secs) : 5.0;
        const char *layers_env = getenv("BENCH_LAYERS");
        bool layers = !layers_env || strcmp(layers_env, "0");
        const char *batches_env = getenv("BENCH_BATCHES");
        const char *winograd = getenv("BENCH_WINOGRAD");
        conv_allow_winograd(!winograd || strcmp(winograd, "0"));
        const char *isa;
        double p = measure_peak(&isa);
        printf("threads %d, measured FP32 peak %.1f GFLOP/s\n\n",
               omp_get_max_threads(), p / 1e9);
        printf("%-14s %6s %10s %10s %9s %9s %10s\n", "preset", "batch",
               "ms/step", "images/s", "GFLOP/s", "of peak", "median ms");
        for (int i = 0; i < n; i++) {
                char name[64], batches[128];
                snprintf(name, sizeof name, "%s", specs[i]);
                char *colon = strchr(name, ':');
                if (colon)
                        *colon = 0;
                snprintf(batches, sizeof batches, "%s",
                         colon         ? colon + 1
                         : batches_env ? batches_env
                                       : "1 8 32 64");
                char *save;
                for (char *tok = strtok_r(batches, " ,", &save); tok;
                     tok = strtok_r(NULL, " ,", &save))
                        if (atoi(tok) > 0)
                                status |= bench(name, atoi(tok), p, min_seconds,
                                                layers);
        }
        return status;
}
