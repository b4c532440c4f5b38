/* Backward passes of the layers, for training.
 *
 * Each takes the layer's forward input x (and, where cheaper, its output y)
 * and the gradient of the loss with respect to the output, dy, and writes
 * the gradient with respect to the input, dx (skipped when dx is NULL, for
 * the first layer), and with respect to the parameters, overwriting dweight
 * and dbias.  Every reduction runs in a fixed order: gradients are
 * identical for any number of threads, which makes training reproducible
 * bit for bit. */
#ifndef ALEXNET_BACKWARD_H
#define ALEXNET_BACKWARD_H

#include <stddef.h>
#include <stdint.h>

#include "conv.h"
#include "errors.h"
#include "lrn.h"
#include "shape.h"

size_t conv_backward_workspace_floats(const struct conv_params *p,
                                      struct shape in, int batch);
enum an_status conv_backward(const struct conv_params *p, int batch,
                             struct shape in, const float *x,
                             const float *weight, const float *dy, float *dx,
                             float *dweight, float *dbias, float *workspace);

enum an_status linear_backward(int in_features, int out_features, int batch,
                               const float *x, const float *weight,
                               const float *dy, float *dx, float *dweight,
                               float *dbias);

/* dx = dy where y > 0, else 0 (y is the ReLU's output). */
void relu_backward(size_t count, const float *y, const float *dy, float *dx);

/* The gradient goes to the first maximum of each window, as in PyTorch. */
void maxpool_backward(const struct window *win, int batch, struct shape in,
                      const float *x, const float *dy, float *dx);

void adaptive_avgpool_backward(int out_h, int out_w, int batch, struct shape in,
                               const float *dy, float *dx);

/* workspace: batch * shape_count(in) floats. */
void lrn_backward(const struct lrn_params *p, int batch, struct shape in,
                  const float *x, const float *dy, float *dx, float *workspace);

/* Softmax cross-entropy of logits[batch][classes] against labels: returns
 * the mean loss and writes dlogits = (softmax - onehot) / batch; *correct
 * gets how many rows have their label as the arg-max. */
double softmax_cross_entropy(int batch, int classes, const float *logits,
                             const int *labels, float *dlogits, int *correct);

#endif
