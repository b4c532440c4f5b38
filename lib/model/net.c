#include "model/net.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "layers/conv.h"
#include "model/layer.h"

enum an_status net_init(struct net *net, const struct arch *a,
                        struct an_error *err)
{
        memset(net, 0, sizeof *net);
        enum an_status st = arch_copy(&net->arch, a, err);
        if (st != AN_OK)
                return st;
        int n = a->n_layers;
        net->shapes = calloc(n + 1, sizeof *net->shapes);
        net->weights = calloc(n, sizeof *net->weights);
        net->biases = calloc(n, sizeof *net->biases);
        net->packed = calloc(n, sizeof *net->packed);
        net->winograd = calloc(n, sizeof *net->winograd);
        if (!net->shapes || !net->weights || !net->biases || !net->packed ||
            !net->winograd) {
                net_free(net);
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        }
        st = arch_shapes(&net->arch, net->shapes, err);
        if (st != AN_OK)
                net_free(net);
        return st;
}

/* Weight matrices of a layer as the GEMM sees them: one per group of a
 * conv layer (out/groups x in_c/groups*kh*kw), one for a linear layer. */
static int weight_groups(const struct layer *l)
{
        return l->type == LAYER_CONV ? l->groups : 1;
}

static size_t weight_columns(const struct layer *l, struct shape in)
{
        if (l->type == LAYER_CONV)
                return (size_t)(in.c / l->groups) * l->win.kernel_h *
                       l->win.kernel_w;
        return shape_count(in);
}

/* Drops layer i's packed weights. */
static void unpack_layer(struct net *net, int i)
{
        int groups = weight_groups(&net->arch.layers[i]);
        if (net->packed && net->packed[i]) {
                for (int g = 0; g < groups; g++)
                        packed_matrix_free(&net->packed[i][g]);
                free(net->packed[i]);
                net->packed[i] = NULL;
        }
        if (net->winograd && net->winograd[i]) {
                for (int g = 0; g < groups; g++)
                        winograd_weights_free(&net->winograd[i][g]);
                free(net->winograd[i]);
                net->winograd[i] = NULL;
        }
}

void net_free(struct net *net)
{
        for (int i = 0; net->packed && net->winograd && i < net->arch.n_layers;
             i++)
                unpack_layer(net, i);
        free(net->packed);
        free(net->winograd);
        arch_free(&net->arch);
        free(net->shapes);
        free(net->weights);
        free(net->biases);
        free(net->activations[0]);
        free(net->activations[1]);
        free(net->workspace);
        memset(net, 0, sizeof *net);
}

void net_set_params(struct net *net, int layer, const float *weight,
                    const float *bias)
{
        net->weights[layer] = weight;
        net->biases[layer] = bias;
        unpack_layer(net, layer);
}

/* In bf16, every layer takes the AVX512_BF16 dot product where the CPU
 * has it.  Elsewhere fully connected weights are stored as bfloat16 and
 * widened (at small batches reading them bounds those layers) and
 * convolutions, bound by arithmetic, stay FP32, since widening bfloat16
 * for them only costs time. */
static enum gemm_precision conv_or_linear_precision(const struct net *net,
                                                    const struct layer *l)
{
        if (net->precision == GEMM_FP32)
                return GEMM_FP32;
        if (sgemm_bf16_dot())
                return GEMM_BF16_PAIRS;
        return l->type == LAYER_LINEAR ? GEMM_BF16 : GEMM_FP32;
}

/* Whether layer i is a convolution that takes Winograd's path (its
 * weights are then transformed rather than packed). */
static bool by_winograd(const struct net *net, int i)
{
        const struct layer *l = &net->arch.layers[i];
        if (l->type != LAYER_CONV ||
            conv_or_linear_precision(net, l) == GEMM_BF16_PAIRS)
                return false;
        struct conv_params p = {net->shapes[i].c, l->out, l->groups, l->win};
        return conv_uses_winograd(&p, net->shapes[i], NULL);
}

/* Layer i's weights transformed for Winograd's path, per group. */
static enum an_status transform_layer(struct net *net, int i)
{
        const struct layer *l = &net->arch.layers[i];
        struct conv_params p = {net->shapes[i].c, l->out, l->groups, l->win};
        net->winograd[i] = calloc(l->groups, sizeof *net->winograd[i]);
        if (!net->winograd[i])
                return AN_E_NOMEM;
        return conv_winograd_weights(&p, net->shapes[i], net->weights[i],
                                     net->winograd[i]);
}

