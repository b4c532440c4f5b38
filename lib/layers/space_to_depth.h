/* A strided convolution seen as a stride-1 one (internal to the conv
 * layer).  With s the stride and q = ceil(k / s) for a k x k kernel,
 *
 *     y[o][oy][ox] = sum over c, ry, rx < s and qy, qx < q of
 *                    w[o][c][s qy + ry][s qx + rx] X[(c s + ry) s + rx][oy +
 * qy][ox + qx] X[(c s + ry) s + rx][Y][X] = x[c][s Y + ry - pad_top][s X + rx -
 * pad_left]
 *
 * (taps past the kernel weigh 0): a q x q convolution without padding over
 * C s^2 channels.  conv1 (11x11, stride 4) becomes a 3x3 convolution over
 * 48 channels of 57x57: 19% more multiply-adds, but its taps are read with
 * unit stride where the strided layer gathered every fourth float, and a
 * 3x3 kernel suits Winograd's algorithm. */
#ifndef ALEXNET_SPACE_TO_DEPTH_H
#define ALEXNET_SPACE_TO_DEPTH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/shape.h"
#include "gemm/gemm_conv.h"
#include "layers/conv.h"

struct s2d_plan {
        int s;             /* the stride (1: the layer as it is) */
        struct shape in;   /* the input as the rearranged layer sees it */
        struct window win; /* its window */
        int channels;      /* its input channels per group */
};

/* The layer as it is (stride 1), or rearranged when strided: square
 * strides and kernel, and the rearranged input within the size of an
 * activation.  False when a strided layer cannot be rearranged. */
bool s2d_plan_of(const struct conv_params *p, struct shape in,
                 struct s2d_plan *plan);

/* Whether the rearrangement adds at most a quarter to the multiply-adds
 * (conv1: (4 x 3)^2 / 11^2 = 1.19), so that a direct convolution gains by
 * it. */
bool s2d_worth_direct(const struct conv_params *p, const struct s2d_plan *plan);

/* Group g's operands as the view sees the layer: its input (x is the
 * input as the view sees it, already rearranged when s > 1), its part of
 * the output y (out: the layer's output shape) and its epilogue. */
struct conv_group_io {
        struct conv_input in;
        struct conv_output out;
        struct gemm_epilogue ep;
};
struct conv_group_io s2d_group_io(const struct conv_params *p,
                                  const struct s2d_plan *view, int batch,
                                  struct shape out, const float *x,
                                  const float *bias, bool relu, float *y,
                                  int g);

/* The layer as it is: stride 1 over its own input. */
struct s2d_plan s2d_identity(const struct conv_params *p, struct shape in);

/* Floats of one group's weights in the view's layout (per output row). */
size_t s2d_kernel_floats(const struct s2d_plan *plan);

/* X from x for every image of the batch. */
void s2d_input(const struct conv_params *p, const struct s2d_plan *plan,
               int batch, struct shape in, const float *x, float *out);

/* The input as the view sees it: x itself when s is 1, else X written
 * into workspace (shape_count(plan->in) floats an image) or, when that
 * is NULL, into a buffer of the calling thread kept for the next call.
 * NULL when out of memory. */
const float *s2d_seen_input(const struct conv_params *p,
                            const struct s2d_plan *plan, int batch,
                            struct shape in, const float *x, float *workspace);

/* The weights as the view takes them: weight itself when s is 1, else
 * rearranged into a buffer of the calling thread kept for the next call.
 * NULL when out of memory. */
const float *s2d_seen_weights(const struct conv_params *p,
                              const struct s2d_plan *plan, const float *weight);

/* The rearranged layer's weights (out x channels x q x q per group). */
size_t s2d_weight_floats(const struct conv_params *p,
                         const struct s2d_plan *plan);
void s2d_weights(const struct conv_params *p, const struct s2d_plan *plan,
                 const float *weight, float *out);

#endif
