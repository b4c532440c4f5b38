/* Turning a batch of preprocessed images into ranked class probabilities:
 * the forward pass, softmax, averaging over test-time crops, top-k, and
 * accuracy against known labels.  One ranking rule serves them all: higher
 * probability first, equal probabilities by lower class index. */
#ifndef ALEXNET_CLASSIFY_H
#define ALEXNET_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errors.h"
#include "model/net.h"

struct prediction {
        int index;  /* class index */
        float prob; /* softmax probability */
};

/* Runs input[images * crops][C][H][W] (the crops of each image adjacent)
 * through net and writes each image's class probabilities, softmax averaged
 * over its crops, to probs[images][net_outputs()].  A network whose last
 * layer is already a softmax is not softmaxed twice. */
enum an_status classify_batch(struct net *net, const float *input, int images,
                              int crops, float *probs, struct an_error *err);

/* The k most probable classes of probs[classes], most probable first (ties:
 * lower index first).  k is clamped to classes; returns the count written. */
/* out[images][n]: the mean of each image's crops, rows[images * crops][n]
 * (an image's crops together). */
void mean_over_crops(const float *rows, int images, int crops, size_t n,
                     float *out);

int top_k(const float *probs, int classes, int k, struct prediction *out);

/* Where class `label` ranks in probs[classes] by the same rule as top_k:
 * 0 when top_k would list it first. */
int class_rank(const float *probs, int classes, int label);

/* Accuracy of predictions against labels, as predict --eval and training's
 * validation count it: top-1, top-5 (label ranked < 5 by class_rank) and,
 * when asked for, the confusion matrix [true][predicted]. */
struct accuracy {
        int classes;
        size_t seen, top1, top5;
        double loss_sum;   /* callers may add a loss per sample */
        size_t *confusion; /* [classes][classes], or NULL */
};

enum an_status accuracy_init(struct accuracy *a, int classes, bool confusion,
                             struct an_error *err);
/* Counts n samples: probs[n][classes] against labels[n]. */
void accuracy_add(struct accuracy *a, const float *probs, const int *labels,
                  int n);
/* The fraction of samples whose label ranked first, and within five. */
double accuracy_top1(const struct accuracy *a);
double accuracy_top5(const struct accuracy *a);
void accuracy_free(struct accuracy *a);

#endif
