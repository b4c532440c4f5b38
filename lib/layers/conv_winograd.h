/* The forward convolution on Winograd's path (internal to conv.c): which
 * layers take it, and how.  A stride-1 3x3 or 5x5 layer takes it as it is.
 * A strided layer whose kernel spans 3 or 5 strides (conv1: 11x11 with
 * stride 4) takes it through space-to-depth: with s the stride and
 * q = ceil(k / s),
 *
 *     y[o][oy][ox] = sum over c, ry, rx < s and qy, qx < q of
 *                    w[o][c][s qy + ry][s qx + rx] X[(c s + ry) s + rx][oy +
 * qy][ox + qx] X[(c s + ry) s + rx][Y][X] = x[c][s Y + ry - pad_top][s X + rx -
 * pad_left]
 *
 * (taps past the kernel weigh 0): a stride-1 q x q convolution without
 * padding over C s^2 channels.  For conv1 that is 48 channels of 57x57 and
 * a 3x3 kernel, 3.4 times fewer multiplications than 11x11 with stride 4,
 * and tiles read with unit stride where the direct path gathered every
 * fourth float. */
#ifndef ALEXNET_CONV_WINOGRAD_H
#define ALEXNET_CONV_WINOGRAD_H

#include <stdbool.h>

#include "base/errors.h"
#include "base/shape.h"
#include "gemm/winograd.h"
#include "layers/conv.h"

struct winograd_plan {
        bool space_to_depth; /* strided: rearranged first (stride s) */
        int s;
        struct shape in;   /* the input as Winograd's path sees it */
        struct window win; /* its window: stride 1 */
        int channels;      /* input channels per group, as seen */
};

/* Whether the layer suits Winograd's path (with the plan when it does). */
bool winograd_plan_of(const struct conv_params *p, struct shape in,
                      struct winograd_plan *plan);

/* conv_forward on the planned path; winograd, when not NULL, holds each
 * group's weights as conv_winograd_weights transforms them; workspace
 * (or NULL: a buffer of the calling thread) holds the rearranged input. */
enum an_status
winograd_forward(const struct conv_params *p, const struct winograd_plan *plan,
                 int batch, struct shape in, const float *x,
                 const float *weight, const float *bias, bool relu, float *y,
                 const struct winograd_weights *winograd, float *workspace);

#endif
