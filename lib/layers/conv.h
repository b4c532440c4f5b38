/* 2-D convolution with groups, forward and backward, lowered to SGEMM.
 *
 * Weights are OIHW as in PyTorch: [out_c][in_c / groups][kernel_h][kernel_w].
 * Group g maps input channels [g*in_c/groups, (g+1)*in_c/groups) to output
 * channels [g*out_c/groups, (g+1)*out_c/groups).  Each group is one GEMM
 * (gemm_conv.c) over its own rows of the weights, with every image of the
 * batch in its N, whose unfolded input is packed straight from the images
 * and never stored; bias and an optional ReLU are applied as the GEMM
 * writes its result into the NCHW output. */
#ifndef ALEXNET_CONV_H
#define ALEXNET_CONV_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errors.h"
#include "gemm/gemm.h"
#include "gemm/winograd.h"
#include "base/shape.h"

struct conv_params {
        int in_c, out_c, groups;
        struct window win;
};

/* y[n][out_c][out_h][out_w] = relu?(conv(x[n][in_c][in.h][in.w]) + bias).
 * bias may be NULL.  Layers whose shape suits Winograd's algorithm
 * (stride-1 3 x 3 and 5 x 5, winograd.h; strided ones whose kernel spans
 * 3 or 5 strides, as conv1, through space-to-depth, conv_winograd.h)
 * take it, others the direct implicit GEMM; the choice depends on the layer
 * alone, never on the batch.  packed, when not NULL, holds each group's weights
 * prepacked (sgemm_pack of its out_c/groups x in_c/groups*kh*kw rows) and puts
 * the layer on the direct path (bfloat16 pairs, GEMM_BF16_PAIRS, have no
 * other); winograd, when not NULL, holds each group's weights transformed
 * for Winograd's path (conv_winograd_weights).  Either is used instead of
 * weight. */
enum an_status conv_forward(const struct conv_params *p, int batch,
                            struct shape in, const float *x,
                            const float *weight, const float *bias, bool relu,
                            float *y, const struct packed_matrix *packed,
                            const struct winograd_weights *winograd,
                            float *workspace);

/* Floats of the workspace conv_forward takes for a batch: the input of a
 * strided layer rearranged for Winograd's path (space-to-depth), else 0.
 * Given NULL instead, conv_forward keeps a buffer of the calling thread. */
size_t conv_forward_workspace_floats(const struct conv_params *p,
                                     struct shape in, int batch);

/* Whether conv_forward takes Winograd's path for this layer given these
 * prepacked weights (packed weights keep it direct) or none (NULL). */
bool conv_uses_winograd(const struct conv_params *p, struct shape in,
                        const struct packed_matrix *packed);

/* Each group's weights (groups entries of out) packed for the direct path
 * in `precision`, as conv_forward's packed argument: in bfloat16 pairs a
 * strided layer that gains by it (conv1) is packed rearranged by
 * space-to-depth, a 3x3 kernel over 48 channels read with unit stride
 * (space_to_depth.h).  Fails with AN_E_NOMEM or AN_E_INVALID (bfloat16
 * pairs where the CPU lacks them). */
enum an_status conv_direct_weights(const struct conv_params *p, struct shape in,
                                   const float *weight,
                                   enum gemm_precision precision,
                                   struct packed_matrix *out);

/* Each group's weights (groups entries of out) transformed for Winograd's
 * path, for a layer that takes it.  Fails with AN_E_NOMEM, or
 * AN_E_INVALID for a layer that does not suit it. */
enum an_status conv_winograd_weights(const struct conv_params *p,
                                     struct shape in, const float *weight,
                                     struct winograd_weights *out);

/* Allows Winograd's path (the default) or keeps every layer on the direct
 * one: for tests and benchmarks, before any thread runs a layer. */
void conv_allow_winograd(bool allow);

/* Floats of scratch conv_backward needs. */
size_t conv_backward_workspace_floats(const struct conv_params *p,
                                      struct shape in, int batch);

/* From the forward input x and the gradient at the output dy: dx, the
 * gradient at the input (skipped when NULL, for the first layer), and the
 * parameter gradients, overwriting dweight and dbias (either may be NULL: then
 * it is not computed, as when only the input gradient is wanted). Every
 * reduction runs in a fixed order, so gradients are identical for any number of
 * threads and training is reproducible bit for bit. */
enum an_status conv_backward(const struct conv_params *p, int batch,
                             struct shape in, const float *x,
                             const float *weight, const float *dy, float *dx,
                             float *dweight, float *dbias, float *workspace);

#endif
