#include "train/trainer.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "layers/activation.h"
#include "model/layer.h"

/* Scratch floats layer i needs, forward or backward. */
static size_t layer_scratch(const struct net *net, int i, int batch)
{
        return layer_workspace_floats(&net->arch.layers[i], net->shapes[i],
                                      batch, true);
}

/* Floats trainer_init allocates for `capacity` images, besides the three
 * parameter-sized arrays. */
struct batch_floats {
        size_t activations, masks, largest, scratch;
};

static struct batch_floats batch_floats(const struct net *net, int capacity)
{
        struct batch_floats f = {0, 0, 0, 1};
        for (int i = 0; i < net->arch.n_layers; i++) {
                size_t out = shape_count(net->shapes[i + 1]) * capacity;
                size_t in = shape_count(net->shapes[i]) * capacity;
                size_t s = layer_scratch(net, i, capacity);
                f.activations += out;
                if (net->arch.layers[i].type == LAYER_DROPOUT)
                        f.masks += out;
                f.largest = out > f.largest ? out : f.largest;
                f.largest = in > f.largest ? in : f.largest;
                f.scratch = s > f.scratch ? s : f.scratch;
        }
        return f;
}

size_t trainer_bytes(const struct net *net, uint64_t n_params, int batch)
{
        struct batch_floats f = batch_floats(net, batch);
        return (f.activations + f.masks + 2 * f.largest + f.scratch +
                3 * (size_t)n_params) *
               sizeof(float);
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
        struct batch_floats f = batch_floats(net, capacity);
        size_t largest = f.largest, scratch = f.scratch;
        bool ok = t->acts && t->masks;
        for (int i = 0; ok && i < n; i++) {
                size_t count = shape_count(net->shapes[i + 1]) * capacity;
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

/* Layer i's dropout draw: training with dropout on draws a mask keyed by
 * (seed, step, layer, sample id); otherwise NULL, the identity. */
static struct dropout_draw dropout_draw_of(const struct trainer *t, int i,
                                           bool train, const size_t *ids,
                                           const struct train_config *cfg)
{
        struct dropout_draw d = {NULL, 0, 0, NULL};
        if (train && cfg->dropout && t->masks[i])
                d = (struct dropout_draw){t->masks[i], cfg->seed,
                                          t->step * 1024 + (uint64_t)i, ids};
        return d;
}

/* Layer i forward from acts[i] to acts[i+1], all outputs kept (no ReLU
 * fused: backward needs each layer's own output). */
static enum an_status forward_layer(struct trainer *t, int i, int batch,
                                    bool train, const size_t *ids,
                                    const struct train_config *cfg)
{
        struct net *net = &t->model->net;
        struct layer_params p = {net->weights[i], net->biases[i], NULL, NULL};
        struct dropout_draw d = dropout_draw_of(t, i, train, ids, cfg);
        return layer_forward(&net->arch.layers[i], net->shapes[i], &p, batch,
                             t->acts[i], t->acts[i + 1], false, t->workspace,
                             &d);
}

static enum an_status forward_all(struct trainer *t, const float *x, int batch,
                                  bool train, const size_t *ids,
                                  const struct train_config *cfg,
                                  struct an_error *err)
{
        if (batch < 1 || batch > t->capacity)
                return an_error_set(err, AN_E_INVALID,
                                    "batch of %d outside 1..%d", batch,
                                    t->capacity);
        t->acts[0] = (float *)x; /* read only */
        for (int i = 0; i < t->loss_layer; i++) {
                double start = t->profile ? omp_get_wtime() : 0;
                enum an_status st = forward_layer(t, i, batch, train, ids, cfg);
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
                                     const size_t *ids,
                                     const struct train_config *cfg,
                                     const float *dy, float *dx)
{
        struct net *net = &t->model->net;
        float *dw = NULL, *db = NULL;
        if (net->weights[i]) {
                dw = t->param_grads + offset_of(t, net->weights[i]);
                db = net->biases[i]
                             ? t->param_grads + offset_of(t, net->biases[i])
                             : NULL;
        }
        struct dropout_draw d = dropout_draw_of(t, i, true, ids, cfg);
        return layer_backward(&net->arch.layers[i], net->shapes[i],
                              net->weights[i], batch, t->acts[i],
                              t->acts[i + 1], dy, dx, dw, db, t->workspace, &d);
}

/* Layer i's parameters (weight, then bias) in the parameter block. */
static size_t layer_params_at(const struct trainer *t, int i, size_t *count)
{
        const struct net *net = &t->model->net;
        *count = net->weights[i] ? layer_param_count(&net->arch.layers[i],
                                                     net->shapes[i])
                                 : 0;
        return net->weights[i] ? offset_of(t, net->weights[i]) : 0;
}

/* The paper's update of n parameters at rate lr. */
static void sgd_update(float *w, float *v, const float *g, size_t n,
                       const struct train_config *cfg, double lr)
{
        float mu = (float)cfg->momentum,
              decay = (float)(cfg->weight_decay * lr);
        float rate = (float)lr;
#pragma omp parallel for schedule(static)
        for (size_t j = 0; j < n; j++) {
                v[j] = mu * v[j] - decay * w[j] - rate * g[j];
                w[j] += v[j];
        }
}

static double norm(const float *x, size_t n)
{
        double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
        for (size_t j = 0; j < n; j++)
                sum += (double)x[j] * x[j];
        return sqrt(sum);
}

/* LARS's update of one tensor: its rate scaled by its trust ratio (1
 * when the weights or the gradient are all zero). */
static void lars_update(float *w, float *v, const float *g, size_t n,
                        const struct train_config *cfg, double lr)
{
        double wn = norm(w, n), gn = norm(g, n);
        double trust = wn > 0 && gn > 0 ? cfg->lars_eta * wn /
                                                  (gn + cfg->weight_decay * wn)
                                        : 1.0;
        float mu = (float)cfg->momentum, rate = (float)(lr * trust),
              decay = (float)cfg->weight_decay;
#pragma omp parallel for schedule(static)
        for (size_t j = 0; j < n; j++) {
                v[j] = mu * v[j] - rate * (g[j] + decay * w[j]);
                w[j] += v[j];
        }
}

/* The update of the layers not frozen: SGD over the whole block at once,
 * LARS tensor by tensor. */
static void update_weights(struct trainer *t, const struct train_config *cfg,
                           double lr)
{
        struct net *net = &t->model->net;
        float *w = t->model->owned_params, *v = t->velocity,
              *g = t->param_grads;
        for (int i = cfg->frozen_layers; i < net->arch.n_layers; i++) {
                size_t n, at = layer_params_at(t, i, &n);
                if (!n)
                        continue;
                if (cfg->optimizer == OPTIMIZER_SGD) {
                        sgd_update(w + at, v + at, g + at, t->n_params - at,
                                   cfg, lr);
                        return;
                }
                size_t nw =
                        net->biases[i] ? offset_of(t, net->biases[i]) - at : n;
                lars_update(w + at, v + at, g + at, nw, cfg, lr);
                if (nw < n)
                        lars_update(w + at + nw, v + at + nw, g + at + nw,
                                    n - nw, cfg, lr);
        }
}

/* Hands layer i's fresh gradients to the reducer (distributed runs). */
static void post_gradients(struct trainer *t, int i)
{
        size_t n, at = layer_params_at(t, i, &n);
        if (t->reducer && n)
                grad_reducer_post(t->reducer, t->param_grads + at, n);
}

/* The loss, its gradient at the logits as the mean over the global batch,
 * and backward from the top down to the first layer trained, each layer's
 * gradients posted as they come. */
static enum an_status backward_all(struct trainer *t,
                                   const struct train_config *cfg,
                                   const struct train_batch *b,
                                   struct step_stats *stats,
                                   struct an_error *err)
{
        int classes = (int)shape_count(t->model->net.shapes[t->loss_layer]);
        float *g = t->grads[0], *other = t->grads[1];
        stats->loss =
                softmax_cross_entropy(b->count, classes, t->acts[t->loss_layer],
                                      b->labels, g, &stats->correct);
        stats->correct5 = top_k_hits(b->count, classes, t->acts[t->loss_layer],
                                     b->labels, 5);
        if (b->total != b->count) {
                float share = (float)b->count / (float)b->total;
                for (size_t j = 0; j < (size_t)b->count * classes; j++)
                        g[j] *= share;
        }
        const struct layer *layers = t->model->net.arch.layers;
        for (int i = t->loss_layer - 1; i >= cfg->frozen_layers; i--) {
                /* a max pool over a ReLU: both gradients in one pass */
                bool with_relu = i - 1 > cfg->frozen_layers &&
                                 layer_pools_relu(&layers[i], &layers[i - 1]);
                float *dx = i > cfg->frozen_layers ? other : NULL;
                if (dx && !with_relu && layer_backward_in_place(&layers[i]))
                        dx = g;
                double start = t->profile ? omp_get_wtime() : 0;
                enum an_status st = AN_OK;
                if (with_relu)
                        layer_backward_pool_relu(&layers[i],
                                                 t->model->net.shapes[i],
                                                 b->count, t->acts[i], g, dx);
                else
                        st = backward_layer(t, i, b->count, b->ids, cfg, g, dx);
                if (t->profile)
                        t->profile[t->model->net.arch.n_layers + i] +=
                                omp_get_wtime() - start;
                if (st != AN_OK)
                        return an_error_set(err, st, "layer %s: %s",
                                            layers[i].name,
                                            an_status_string(st));
                post_gradients(t, i);
                if (with_relu)
                        i--; /* the ReLU's gradient is taken too */
                if (dx && dx != g) {
                        other = g;
                        g = dx;
                }
        }
        return AN_OK;
}

/* A process with no sample in this step still takes part: its share of
 * the gradient is zero. */
static void post_zero_gradients(struct trainer *t,
                                const struct train_config *cfg,
                                struct step_stats *stats)
{
        *stats = (struct step_stats){0};
        for (int i = t->loss_layer - 1; i >= cfg->frozen_layers; i--) {
                size_t n, at = layer_params_at(t, i, &n);
                memset(t->param_grads + at, 0, n * sizeof *t->param_grads);
                post_gradients(t, i);
        }
}

enum an_status trainer_step(struct trainer *t, const struct train_config *cfg,
                            const struct train_batch *b, double lr,
                            struct step_stats *stats, struct an_error *err)
{
        if (b->total < 1 || b->count > b->total ||
            (b->count == 0 && !t->reducer))
                return an_error_set(err, AN_E_INVALID,
                                    "batch of %d samples of %d", b->count,
                                    b->total);
        enum an_status st = AN_OK;
        if (b->count) {
                st = forward_all(t, b->x, b->count, true, b->ids, cfg, err);
                if (st == AN_OK)
                        st = backward_all(t, cfg, b, stats, err);
        } else {
                post_zero_gradients(t, cfg, stats);
        }
        /* Every process waits for what it posted, even after a failure,
         * so that none is left inside a collective. */
        enum an_status sum =
                t->reducer ? grad_reducer_wait(t->reducer,
                                               st == AN_OK ? err : NULL)
                           : AN_OK;
        if (st != AN_OK)
                return st;
        if (sum != AN_OK)
                return sum;
        update_weights(t, cfg, lr);
        t->step++;
        return AN_OK;
}

enum an_status trainer_evaluate(struct trainer *t, const float *x,
                                const int *labels, int batch, float *probs,
                                struct step_stats *stats, struct an_error *err)
{
        struct train_config none = {0};
        enum an_status st = forward_all(t, x, batch, false, NULL, &none, err);
        if (st != AN_OK)
                return st;
        int classes = (int)shape_count(t->model->net.shapes[t->loss_layer]);
        stats->loss =
                softmax_cross_entropy(batch, classes, t->acts[t->loss_layer],
                                      labels, t->grads[0], &stats->correct);
        stats->correct5 =
                top_k_hits(batch, classes, t->acts[t->loss_layer], labels, 5);
        if (probs)
                softmax_forward(batch, classes, t->acts[t->loss_layer], probs);
        return AN_OK;
}
