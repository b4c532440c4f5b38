/* A network ready to run: an architecture, its inferred shapes, pointers to
 * its parameters, and one activation arena sized once per batch size.
 *
 *     struct net net;
 *     net_init(&net, &arch, &err);          // validates, infers shapes
 *     net_set_params(&net, layer, w, b);    // for each conv/linear layer
 *     net_forward(&net, input, batch, &out, &err);
 *     net_free(&net);
 *
 * The net does not own parameter memory (a model file maps it); it owns the
 * arena, which grows only when a larger batch than before is run, so a run
 * over many equal batches allocates once. */
#ifndef ALEXNET_NET_H
#define ALEXNET_NET_H

#include <stdbool.h>

#include "model/arch.h"
#include "base/errors.h"
#include "gemm/gemm.h"
#include "gemm/winograd.h"

struct net {
        struct arch arch;
        struct shape *shapes;  /* [n_layers + 1]: input, then each output */
        const float **weights; /* [n_layers], NULL for layers without */
        const float **biases;
        int capacity;          /* batch size the arena holds */
        float *activations[2]; /* ping-pong buffers */
        float *workspace;      /* scratch of the linear layers */
        /* Set by net_prepack: per layer, one packed weight matrix per
         * group, used instead of weights[] (NULL until packed). */
        struct packed_matrix **packed;
        /* The same for conv layers that take Winograd's path: their
         * weights transformed, per group, instead of packed. */
        struct winograd_weights **winograd;
        bool prepack;
        enum gemm_precision precision;
        unsigned long forwards; /* net_forward calls so far */
        /* When not NULL, net_forward adds each layer's wall time in seconds
         * to profile[layer] (a ReLU fused into the layer before it counts
         * there).  For benchmarks. */
        double *profile;
};

enum an_status net_init(struct net *net, const struct arch *a,
                        struct an_error *err);
void net_free(struct net *net);

void net_set_params(struct net *net, int layer, const float *weight,
                    const float *bias);

/* From now on net_forward multiplies by weights packed once for the GEMM
 * micro-kernel, in `precision`: GEMM_FP32 (the same results, no packing
 * per call) or GEMM_BF16.  In BF16 the weights are rounded to bfloat16.
 * Where sgemm_bf16_dot() says the CPU has AVX512_BF16, every conv and
 * fully connected layer takes its dot product: the layer's input is
 * rounded to bfloat16 too and sums stay float32 (twice the FMA's
 * multiply-adds per instruction; at batches up to SGEMM_GEMV_MAX_N the
 * fully connected layers multiply the same bfloat16 values in FP32 FMAs,
 * bound by reading their weights, half the bytes).  Elsewhere fully
 * connected weights are widened as they are used and conv layers stay
 * FP32 (widening bfloat16 for them would only cost time).
 * GEMM_BF16_PAIRS is not a valid argument.  In BF16 every layer is packed
 * now.  In FP32 a layer is packed when a batch of more than
 * SGEMM_GEMV_MAX_N first runs, and conv layers also from the second
 * forward pass on, so that classifying one image does not pay for packing
 * weights it reads once (packing costs more than the product it
 * serves); at small batches fully connected weights stream as stored,
 * as fast as packed.  FP32 results do not depend on whether a layer was
 * packed yet.  The weights must not change afterwards except through
 * net_set_params.  For inference; the trainer does not use it. */
enum an_status net_prepack(struct net *net, enum gemm_precision precision,
                           struct an_error *err);

/* The most memory an arena may take (activations and workspace): a model
 * file, not the user, decides how much one image needs, so a hostile or
 * absurd one must not be able to take the machine's memory. */
#define NET_ARENA_LIMIT ((size_t)2 << 30)

/* Bytes the arena needs for a batch of `batch`. */
size_t net_arena_bytes(const struct net *net, int batch);

/* The largest batch <= want whose arena fits NET_ARENA_LIMIT; 0 when not
 * even one image fits. */
int net_max_batch(const struct net *net, int want);

/* Sizes the arena for batches up to `batch` (net_forward calls it too);
 * refuses (AN_E_NOMEM) an arena above NET_ARENA_LIMIT. */
enum an_status net_reserve(struct net *net, int batch, struct an_error *err);

/* Runs input[batch][C][H][W] through every layer (dropout is the identity:
 * this is inference).  *output points at [batch][net_outputs()] floats in
 * the arena, valid until the next call.  Every parameterised layer must have
 * its parameters set. */
enum an_status net_forward(struct net *net, const float *input, int batch,
                           const float **output, struct an_error *err);

/* As net_forward, but stops after layer `last` (0-based): *output holds
 * that layer's output, [batch][shapes[last + 1]] floats (a layer's own
 * output: a ReLU that follows it is not applied).  For features. */
enum an_status net_forward_to(struct net *net, const float *input, int batch,
                              int last, const float **output,
                              struct an_error *err);

/* Values per sample of the last layer's output. */
size_t net_outputs(const struct net *net);

#endif
