#include "train.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "backward.h"
#include "conv.h"
#include "linear.h"
#include "lrn.h"
#include "pool.h"
#include "rng.h"

static struct conv_params conv_of(const struct layer *l, struct shape in)
{
        return (struct conv_params){in.c, l->out, l->groups, l->win};
}

/* Scratch floats layer i needs, forward or backward. */
static size_t layer_scratch(const struct net *net, int i, int batch)
{
        const struct layer *l = &net->arch.layers[i];
        struct shape in = net->shapes[i];
        struct conv_params p;
        switch (l->type) {
        case LAYER_CONV:
                p = conv_of(l, in);
                return conv_backward_workspace_floats(&p, in, batch);
        case LAYER_LINEAR:
                return linear_workspace_floats((int)shape_count(in), l->out,
                                               batch);
        case LAYER_LRN: return shape_count(in) * batch;
        default: return 0;
        }
}

void trainer_free(struct trainer *t)
{
        int n = t->model ? t->model->net.arch.n_layers : 0;
        for (int i = 1; t->acts && i <= n; i++)
                free(t->acts[i]);
        for (int i = 0; t->masks && i < n; i++)
                free(t->masks[i]);
        free(t->acts);
        free(t->masks);
        free(t->grads[0]);
        free(t->grads[1]);
        free(t->param_grads);
        free(t->velocity);
        free(t->workspace);
        memset(t, 0, sizeof *t);
}

enum an_status trainer_init(struct trainer *t, struct model *m, int capacity,
                            struct an_error *err)
{
        memset(t, 0, sizeof *t);
        struct net *net = &m->net;
        int n = net->arch.n_layers;
        if (!m->owned_params)
                return an_error_set(err, AN_E_INVALID,
                                    "training needs a model whose parameters "
                                    "it owns");
        t->model = m;
        t->capacity = capacity;
        t->n_params = model_param_count(m);
        t->loss_layer =
                net->arch.layers[n - 1].type == LAYER_SOFTMAX ? n - 1 : n;
        for (int i = 0; i < t->loss_layer; i++)
                if (net->arch.layers[i].type == LAYER_SOFTMAX)
                        return an_error_set(err, AN_E_UNSUPPORTED,
                                            "softmax inside the network (layer "
                                            "%s) cannot be trained",
                                            net->arch.layers[i].name);
        t->acts = calloc(n + 1, sizeof *t->acts);
        t->masks = calloc(n, sizeof *t->masks);
        size_t largest = 0, scratch = 1;
        bool ok = t->acts && t->masks;
        for (int i = 0; ok && i < n; i++) {
                size_t count = shape_count(net->shapes[i + 1]) * capacity;
                size_t in = shape_count(net->shapes[i]) * capacity;
                largest = count > largest ? count : largest;
                largest = in > largest ? in : largest;
                size_t s = layer_scratch(net, i, capacity);
                scratch = s > scratch ? s : scratch;
                ok = (t->acts[i + 1] = malloc(count * sizeof(float))) != NULL;
                if (ok && net->arch.layers[i].type == LAYER_DROPOUT)
                        ok = (t->masks[i] = malloc(count * sizeof(float))) !=
                             NULL;
        }
        if (ok) {
                t->grads[0] = malloc(largest * sizeof(float));
                t->grads[1] = malloc(largest * sizeof(float));
                t->param_grads = calloc(t->n_params + 1, sizeof(float));
                t->velocity = calloc(t->n_params + 1, sizeof(float));
                t->workspace = malloc(scratch * sizeof(float));
                ok = t->grads[0] && t->grads[1] && t->param_grads &&
                     t->velocity && t->workspace;
        }
        if (!ok) {
                trainer_free(t);
                return an_error_set(err, AN_E_NOMEM,
                                    "out of memory for training at batch %d",
                                    capacity);
        }
        return AN_OK;
}

static void dropout_forward(const struct layer *l, int layer, size_t count,
                            const float *x, float *y, float *mask,
                            uint64_t seed, uint64_t step)
{
        float keep = (float)(1.0 / (1.0 - l->drop_p));
        uint64_t stream = step * 1024 + (uint64_t)layer;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < count; i++) {
                mask[i] =
                        rng_uniform(seed, stream, i) < l->drop_p ? 0.0f : keep;
                y[i] = x[i] * mask[i];
        }
}

