/* Distributed-training benchmark: `make bench-mpi` runs it as
 * `mpirun -np 2` with one thread per process; never part of make check.
 *
 *   mpirun -np N bench_mpi [PRESET] [BATCH]   default alexnet-owt, 32 per
 *                                             process
 *   BENCH_STEPS=6        steps timed (after one untimed)
 *   BENCH_OVERLAP=0      sum the gradients after backward instead of
 *                        during it (the baseline the overlap is judged by)
 *   BENCH_ALLREDUCE=bf16 gradients exchanged as bfloat16
 *
 * Times trainer_step with gradients summed across the processes (random
 * data, dropout on) and reports, per step: the step time; the time inside
 * the allreduce; the part of it the step waited for (exposed) and the
 * share hidden behind backward; the bytes each process sends; the same
 * allreduce alone, with nothing else running.  Then, from these figures,
 * a model of weak scaling to more nodes (see print_scaling_model).  The
 * time inside the allreduce includes waiting for the other processes to
 * reach it. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/model.h"
#include "train/comm.h"
#include "train/init.h"
#include "train/reducer.h"
#include "train/trainer.h"

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int env_int(const char *name, int fallback)
{
        const char *v = getenv(name);
        return v && *v ? atoi(v) : fallback;
}

/* Seconds of backward spent below the first fully connected layer: the
 * window in which the fully connected layers' gradients (most of the
 * bytes) can travel while backward goes on. */
static double conv_backward_seconds(const struct net *net,
                                    const double *profile, int steps)
{
        int n = net->arch.n_layers, first_fc = n;
        for (int i = 0; i < n; i++)
                if (net->arch.layers[i].type == LAYER_LINEAR) {
                        first_fc = i;
                        break;
                }
        double sum = 0;
        for (int i = 0; i < first_fc; i++)
                sum += profile[n + i];
        return sum / steps;
}

/* Ring allreduce of `bytes` over `nodes` on a link of `gbit` Gb/s: each
 * node sends and receives 2 (nodes - 1) / nodes of the bytes, in 2 (nodes
 * - 1) messages of `latency` seconds each. */
static double ring_seconds(double bytes, int nodes, double gbit, double latency)
{
        return 2.0 * (nodes - 1) / nodes * bytes / (gbit * 1e9 / 8) +
               2.0 * (nodes - 1) * latency;
}

/* Weak scaling: every node computes a step of `compute` seconds (as one
 * process here does, or `speed` times faster), and the allreduce is hidden
 * up to `window` seconds (the backward below the fully connected layers,
 * as measured, over the same speed-up); efficiency = compute / (compute +
 * the allreduce time not hidden). */
static void print_scaling_model(double bytes, double compute, double window)
{
        static const int nodes[] = {8, 64};
        static const double links[] = {10, 100}, speeds[] = {1, 10};
        const double latency = 5e-6;
        printf("\nweak-scaling model (per node: step %.0f ms of compute, "
               "%.0f ms of backward below fc6 to hide the allreduce in, or "
               "both 10x shorter on a node 10x faster; %.1f MB per step; "
               "ring allreduce, %.0f us per message)\n",
               compute * 1e3, window * 1e3, bytes / 1e6, latency * 1e6);
        printf("%6s %8s %12s %6s %12s %11s\n", "nodes", "link", "allreduce",
               "node", "exposed", "efficiency");
        for (int l = 0; l < 2; l++)
                for (int k = 0; k < 2; k++)
                        for (int v = 0; v < 2; v++) {
                                double ar = ring_seconds(bytes, nodes[k],
                                                         links[l], latency);
                                double c = compute / speeds[v],
                                       w = window / speeds[v];
                                double exposed = ar > w ? ar - w : 0;
                                printf("%6d %5.0fGb/s %9.1f ms %5.0fx %9.1f "
                                       "ms %10.1f%%\n",
                                       nodes[k], links[l], ar * 1e3, speeds[v],
                                       exposed * 1e3, 100 * c / (c + exposed));
                        }
}

struct bench {
        struct model m;
        struct trainer t;
        struct grad_reducer reducer;
        float *x;
        int *labels;
        int batch;
};

static int bench_open(struct bench *b, const char *preset, int batch,
                      const struct comm *c, bool bf16)
{
        struct an_error err;
        b->batch = batch;
        if (model_from_preset(&b->m, preset, 1000, &err) != AN_OK ||
            trainer_init(&b->t, &b->m, batch, &err) != AN_OK ||
            grad_reducer_open(&b->reducer, c, b->t.n_params,
                              b->m.net.arch.n_layers, bf16, &err) != AN_OK) {
                fprintf(stderr, "bench_mpi: %s\n", err.message);
                return 1;
        }
        model_init_weights(&b->m, INIT_HE, 1, 0);
        b->t.reducer = &b->reducer;
        size_t in = shape_count(b->m.net.shapes[0]);
        b->x = malloc(in * batch * sizeof *b->x);
        b->labels = malloc(batch * sizeof *b->labels);
        for (size_t i = 0; i < in * batch; i++)
                b->x[i] = (float)((i + c->rank * 7) % 251) / 251.0f - 0.5f;
        for (int i = 0; i < batch; i++)
                b->labels[i] = (i + c->rank) % 1000;
        return 0;
}

