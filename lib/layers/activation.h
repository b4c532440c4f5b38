/* Element-wise and per-sample activations, and the loss: ReLU forward and
 * backward, softmax, softmax cross-entropy with its gradient. */
#ifndef ALEXNET_ACTIVATION_H
#define ALEXNET_ACTIVATION_H

#include <stddef.h>

/* y = max(x, 0); x and y may be the same buffer. */
void relu_forward(size_t count, const float *x, float *y);

/* Row-wise softmax of x[batch][classes], computed stably (max subtracted);
 * x and y may be the same buffer. */
void softmax_forward(int batch, int classes, const float *x, float *y);

/* dx = dy where y > 0, else 0 (y is the ReLU's output). */
void relu_backward(size_t count, const float *y, const float *dy, float *dx);

/* Softmax cross-entropy of logits[batch][classes] against labels: returns
 * the mean loss and writes dlogits = (softmax - onehot) / batch; *correct
 * (when not NULL) gets how many rows have their label as the arg-max. */
/* How many of the batch's labels are among the k largest of their row of
 * logits (a label tied with others counts as ranked first among them). */
int top_k_hits(int batch, int classes, const float *logits, const int *labels,
               int k);

double softmax_cross_entropy(int batch, int classes, const float *logits,
                             const int *labels, float *dlogits, int *correct);

#endif
