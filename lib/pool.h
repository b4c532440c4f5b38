/* Pooling over NCHW activations: max pooling with a sliding window, and
 * adaptive average pooling to a fixed output size (torchvision's AlexNet
 * pools to 6x6 before the classifier so any input size >= 63 works). */
#ifndef ALEXNET_POOL_H
#define ALEXNET_POOL_H

#include "shape.h"

/* Padding taps are ignored (never win the max), as in PyTorch and ONNX. */
void maxpool_forward(const struct window *win, int batch, struct shape in,
                     const float *x, float *y);

/* Output cell (oy, ox) averages rows [floor(oy*H/OH), ceil((oy+1)*H/OH)) and
 * the same for columns: PyTorch's AdaptiveAvgPool2d. */
void adaptive_avgpool_forward(int out_h, int out_w, int batch, struct shape in,
                              const float *x, float *y);

#endif
