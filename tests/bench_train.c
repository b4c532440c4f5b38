/* Training-step benchmark: `make bench-train`, never part of `make check`.
 *
 *   bench_train [PRESET:BATCH ...]   default: alexnet-owt:64 alexnet-small:128
 *
 * Times trainer_step (forward with every activation kept, loss, backward,
 * SGD update, dropout on) on random data and reports images/s and GFLOP/s,
 * counting a step as three forward passes of multiply-adds (forward, input
 * gradients, weight gradients), and the share of the machine's peak as
 * bench_forward measures it (an FMA loop on every thread). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_peak.h"
#include "model.h"
#include "train.h"

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int bench(const char *preset, int batch, double machine_peak)
{
        struct model m;
        struct trainer t;
        struct an_error err;
        if (model_from_preset(&m, preset, 1000, &err) != AN_OK ||
            trainer_init(&t, &m, batch, &err) != AN_OK) {
                fprintf(stderr, "bench_train: %s\n", err.message);
                return 1;
        }
        init_weights(&m, INIT_HE, 1, 0);
        size_t in = shape_count(m.net.shapes[0]);
        float *x = malloc(in * batch * sizeof *x);
        int *labels = malloc(batch * sizeof *labels);
        for (size_t i = 0; i < in * batch; i++)
                x[i] = (float)(i % 251) / 251.0f - 0.5f;
        for (int i = 0; i < batch; i++)
                labels[i] = i % 1000;
        struct train_config cfg = {0.9, 5e-4, true, 1, 0};
        struct step_stats stats;
        trainer_step(&t, &cfg, x, labels, batch, 1e-4, &stats, &err);
        int steps = 0;
        double t0 = now(), elapsed;
        do {
                trainer_step(&t, &cfg, x, labels, batch, 1e-4, &stats, &err);
                steps++;
                elapsed = now() - t0;
        } while (elapsed < 5.0);
        uint64_t macs = 0;
        for (int i = 0; i < m.net.arch.n_layers; i++)
                macs += layer_macs(&m.net.arch.layers[i], m.net.shapes[i],
                                   m.net.shapes[i + 1]);
        double images = (double)steps * batch / elapsed;
        double gflops = images * 3.0 * 2.0 * macs / 1e9;
        printf("%-14s %6d %10.1f %10.1f %9.1f %8.1f%%\n", preset, batch,
               elapsed / steps * 1e3, images, gflops,
               machine_peak > 0 ? 100 * gflops * 1e9 / machine_peak : 0.0);
        free(x);
        free(labels);
        trainer_free(&t);
        model_close(&m);
        return 0;
}

int main(int argc, char **argv)
{
        static char *defaults[] = {"alexnet-owt:64", "alexnet-small:128"};
        char **specs = argc > 1 ? argv + 1 : defaults;
        int n = argc > 1 ? argc - 1 : 2, status = 0;
        const char *isa;
        double p = measure_peak(&isa);
        printf("threads %d, measured FP32 peak %.1f GFLOP/s\n\n",
               omp_get_max_threads(), p / 1e9);
        printf("%-14s %6s %10s %10s %9s %9s\n", "preset", "batch", "ms/step",
               "images/s", "GFLOP/s", "of peak");
        for (int i = 0; i < n; i++) {
                char name[64];
                int batch = 64;
                snprintf(name, sizeof name, "%s", specs[i]);
                char *colon = strchr(name, ':');
                if (colon) {
                        *colon = 0;
                        batch = atoi(colon + 1);
                }
                status |= bench(name, batch > 0 ? batch : 64, p);
        }
        return status;
}
