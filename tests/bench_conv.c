/* One convolution at a time: `make bench-conv`, never part of make check.
 *
 *   bench_conv [conv1 ... conv5]   default: all five of alexnet-owt
 *   BENCH_BATCH=64                 images per call
 *   BENCH_ROUNDS=4                 alternated rounds (best shown)
 *
 * Times conv_forward, and conv_backward's input gradient and weight
 * gradient apart, for alexnet-owt's convolutions on random data, with
 * Winograd's algorithm allowed (the default) and with every product direct
 * (conv_allow_winograd), the two alternated round by round so that a
 * shared machine's moods fall on both.  GFLOP/s count the direct
 * convolution's multiply-adds, so a path with fewer multiplications shows
 * more than the peak (an FMA loop on every thread, as bench_forward
 * measures it). */
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_peak.h"
#include "layers/conv.h"

struct layer {
        const char *name;
        int in_c, out_c, size, kernel, stride, pad;
};

static const struct layer layers[] = {
        {"conv1", 3, 64, 224, 11, 4, 2},  {"conv2", 64, 192, 27, 5, 1, 2},
        {"conv3", 192, 384, 13, 3, 1, 1}, {"conv4", 384, 256, 13, 3, 1, 1},
        {"conv5", 256, 256, 13, 3, 1, 1},
};
enum { N_LAYERS = sizeof layers / sizeof layers[0], PASSES = 3 };
static const char *const pass_names[PASSES] = {"forward", "input grad",
                                               "weight grad"};

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *random_floats(size_t n, unsigned seed)
{
        float *v = malloc(n * sizeof *v);
        if (!v) {
                fprintf(stderr, "bench_conv: out of memory\n");
                exit(1);
        }
        for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                v[i] = (float)((seed >> 8) & 0xFFFF) / 65536.0f - 0.5f;
        }
        return v;
}

struct operands {
        struct conv_params p;
        struct shape in;
        int batch;
        float *x, *w, *bias, *y, *dx, *dw, *work;
};

static struct operands operands_of(const struct layer *l, int batch)
{
        struct operands o = {.p = {l->in_c,
                                   l->out_c,
                                   1,
                                   {l->kernel, l->kernel, l->stride, l->stride,
                                    l->pad, l->pad, l->pad, l->pad}},
                             .in = {l->in_c, l->size, l->size},
                             .batch = batch};
        int out = window_out_h(&o.p.win, l->size);
        size_t nx = (size_t)batch * l->in_c * l->size * l->size;
        size_t ny = (size_t)batch * l->out_c * out * out;
        size_t nw = (size_t)l->out_c * l->in_c * l->kernel * l->kernel;
        size_t work = conv_forward_workspace_floats(&o.p, o.in, batch);
        size_t back = conv_backward_workspace_floats(&o.p, o.in, batch);
        o.x = random_floats(nx, 1);
        o.w = random_floats(nw, 2);
        o.bias = random_floats((size_t)l->out_c, 3);
        o.y = random_floats(ny, 4); /* also the output's gradient */
        o.dx = random_floats(nx, 5);
        o.dw = random_floats(nw, 6);
        o.work = random_floats((work > back ? work : back) + 1, 7);
        return o;
}

static void free_operands(struct operands *o)
{
        free(o->x);
        free(o->w);
        free(o->bias);
        free(o->y);
        free(o->dx);
        free(o->dw);
        free(o->work);
}

/* A first layer's input gradient is never asked for (nor timed). */
static bool timed(const struct layer *l, int pass)
{
        return !(pass == 1 && l->in_c == 3);
}

/* Seconds of one pass. */
static double run(struct operands *o, int pass)
{
        double start = now();
        enum an_status st =
                pass == 0
                        ? conv_forward(&o->p, o->batch, o->in, o->x, o->w,
                                       o->bias, true, o->y, NULL, NULL, o->work)
                        : conv_backward(&o->p, o->batch, o->in, o->x, o->w,
                                        o->y, pass == 1 ? o->dx : NULL,
                                        pass == 2 ? o->dw : NULL, NULL,
                                        o->work);
        if (st != AN_OK) {
                fprintf(stderr, "bench_conv: %s\n", an_status_string(st));
                exit(1);
        }
        return now() - start;
}

static void bench_layer(const struct layer *l, int batch, int rounds,
                        double peak)
{
        struct operands o = operands_of(l, batch);
        int out = window_out_h(&o.p.win, l->size);
        double flop = 2.0 * batch * l->out_c * out * out *
                      ((double)l->in_c * l->kernel * l->kernel);
        double best[PASSES][2];
        for (int pass = 0; pass < PASSES; pass++)
                best[pass][0] = best[pass][1] = 1e30;
        /* round -1 untimed: first touches and buffers grown */
        for (int r = -1; r < rounds; r++)
                for (int direct = 0; direct < 2; direct++) {
                        conv_allow_winograd(!direct);
                        for (int pass = 0; pass < PASSES; pass++) {
                                if (!timed(l, pass))
                                        continue;
                                double t = run(&o, pass);
                                if (r >= 0 && t < best[pass][direct])
                                        best[pass][direct] = t;
                        }
                }
        conv_allow_winograd(true);
        for (int pass = 0; pass < PASSES; pass++) {
                if (!timed(l, pass))
                        continue;
                printf("%-6s %-12s", l->name, pass_names[pass]);
                for (int direct = 0; direct < 2; direct++)
                        printf("  %8.2f ms %6.1f%%", best[pass][direct] * 1e3,
                               100 * flop / best[pass][direct] / peak);
                printf("\n");
        }
        free_operands(&o);
}

int main(int argc, char **argv)
{
        const char *batch_env = getenv("BENCH_BATCH");
        const char *rounds_env = getenv("BENCH_ROUNDS");
        int batch = batch_env ? atoi(batch_env) : 64;
        int rounds = rounds_env ? atoi(rounds_env) : 4;
        if (batch < 1 || rounds < 1) {
                fprintf(stderr, "bench_conv: BENCH_BATCH and BENCH_ROUNDS "
                                "must be positive\n");
                return 2;
        }
        const char *isa;
        double peak = measure_peak(&isa); /* FLOP/s */
        printf("threads %d, measured FP32 peak %.1f GFLOP/s (%s FMA loop), "
               "batch %d, best of %d alternated rounds\n",
               omp_get_max_threads(), peak / 1e9, isa, batch, rounds);
        printf("%-6s %-12s  %20s  %20s\n", "layer", "pass", "Winograd allowed",
               "direct");
        for (int i = 0; i < N_LAYERS; i++) {
                bool wanted = argc < 2;
                for (int a = 1; a < argc; a++)
                        wanted |= strcmp(argv[a], layers[i].name) == 0;
                if (wanted)
                        bench_layer(&layers[i], batch, rounds, peak);
        }
        return 0;
}
