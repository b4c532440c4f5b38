/* Local response normalisation across channels (Krizhevsky et al. 2012,
 * section 3.3):
 *
 *     y[c] = x[c] / (k + alpha / size * sum_{c' in window(c)} x[c']^2)^beta
 *
 * alpha is divided by size, the convention of Caffe, PyTorch and ONNX (the
 * paper's own formula does not divide; its alpha = 1e-4 is Caffe's value).
 * The window covers channels c - size/2 .. c + (size-1)/2, clipped at the
 * edges, where missing channels count as zero (PyTorch's LocalResponseNorm). */
#ifndef ALEXNET_LRN_H
#define ALEXNET_LRN_H

#include <stddef.h>

#include "base/shape.h"

struct lrn_params {
        int size;
        double alpha, beta, k; /* as written in the model file */
};

/* x and y must not overlap. */
void lrn_forward(const struct lrn_params *p, int batch, struct shape in,
                 const float *x, float *y);

/* Floats of scratch lrn_backward needs. */
size_t lrn_backward_workspace_floats(struct shape in, int batch);

/* dx from the forward input x and the gradient at the output dy. */
void lrn_backward(const struct lrn_params *p, int batch, struct shape in,
                  const float *x, const float *dy, float *dx, float *workspace);

#endif
