/* Element-wise and per-sample activations. */
#ifndef ALEXNET_ACTIVATION_H
#define ALEXNET_ACTIVATION_H

#include <stddef.h>

/* y = max(x, 0); x and y may be the same buffer. */
void relu_forward(size_t count, const float *x, float *y);

/* Row-wise softmax of x[batch][classes], computed stably (max subtracted);
 * x and y may be the same buffer. */
void softmax_forward(int batch, int classes, const float *x, float *y);

#endif