/* Layer i forward from acts[i] to acts[i+1], all outputs kept (no ReLU
 * fused: backward needs each layer's own output); dropout draws its mask
 * when training. */
static enum an_status forward_layer(struct trainer *t, int i, int batch,
                                    bool train, const struct train_config *cfg)
{
        struct net *net = &t->model->net;
        const struct layer *l = &net->arch.layers[i];
        if (l->type == LAYER_DROPOUT && train && cfg->dropout &&
            l->drop_p > 0) {
                dropout_forward(l, i, shape_count(net->shapes[i]) * batch,
                                t->acts[i], t->acts[i + 1], t->masks[i],
                                cfg->seed, t->step);
                return AN_OK;
        }
        return net_layer_forward(net, i, batch, t->acts[i], t->acts[i + 1],
                                 false, t->workspace);
}

static enum an_status forward_all(struct trainer *t, const float *x, int batch,
                                  bool train, const struct train_config *cfg,
                                  struct an_error *err)
{
        if (batch < 1 || batch > t->capacity)
                return an_error_set(err, AN_E_INVALID,
                                    "batch of %d outside 1..%d", batch,
                                    t->capacity);
        t->acts[0] = (float *)x; /* read only */
        for (int i = 0; i < t->loss_layer; i++) {
                double start = t->profile ? omp_get_wtime() : 0;
                enum an_status st = forward_layer(t, i, batch, train, cfg);
                if (t->profile)
                        t->profile[i] += omp_get_wtime() - start;
                if (st != AN_OK)
                        return an_error_set(err, st, "layer %s: %s",
                                            t->model->net.arch.layers[i].name,
                                            an_status_string(st));
        }
        return AN_OK;
}

/* Offset of a parameter pointer in the model's parameter block. */
static size_t offset_of(const struct trainer *t, const float *p)
{
        return (size_t)(p - t->model->owned_params);
}

/* Layer i backward: dy is the gradient at its output; dx (may be NULL)
 * gets the gradient at its input. */
static enum an_status backward_layer(struct trainer *t, int i, int batch,
                                     const struct train_config *cfg,
                                     const float *dy, float *dx)
{
        struct net *net = &t->model->net;
        const struct layer *l = &net->arch.layers[i];
        struct shape in = net->shapes[i];
        const float *x = t->acts[i];
        size_t count = shape_count(in) * batch;
        float *dw = NULL, *db = NULL;
        if (net->weights[i]) {
                dw = t->param_grads + offset_of(t, net->weights[i]);
                db = net->biases[i]
                             ? t->param_grads + offset_of(t, net->biases[i])
                             : NULL;
        }
        struct conv_params p;
        switch (l->type) {
        case LAYER_CONV:
                p = conv_of(l, in);
                return conv_backward(&p, batch, in, x, net->weights[i], dy, dx,
                                     dw, db, t->workspace);
        case LAYER_LINEAR:
                return linear_backward((int)shape_count(in), l->out, batch, x,
                                       net->weights[i], dy, dx, dw, db);
        default: break;
        }
        if (!dx)
                return AN_OK;
        switch (l->type) {
        case LAYER_RELU: relu_backward(count, t->acts[i + 1], dy, dx); break;
        case LAYER_MAXPOOL:
                maxpool_backward(&l->win, batch, in, x, dy, dx);
                break;
        case LAYER_LRN:
                lrn_backward(&l->lrn, batch, in, x, dy, dx, t->workspace);
                break;
        case LAYER_ADAPTIVE_AVGPOOL:
                adaptive_avgpool_backward(l->out_h, l->out_w, batch, in, dy,
                                          dx);
                break;
        case LAYER_DROPOUT:
                if (cfg->dropout && l->drop_p > 0) {
                        const float *mask = t->masks[i];
#pragma omp parallel for schedule(static)
                        for (size_t j = 0; j < count; j++)
                                dx[j] = dy[j] * mask[j];
                } else {
                        memcpy(dx, dy, count * sizeof *dx);
                }
                break;
        default: break;
        }
        return AN_OK;
}