/* Packs layer i's weights: one M x K matrix per group (a linear layer has
 * one group of out x in; a conv layer's groups as conv_direct_weights
 * packs them). */
static enum an_status pack_matrices(struct net *net, int i)
{
        const struct layer *l = &net->arch.layers[i];
        int groups = weight_groups(l);
        net->packed[i] = calloc(groups, sizeof *net->packed[i]);
        if (!net->packed[i])
                return AN_E_NOMEM;
        enum gemm_precision precision = conv_or_linear_precision(net, l);
        if (l->type == LAYER_CONV) {
                struct conv_params p = {net->shapes[i].c, l->out, l->groups,
                                        l->win};
                return conv_direct_weights(&p, net->shapes[i], net->weights[i],
                                           precision, net->packed[i]);
        }
        size_t k = weight_columns(l, net->shapes[i]);
        return sgemm_pack(net->weights[i], (size_t)l->out, k, k, precision,
                          &net->packed[i][0]);
}

/* Prepares layer i's weights for the path it takes. */
static enum an_status pack_layer(struct net *net, int i, struct an_error *err)
{
        enum an_status st = by_winograd(net, i) ? transform_layer(net, i)
                                                : pack_matrices(net, i);
        if (st == AN_OK)
                return AN_OK;
        unpack_layer(net, i);
        return an_error_set(err, AN_E_NOMEM,
                            "out of memory packing the weights of layer %s",
                            net->arch.layers[i].name);
}

/* Whether layer i's weights are prepared (packed or transformed). */
static bool is_packed(const struct net *net, int i)
{
        return net->packed[i] || net->winograd[i];
}

/* Whether layer i, run on a batch, multiplies by packed weights. */
static bool wants_packed(const struct net *net, int i, int batch)
{
        enum layer_type t = net->arch.layers[i].type;
        if (!net->prepack || !net->weights[i] ||
            (t != LAYER_CONV && t != LAYER_LINEAR))
                return false;
        if (net->precision == GEMM_BF16 || batch > SGEMM_GEMV_MAX_N)
                return true;
        /* Small FP32 batches: conv weights from the second forward pass
         * on (a single image does not pay for packing weights it reads
         * once); fully connected ones not at all, since at these batches
         * they stream from memory as fast as stored. */
        return t == LAYER_CONV && net->forwards > 0;
}

static enum an_status pack_for_batch(struct net *net, int batch,
                                     struct an_error *err)
{
        for (int i = 0; i < net->arch.n_layers; i++)
                if (!is_packed(net, i) && wants_packed(net, i, batch)) {
                        enum an_status st = pack_layer(net, i, err);
                        if (st != AN_OK)
                                return st;
                }
        return AN_OK;
}

enum an_status net_prepack(struct net *net, enum gemm_precision precision,
                           struct an_error *err)
{
        if (precision != GEMM_FP32 && precision != GEMM_BF16)
                return an_error_set(err, AN_E_INVALID,
                                    "weights are prepacked as fp32 or bf16");
        for (int i = 0; i < net->arch.n_layers; i++)
                unpack_layer(net, i);
        net->prepack = true;
        net->precision = precision;
        return pack_for_batch(net, 1, err);
}

size_t net_outputs(const struct net *net)
{
        return shape_count(net->shapes[net->arch.n_layers]);
}

/* Scratch floats layer i needs for a batch (inference). */
static size_t layer_workspace(const struct net *net, int i, int batch)
{
        return layer_workspace_floats(&net->arch.layers[i], net->shapes[i],
                                      batch, false);
}

/* Floats of the largest activation of one sample and of the largest
 * layer workspace for a batch. */
static void arena_floats(const struct net *net, int batch, size_t *act,
                         size_t *work)
{
        *act = *work = 0;
        for (int i = 0; i <= net->arch.n_layers; i++) {
                size_t count = shape_count(net->shapes[i]);
                if (count > *act)
                        *act = count;
                if (i < net->arch.n_layers) {
                        size_t w = layer_workspace(net, i, batch);
                        if (w > *work)
                                *work = w;
                }
        }
}

/* Two activation buffers for the batch and one workspace, in bytes
 * (saturating: sizes are bounded by arch validation, batches are not). */
static size_t arena_bytes(size_t act, size_t work, int batch)
{
        double bytes = ((double)act * 2 * batch + (double)work) * sizeof(float);
        return bytes > (double)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)bytes;
}

size_t net_arena_bytes(const struct net *net, int batch)
{
        size_t act, work;
        arena_floats(net, batch, &act, &work);
        return arena_bytes(act, work, batch);
}

