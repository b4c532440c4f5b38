/* One SGD step of a network: forward with every activation kept, softmax
 * cross-entropy, backward through every layer, and the update of
 * Krizhevsky et al. (2012, section 5):
 *
 *     v <- momentum * v - weight_decay * lr * w - lr * dL/dw
 *     w <- w + v
 *
 * (with a constant learning rate this equals PyTorch's SGD with momentum
 * and weight decay), or LARS (You et al. 2017): the same with each
 * tensor's rate multiplied by its trust ratio
 *
 *     eta * |w| / (|dL/dw| + weight_decay * |w|)
 *
 * and the decay applied through it.  Dropout masks come from a
 * counter-based generator keyed by (seed, step, layer, sample id), so a
 * step is a pure function of the weights, the batch, the step number and
 * the seed: resuming from a checkpoint reproduces an uninterrupted run bit
 * for bit.
 *
 * In a distributed run (t->reducer set) each process steps on its part of
 * the global batch: the gradient is the mean over the global batch, each
 * layer's is summed across the processes as soon as backward has made it,
 * and every process applies the same update.
 *
 *     struct trainer t;
 *     trainer_init(&t, &model, batch, &err);   // model params must be owned
 *     struct train_batch b = {x, labels, NULL, n, n};
 *     trainer_step(&t, &cfg, &b, lr, &stats, &err);
 *     trainer_free(&t);
 *
 * The trainer allocates everything in trainer_init; a step allocates
 * nothing. */
#ifndef ALEXNET_TRAINER_H
#define ALEXNET_TRAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/errors.h"
#include "model/model.h"
#include "train/reducer.h"

enum optimizer { OPTIMIZER_SGD, OPTIMIZER_LARS };

struct train_config {
        double momentum;     /* 0.9 in the paper */
        double weight_decay; /* 5e-4 */
        bool dropout;        /* apply the dropout layers */
        uint64_t seed;
        int frozen_layers; /* layers [0, frozen_layers) are not updated */
        enum optimizer optimizer;
        double lars_eta; /* LARS's trust coefficient */
};

/* This process's part of a step's batch. */
struct train_batch {
        const float *x;
        const int *labels;
        const size_t *ids; /* each sample's id, keying dropout (NULL: its
                            * place in the batch) */
        int count;         /* samples here: 0 is allowed */
        int total;         /* samples over every process (the gradient is
                            * the mean over them) */
};

struct step_stats {
        double loss;
        int correct;  /* top-1 hits in the batch */
        int correct5; /* top-5 hits */
};

struct trainer {
        struct model *model;
        int capacity;
        float **acts;       /* [n_layers + 1]: input, then each output */
        float **masks;      /* dropout scales per layer, or NULL */
        float *grads[2];    /* activation gradients, ping-pong */
        float *param_grads; /* same layout as model->owned_params */
        float *velocity;
        float *workspace;
        size_t n_params;
        uint64_t step;                /* steps taken, keys the dropout masks */
        struct grad_reducer *reducer; /* sums gradients across processes,
                                       * or NULL: one process */
        int loss_layer; /* layers from here on are skipped (a final
                         * softmax: the loss includes it) */
        /* When not NULL, trainer_step adds each layer's wall time in
         * seconds: forward to profile[i], backward to profile[n_layers +
         * i].  For benchmarks. */
        double *profile;
};

enum an_status trainer_init(struct trainer *t, struct model *m, int capacity,
                            struct an_error *err);
/* The bytes trainer_init allocates for a batch of `batch` images of net,
 * whose parameters number n_params: activations, dropout masks, two
 * gradient buffers, scratch, and gradients and velocity beside the
 * parameters themselves (3 x 4 bytes a parameter). */
size_t trainer_bytes(const struct net *net, uint64_t n_params, int batch);
void trainer_free(struct trainer *t);

/* stats: the loss and hits of this process's samples. */
enum an_status trainer_step(struct trainer *t, const struct train_config *cfg,
                            const struct train_batch *b, double lr,
                            struct step_stats *stats, struct an_error *err);

/* Forward without dropout and the loss, for validation; probs gets the
 * softmax (may be NULL). */
enum an_status trainer_evaluate(struct trainer *t, const float *x,
                                const int *labels, int batch, float *probs,
                                struct step_stats *stats, struct an_error *err);

#endif
