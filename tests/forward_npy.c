/* Runs a model on inputs from a .npy file, for comparing the network with
 * another implementation (tests/agree_pytorch.py; never part of make check).
 *
 *   forward_npy [--direct] MODEL IN.npy OUT.npy
 *
 * IN.npy holds one preprocessed input per row (C x H x W floats, the
 * model's input shape); OUT.npy gets the network's output per row, and
 * when the network ends before a softmax, OUT.npy's probabilities are the
 * softmax of it and the raw outputs go to OUT.npy's name with .logits.npy.
 * Weights are prepacked as predict does; --direct keeps every convolution
 * on the direct implicit GEMM (no Winograd). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/npy.h"
#include "layers/conv.h"
#include "model/model.h"

enum { BATCH = 16 };

static int fail(const char *what, const struct an_error *err)
{
        fprintf(stderr, "forward_npy: %s: %s\n", what,
                err ? err->message : "failed");
        return 1;
}

static bool write_npy(const char *path, const float *v, size_t rows,
                      size_t cols)
{
        char header[NPY_HEADER_BYTES];
        npy_header(header, rows, cols);
        FILE *f = fopen(path, "wb");
        bool ok = f && fwrite(header, 1, sizeof header, f) == sizeof header &&
                  fwrite(v, sizeof *v, rows * cols, f) == rows * cols;
        return (f && fclose(f) == 0) && ok;
}

/* Softmax of each row, in float64. */
static void softmax_rows(const float *x, size_t rows, size_t cols, float *p)
{
        for (size_t r = 0; r < rows; r++) {
                const float *row = x + r * cols;
                double max = row[0], sum = 0;
                for (size_t c = 1; c < cols; c++)
                        max = row[c] > max ? row[c] : max;
                for (size_t c = 0; c < cols; c++)
                        sum += exp((double)row[c] - max);
                for (size_t c = 0; c < cols; c++)
                        p[r * cols + c] =
                                (float)(exp((double)row[c] - max) / sum);
        }
}

int main(int argc, char **argv)
{
        bool direct = argc > 1 && strcmp(argv[1], "--direct") == 0;
        if (argc != 4 + direct) {
                fprintf(stderr,
                        "usage: forward_npy [--direct] MODEL IN.npy OUT.npy\n");
                return 2;
        }
        char **arg = argv + 1 + direct;
        conv_allow_winograd(!direct);
        struct model m;
        struct an_error err;
        struct npy_matrix in;
        if (model_open(&m, arg[0], &err) != AN_OK)
                return fail(arg[0], &err);
        if (net_prepack(&m.net, GEMM_FP32, &err) != AN_OK)
                return fail("prepack", &err);
        if (npy_open(&in, arg[1], &err) != AN_OK)
                return fail(arg[1], &err);
        size_t per = shape_count(m.net.shapes[0]), outs = net_outputs(&m.net);
        if (in.cols != per)
                return fail(arg[1], NULL);
        float *y = malloc(in.rows * outs * sizeof *y);
        float *p = malloc(in.rows * outs * sizeof *p);
        for (size_t r = 0; r < in.rows; r += BATCH) {
                int batch = (int)(in.rows - r < BATCH ? in.rows - r : BATCH);
                const float *got;
                if (net_forward(&m.net, in.data + r * per, batch, &got, &err) !=
                    AN_OK)
                        return fail("forward", &err);
                memcpy(y + r * outs, got, batch * outs * sizeof *y);
        }
        const struct arch *a = &m.net.arch;
        bool ends_in_softmax = a->layers[a->n_layers - 1].type == LAYER_SOFTMAX;
        if (ends_in_softmax)
                memcpy(p, y, in.rows * outs * sizeof *p);
        else
                softmax_rows(y, in.rows, outs, p);
        char logits[4096];
        snprintf(logits, sizeof logits, "%.*s.logits.npy",
                 (int)(strlen(arg[2]) > 4 ? strlen(arg[2]) - 4 : 0), arg[2]);
        if (!write_npy(arg[2], p, in.rows, outs) ||
            (!ends_in_softmax && !write_npy(logits, y, in.rows, outs)))
                return fail(arg[2], NULL);
        free(y);
        free(p);
        npy_close(&in);
        model_close(&m);
        return 0;
}