/* The paper's update for the parameters of layers not frozen. */
static void sgd_update(struct trainer *t, const struct train_config *cfg,
                       double lr)
{
        struct net *net = &t->model->net;
        float mu = (float)cfg->momentum,
              decay = (float)(cfg->weight_decay * lr);
        float rate = (float)lr;
        size_t start = t->n_params;
        for (int i = cfg->frozen_layers; i < net->arch.n_layers; i++)
                if (net->weights[i]) {
                        start = offset_of(t, net->weights[i]);
                        break;
                }
        float *w = t->model->owned_params, *v = t->velocity;
        const float *g = t->param_grads;
#pragma omp parallel for schedule(static)
        for (size_t j = start; j < t->n_params; j++) {
                v[j] = mu * v[j] - decay * w[j] - rate * g[j];
                w[j] += v[j];
        }
}

enum an_status trainer_step(struct trainer *t, const struct train_config *cfg,
                            const float *x, const int *labels, int batch,
                            double lr, struct step_stats *stats,
                            struct an_error *err)
{
        enum an_status st = forward_all(t, x, batch, true, cfg, err);
        if (st != AN_OK)
                return st;
        int classes = (int)shape_count(t->model->net.shapes[t->loss_layer]);
        float *g = t->grads[0], *other = t->grads[1];
        stats->loss =
                softmax_cross_entropy(batch, classes, t->acts[t->loss_layer],
                                      labels, g, &stats->correct);
        for (int i = t->loss_layer - 1; i >= cfg->frozen_layers; i--) {
                float *dx = i > cfg->frozen_layers ? other : NULL;
                double start = t->profile ? omp_get_wtime() : 0;
                st = backward_layer(t, i, batch, cfg, g, dx);
                if (t->profile)
                        t->profile[t->model->net.arch.n_layers + i] +=
                                omp_get_wtime() - start;
                if (st != AN_OK)
                        return an_error_set(err, st, "layer %s: %s",
                                            t->model->net.arch.layers[i].name,
                                            an_status_string(st));
                if (dx) {
                        other = g;
                        g = dx;
                }
        }
        sgd_update(t, cfg, lr);
        t->step++;
        return AN_OK;
}

enum an_status trainer_evaluate(struct trainer *t, const float *x,
                                const int *labels, int batch, float *probs,
                                struct step_stats *stats, struct an_error *err)
{
        struct train_config none = {0};
        enum an_status st = forward_all(t, x, batch, false, &none, err);
        if (st != AN_OK)
                return st;
        int classes = (int)shape_count(t->model->net.shapes[t->loss_layer]);
        stats->loss =
                softmax_cross_entropy(batch, classes, t->acts[t->loss_layer],
                                      labels, t->grads[0], &stats->correct);
        if (probs)
                softmax_forward(batch, classes, t->acts[t->loss_layer], probs);
        return AN_OK;
}

void init_weights(struct model *m, enum init_mode mode, uint64_t seed,
                  int first_layer)
{
        struct net *net = &m->net;
        int conv_index = 0, last_linear = -1;
        for (int i = 0; i < net->arch.n_layers; i++)
                if (net->arch.layers[i].type == LAYER_LINEAR)
                        last_linear = i;
        for (int i = 0; i < net->arch.n_layers; i++) {
                const struct layer *l = &net->arch.layers[i];
                if (l->type == LAYER_CONV)
                        conv_index++;
                if (i < first_layer || !net->weights[i])
                        continue;
                int64_t dims[2][4];
                int ranks[2];
                layer_param_tensors(l, net->shapes[i], dims, ranks);
                size_t count = 1, fan_in = 1;
                for (int d = 0; d < ranks[0]; d++)
                        count *= (size_t)dims[0][d];
                fan_in = count / (size_t)dims[0][0];
                float sigma = mode == INIT_PAPER
                                      ? 0.01f
                                      : (float)sqrt(2.0 / (double)fan_in);
                float *w = (float *)net->weights[i];
                for (size_t j = 0; j < count; j++)
                        w[j] = sigma * rng_normal(seed, (uint64_t)i, j);
                if (!net->biases[i])
                        continue;
                bool one = mode == INIT_PAPER &&
                           ((l->type == LAYER_CONV &&
                             (conv_index == 2 || conv_index == 4 ||
                              conv_index == 5)) ||
                            (l->type == LAYER_LINEAR && i != last_linear));
                float *b = (float *)net->biases[i];
                for (int j = 0; j < l->out; j++)
                        b[j] = one ? 1.0f : 0.0f;
        }
}
