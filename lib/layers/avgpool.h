/* Adaptive average pooling to a fixed output size, forward and backward
 * (torchvision's AlexNet pools to 6x6 before the classifier, so any input
 * size >= 63 works).  Output cell (oy, ox) averages input rows
 * [floor(oy*H/OH), ceil((oy+1)*H/OH)) and the same for columns, as
 * PyTorch's AdaptiveAvgPool2d; both directions take the cells from one
 * function (avgpool_cell in avgpool.c). */
#ifndef ALEXNET_AVGPOOL_H
#define ALEXNET_AVGPOOL_H

#include "base/shape.h"

void adaptive_avgpool_forward(int out_h, int out_w, int batch, struct shape in,
                              const float *x, float *y);

/* dx (overwritten): each cell's gradient shared evenly over its inputs. */
void adaptive_avgpool_backward(int out_h, int out_w, int batch, struct shape in,
                               const float *dy, float *dx);

#endif
