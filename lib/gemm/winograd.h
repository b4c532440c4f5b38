/* Convolution by Winograd's minimal filtering (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016), for stride-1 3 x 3
 * and 5 x 5 kernels: F(4x4, 3x3) and F(2x2, 5x5), both on 6 x 6 input
 * tiles with the interpolation points 0, 1, -1, 2, -2 and infinity.
 *
 * Each output tile is A^T [(G g G^T) . (B^T d B)] A: the input tile d and
 * the kernel g are carried to 36 points, multiplied point by point, and
 * the products carried back.  Summed over input channels, the pointwise
 * products of one point are a matrix product, so a layer becomes 36 GEMMs
 * (output channels x input channels times input channels x tiles) on the
 * same micro-kernels as the direct path.  A 13 x 13 output (conv3-5) takes
 * 16 tiles of 36 products per channel pair where the direct convolution
 * takes 169 x 9 multiply-adds: 2.64 times fewer; conv2 (5 x 5 on 27 x 27)
 * 2.58 times fewer.  The price is rounding: the transforms' coefficients
 * (up to 8 and down to 1/24) make the error some ten times that of the
 * direct sum, still far below what the probabilities show (1e-6 against
 * 1e-4; tested against PyTorch).
 *
 * Results do not depend on the batch, on how the batch is split into
 * tiles, or on the number of threads: each tile is transformed and summed
 * alone, in a fixed order. */
#ifndef ALEXNET_WINOGRAD_H
#define ALEXNET_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errors.h"
#include "base/shape.h"
#include "gemm/gemm.h"
#include "gemm/gemm_conv.h"

/* Points of the transforms: a 6 x 6 tile has 36. */
enum { WINOGRAD_POINTS = 36 };

/* The weights of one convolution group carried to the 36 points
 * (G g G^T for each output and input channel) and packed as 36 matrices
 * (m x k) for the micro-kernel the layer runs on. */
struct winograd_weights {
        int kernel_size;                  /* 3 or 5 */
        size_t m, k;                      /* output channels, input channels */
        const struct gemm_kernel *kernel; /* packed for this one */
        size_t point_stride; /* floats from one point's to the next */
        float *data;
};

/* Whether the window is one this path computes (square 3 x 3 or 5 x 5,
 * stride 1, any padding) and the output large enough for the tiles to
 * save work: at least a 4 x 4 output for 3 x 3 (one whole tile), 2 x 2
 * for 5 x 5.  The choice depends on the layer's shape only, never on the
 * batch, so that an image gets the same bits alone or in any batch. */
bool winograd_suits(const struct window *win, int out_h, int out_w);

/* Transforms and packs one group's weights (m x k x r x r, row-major) for
 * the kernel in use.  Fails with AN_E_NOMEM. */
enum an_status winograd_weights_make(const float *weight, size_t m, size_t k,
                                     int kernel_size,
                                     struct winograd_weights *out);
void winograd_weights_free(struct winograd_weights *w);

/* y = epilogue(conv(x)) for one group, as sgemm_conv computes it, by the
 * 36 transformed products.  The weights come transformed (u) or are
 * transformed here from the row-major weight (u NULL), into a buffer of
 * the calling thread kept for the next call.  b->win must suit (above).
 * Fails with AN_E_NOMEM, or AN_E_INVALID for weights transformed for
 * another kernel or shape. */
enum an_status winograd_conv(const struct winograd_weights *u,
                             const float *weight, size_t m,
                             const struct conv_input *b,
                             const struct conv_output *out,
                             const struct gemm_epilogue *ep);

/* Whether winograd_weight_grad takes the window: 3 x 3 ones that
 * winograd_suits takes.  For 5 x 5 (F(2x2, 5x5)) each tile's 4 output
 * gradients become 36 points, and the product measured slower than the
 * direct one (conv2 at batch 64: 129 against 104 ms). */
bool winograd_grad_suits(const struct window *win, int out_h, int out_w);

/* The weight gradient of one group, what sgemm_conv_weight_grad computes
 * (same arguments, dw m x (k r r) overwritten), by Winograd's algorithm
 * for a window winograd_grad_suits takes (else AN_E_INVALID): 36 products
 * whose depth is the tiles (winograd_grad.c).  Results differ from the
 * direct product in the last bits, never with the number of threads.
 * Fails with AN_E_NOMEM too. */
enum an_status winograd_weight_grad(const float *dy, size_t dy_image_stride,
                                    size_t m, const struct conv_input *b,
                                    float *dw);

/* For tests: caps the bytes of the tiles winograd_weight_grad carries to
 * the points at once (24 MiB; 0 restores that), so that small layers take
 * several chunks. */
void winograd_grad_chunk_bytes(size_t bytes);

#endif
