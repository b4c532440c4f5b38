/* Max pooling over NCHW activations with a sliding window, forward and
 * backward.  Both follow one rule (maxpool_takes in maxpool.c), PyTorch's:
 * a window's value, and where its gradient goes, is its first maximum in
 * row order, a NaN winning over every number; padding taps never win. */
#ifndef ALEXNET_MAXPOOL_H
#define ALEXNET_MAXPOOL_H

#include "base/shape.h"

void maxpool_forward(const struct window *win, int batch, struct shape in,
                     const float *x, float *y);

/* dx (overwritten) gets each output's gradient at its window's winner. */
void maxpool_backward(const struct window *win, int batch, struct shape in,
                      const float *x, const float *dy, float *dx);

/* The same and the gradient of the ReLU below whose output x is, in one
 * pass: dx is the gradient at the ReLU's input.  It saves the ReLU's own
 * pass over the gradient (three arrays of the pool's input size), the
 * same bits. */
void maxpool_relu_backward(const struct window *win, int batch, struct shape in,
                           const float *x, const float *dy, float *dx);

#endif
