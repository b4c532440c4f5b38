/* Feature vectors: any layer's output per image, as the paper's Figure 4
 * uses the last hidden layer's 4096 values to find similar images. */
#ifndef ALEXNET_FEATURES_H
#define ALEXNET_FEATURES_H

#include "base/errors.h"
#include "model/net.h"

/* The default layer: the last hidden layer, the one right below the class
 * scores (dropout, the identity here, skipped): fc7 after its ReLU in
 * every preset, as torchvision's model.classifier[:-1].  -1 when the
 * network has a single layer. */
int feature_layer_default(const struct arch *a);

/* Values per image of layer's output. */
size_t feature_size(const struct net *net, int layer);

/* The output of `layer` for each of `images` images of `crops` crops each
 * (input as for net_forward: the crops of an image together), averaged
 * over its crops, into out[images][feature_size()]. */
enum an_status features_batch(struct net *net, const float *input, int images,
                              int crops, int layer, float *out,
                              struct an_error *err);

#endif
