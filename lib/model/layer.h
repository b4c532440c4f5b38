/* The one dispatcher from a layer of an architecture to the code of its
 * type (lib/layers/, one file per type holding forward and backward).
 * Inference (net.c) and training (train/trainer.c) both run every layer
 * through here, so a new layer type is a file in lib/layers/ plus a case in
 * each function of layer.c.
 *
 * Buffers are explicit: the caller owns inputs, outputs, parameters,
 * gradients and scratch; nothing here allocates or keeps state. */
#ifndef ALEXNET_LAYER_H
#define ALEXNET_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "base/shape.h"
#include "gemm/gemm.h"
#include "gemm/winograd.h"
#include "model/arch.h"

/* A layer's parameters as the forward pass reads them. */
struct layer_params {
        const float *weight, *bias;         /* NULL for layers without */
        const struct packed_matrix *packed; /* one per group, or NULL */
        /* Conv layers on Winograd's path: transformed weights, one per
         * group, or NULL */
        const struct winograd_weights *winograd;
};

/* Dropout as the forward pass applies it: mask NULL means inference (the
 * identity); otherwise the mask is drawn from (seed, stream, sample id)
 * into mask, which the backward pass then reads.  ids: each sample's id
 * (NULL: its place in the batch). */
struct dropout_draw {
        float *mask;
        uint64_t seed, stream;
        const size_t *ids;
};

/* Floats of scratch the layer needs for a batch: forward only, or forward
 * and backward (training). */
size_t layer_workspace_floats(const struct layer *l, struct shape in, int batch,
                              bool backward);

/* Layer l from x into y (y may equal x for element-wise layers; not for
 * the others).  relu applies a ReLU that follows in the same pass (conv and
 * linear only).  drop: NULL or an inference draw for the identity. */
enum an_status layer_forward(const struct layer *l, struct shape in,
                             const struct layer_params *p, int batch,
                             const float *x, float *y, bool relu,
                             float *workspace, const struct dropout_draw *drop);

/* The gradients of layer l: from its forward input x, its output y and the
 * gradient at its output dy, writes dx (skipped when NULL: the first layer
 * trained) and, for layers with parameters, dweight and dbias (overwritten;
 * dbias NULL when the layer has none; dweight NULL: no parameter
 * gradients, as for an explanation of one input).  drop: the forward pass's
 * draw. */
enum an_status layer_backward(const struct layer *l, struct shape in,
                              const float *weight, int batch, const float *x,
                              const float *y, const float *dy, float *dx,
                              float *dweight, float *dbias, float *workspace,
                              const struct dropout_draw *drop);

/* Whether layer_backward may be given dx == dy (elementwise layers:
 * ReLU, dropout), reading and writing one gradient buffer instead of two. */
bool layer_backward_in_place(const struct layer *l);

/* Whether layer l, a max pool, reads the output of the ReLU below it, so
 * that layer_backward_pool_relu can take both layers' gradients at once. */
bool layer_pools_relu(const struct layer *l, const struct layer *below);

/* The gradient at the input of the ReLU below max pool l (x, the pool's
 * input, is that ReLU's output) from the gradient dy at the pool's output:
 * what layer_backward of the pool and then of the ReLU give, in one pass. */
void layer_backward_pool_relu(const struct layer *l, struct shape in, int batch,
                              const float *x, const float *dy, float *dx);

#endif
