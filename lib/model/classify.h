/* Turning a batch of preprocessed images into ranked class probabilities:
 * the forward pass, softmax, averaging over test-time crops, and top-k. */
#ifndef ALEXNET_CLASSIFY_H
#define ALEXNET_CLASSIFY_H

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
int top_k(const float *probs, int classes, int k, struct prediction *out);

#endif
