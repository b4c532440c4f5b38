/* The forward convolution on Winograd's path (internal to conv.c): which
 * layers take it, and how.  A stride-1 3x3 or 5x5 layer takes it as it is;
 * a strided one whose kernel spans 3 or 5 strides (conv1: 11x11 with
 * stride 4) after space-to-depth (space_to_depth.h), as a 3x3 layer over
 * 48 channels: 3.4 times fewer multiplications than 11x11 with stride 4. */
#ifndef ALEXNET_CONV_WINOGRAD_H
#define ALEXNET_CONV_WINOGRAD_H

#include <stdbool.h>

#include "base/errors.h"
#include "base/shape.h"
#include "gemm/winograd.h"
#include "layers/conv.h"
#include "layers/space_to_depth.h"

/* Whether the layer suits Winograd's path (with the plan when it does). */
bool winograd_plan_of(const struct conv_params *p, struct shape in,
                      struct s2d_plan *plan);

/* conv_forward on the planned path; winograd, when not NULL, holds each
 * group's weights as conv_winograd_weights transforms them; workspace
 * (or NULL: a buffer of the calling thread) holds the rearranged input. */
enum an_status
winograd_forward(const struct conv_params *p, const struct s2d_plan *plan,
                 int batch, struct shape in, const float *x,
                 const float *weight, const float *bias, bool relu, float *y,
                 const struct winograd_weights *winograd, float *workspace);

#endif