int net_max_batch(const struct net *net, int want)
{
        int batch = want;
        while (batch > 0 && net_arena_bytes(net, batch) > NET_ARENA_LIMIT)
                batch = batch > 8 ? batch / 2 : batch - 1;
        return batch;
}

enum an_status net_reserve(struct net *net, int batch, struct an_error *err)
{
        if (batch <= net->capacity)
                return AN_OK;
        size_t act, work;
        arena_floats(net, batch, &act, &work);
        size_t bytes = arena_bytes(act, work, batch);
        if (bytes > NET_ARENA_LIMIT)
                return an_error_set(err, AN_E_NOMEM,
                                    "a batch of %d would need %.1f GiB of "
                                    "activations, more than the %.0f GiB "
                                    "limit",
                                    batch, bytes / 1073741824.0,
                                    NET_ARENA_LIMIT / 1073741824.0);
        for (int b = 0; b < 2; b++) {
                free(net->activations[b]);
                net->activations[b] = malloc(act * batch * sizeof(float));
        }
        free(net->workspace);
        net->workspace = malloc((work ? work : 1) * sizeof(float));
        if (!net->activations[0] || !net->activations[1] || !net->workspace) {
                net->capacity = 0;
                return an_error_set(err, AN_E_NOMEM,
                                    "out of memory for a batch of %d", batch);
        }
        net->capacity = batch;
        return AN_OK;
}

/* Layer i from x into y with the net's parameters, packed where the batch
 * wants them. */
static enum an_status run_layer(const struct net *net, int i, int batch,
                                const float *x, float *y, bool relu)
{
        bool packed = wants_packed(net, i, batch);
        struct layer_params p = {net->weights[i], net->biases[i],
                                 packed ? net->packed[i] : NULL,
                                 packed ? net->winograd[i] : NULL};
        return layer_forward(&net->arch.layers[i], net->shapes[i], &p, batch, x,
                             y, relu, net->workspace, NULL);
}

static bool in_place(enum layer_type t)
{
        return t == LAYER_RELU || t == LAYER_DROPOUT || t == LAYER_SOFTMAX;
}

/* A conv or linear layer directly followed by a ReLU computes both in one
 * pass (the GEMM's epilogue). */
static bool relu_follows(const struct net *net, int i)
{
        enum layer_type t = net->arch.layers[i].type;
        return (t == LAYER_CONV || t == LAYER_LINEAR) &&
               i + 1 < net->arch.n_layers &&
               net->arch.layers[i + 1].type == LAYER_RELU;
}

enum an_status net_forward(struct net *net, const float *input, int batch,
                           const float **output, struct an_error *err)
{
        return net_forward_to(net, input, batch, net->arch.n_layers - 1, output,
                              err);
}

enum an_status net_forward_to(struct net *net, const float *input, int batch,
                              int last, const float **output,
                              struct an_error *err)
{
        if (last < 0 || last >= net->arch.n_layers)
                return an_error_set(err, AN_E_INVALID, "no layer %d", last);
        if (batch < 1)
                return an_error_set(err, AN_E_INVALID,
                                    "batch size must be at least 1");
        enum an_status st = net_reserve(net, batch, err);
        if (st != AN_OK)
                return st;
        for (int i = 0; i < net->arch.n_layers; i++)
                if (layer_param_count(&net->arch.layers[i], net->shapes[i]) &&
                    !net->weights[i])
                        return an_error_set(err, AN_E_INVALID,
                                            "layer %s has no weights",
                                            net->arch.layers[i].name);
        st = pack_for_batch(net, batch, err);
        if (st != AN_OK)
                return st;
        net->forwards++;
        const float *x = input;
        int next = 0; /* the ping-pong buffer the next output goes to */
        for (int i = 0; i <= last; i++) {
                enum layer_type t = net->arch.layers[i].type;
                float *y = in_place(t) && x != input ? (float *)x
                                                     : net->activations[next];
                bool fused = i < last && relu_follows(net, i);
                double start = net->profile ? omp_get_wtime() : 0;
                st = run_layer(net, i, batch, x, y, fused);
                if (net->profile)
                        net->profile[i] += omp_get_wtime() - start;
                if (st != AN_OK)
                        return an_error_set(err, st, "layer %s: %s",
                                            net->arch.layers[i].name,
                                            an_status_string(st));
                i += fused;
                if (y != x)
                        next ^= 1;
                x = y;
        }
        *output = x;
        return AN_OK;
}
