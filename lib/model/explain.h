/* Where in an image a network found the evidence for a class: Grad-CAM
 * (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks
 * via Gradient-based Localization", ICCV 2017).
 *
 * For one preprocessed image and a class c, with A the output of a
 * convolutional layer (channels k, positions h x w) and y the class's
 * score before the softmax:
 *
 *     alpha_k = mean over h, w of dy/dA_k     (how much channel k counts)
 *     map     = ReLU(sum_k alpha_k A_k)       (h x w, not normalised)
 *
 * The gradient comes from the layers' own backward passes (lib/layers/),
 * with no parameter gradients.  The default layer is the last convolution
 * after its ReLU (conv5 in every preset, 13 x 13 at 224 input), as in
 * the paper. */
#ifndef ALEXNET_EXPLAIN_H
#define ALEXNET_EXPLAIN_H

#include "base/errors.h"
#include "model/net.h"

/* The default layer to explain: the last convolution, or the ReLU right
 * after it; -1 when the network has no convolution. */
int gradcam_default_layer(const struct arch *a);

/* The layer whose output holds the class scores: the last layer, or the
 * one before a final softmax. */
int score_layer(const struct arch *a);

/* Grad-CAM of class `cls` at the output of `layer` (which must have a
 * spatial output: net->shapes[layer + 1] gives its size) for input[C][H][W]
 * (one image, preprocessed).  map receives h x w values; *score, if not
 * NULL, the class's score.  Every parameterised layer must have its
 * weights set. */
enum an_status gradcam(const struct net *net, const float *input, int layer,
                       int cls, float *map, float *score, struct an_error *err);

/* Bilinear resampling of an h x w map to out_h x out_w, as PyTorch's
 * F.interpolate(mode="bilinear", align_corners=False). */
void map_resize(const float *map, int h, int w, float *out, int out_h,
                int out_w);

/* Divides by the largest value, so that the map spans 0..1 (all zeros
 * stay zeros). */
void map_normalise(float *map, size_t n);

#endif