static double step(struct bench *b, const struct comm *c)
{
        struct train_config cfg = {.momentum = 0.9,
                                   .weight_decay = 5e-4,
                                   .dropout = true,
                                   .seed = 1};
        struct train_batch tb = {b->x, b->labels, NULL, b->batch,
                                 b->batch * c->size};
        struct step_stats stats;
        struct an_error err;
        double start = now();
        if (trainer_step(&b->t, &cfg, &tb, 1e-4, &stats, &err) != AN_OK) {
                fprintf(stderr, "bench_mpi: %s\n", err.message);
                comm_abort(c, 1);
                exit(1);
        }
        return now() - start;
}

/* The allreduce of every gradient alone, no compute beside it: the best
 * of three, in seconds. */
static double allreduce_alone(struct bench *b, const struct comm *c, bool bf16)
{
        struct an_error err;
        double best = INFINITY;
        for (int k = 0; k < 3; k++) {
                comm_sum_doubles(c, &(double){0}, 1, &err); /* line up */
                double start = now();
                if (comm_sum_floats(c, b->t.param_grads, b->t.n_params,
                                    bf16 ? b->reducer.scratch : NULL,
                                    &err) != AN_OK) {
                        fprintf(stderr, "bench_mpi: %s\n", err.message);
                        return NAN;
                }
                double t = now() - start;
                best = t < best ? t : best;
        }
        return best;
}

int main(int argc, char **argv)
{
        struct comm c;
        struct an_error err;
        if (comm_init(&c, &err) != AN_OK) {
                fprintf(stderr, "bench_mpi: %s\n", err.message);
                return 1;
        }
        const char *preset = argc > 1 ? argv[1] : "alexnet-owt";
        int batch = argc > 2 ? atoi(argv[2]) : 32;
        int steps = env_int("BENCH_STEPS", 6);
        const char *ar = getenv("BENCH_ALLREDUCE");
        bool bf16 = ar && !strcmp(ar, "bf16");
        if (!env_int("BENCH_OVERLAP", 1))
                c.threads = false; /* the reducer sums in its wait */
        struct bench b;
        if (bench_open(&b, preset, batch, &c, bf16))
                return 1;
        step(&b, &c); /* untimed: first touches */
        b.reducer.busy_seconds = b.reducer.exposed_seconds = 0;
        double *profile = calloc(2 * b.m.net.arch.n_layers, sizeof *profile);
        b.t.profile = profile;
        double total = 0, best = INFINITY;
        for (int s = 0; s < steps; s++) {
                double t = step(&b, &c);
                total += t;
                best = t < best ? t : best;
        }
        double busy = b.reducer.busy_seconds / steps,
               exposed = b.reducer.exposed_seconds / steps;
        double bytes = (double)b.t.n_params * (bf16 ? 2 : 4);
        double window = conv_backward_seconds(&b.m.net, profile, steps);
        double mean = total / steps;
        double alone = allreduce_alone(&b, &c, bf16);
        if (c.rank == 0) {
                printf("%s, %d processes x %d threads, batch %d per process, "
                       "allreduce %s%s\n",
                       preset, c.size, omp_get_max_threads(), batch,
                       bf16 ? "bf16" : "f32",
                       c.threads ? ", overlapped with backward"
                                 : ", after backward");
                printf("step %.1f ms (best %.1f), %.1f images/s over all "
                       "processes\n",
                       mean * 1e3, best * 1e3, batch * c.size / mean);
                printf("allreduce %.1f ms per step (%.1f MB), exposed %.1f "
                       "ms: %.0f%% hidden behind backward\n",
                       busy * 1e3, bytes / 1e6, exposed * 1e3,
                       busy > 0 ? 100 * (1 - exposed / busy) : 0.0);
                printf("the same allreduce alone: %.1f ms (%.2f Gb/s of "
                       "gradient summed)\n",
                       alone * 1e3, bytes * 8 / alone / 1e9);
                print_scaling_model(bytes, mean - exposed, window);
        }
        free(profile);
        free(b.x);
        free(b.labels);
        grad_reducer_close(&b.reducer);
        trainer_free(&b.t);
        model_close(&b.m);
        comm_finalize(&c);
        return 0;
}
