/* Convolution as one GEMM whose B operand, the unfolded input (im2col), is
 * never stored: the driver packs B's panels straight from the input
 * images and writes its tiles straight into the NCHW output
 * (gemm_conv.c); and the weight gradient, a GEMM over the same unfolded
 * input, packed from the images the same way (gemm_conv_grad.c). */
#ifndef ALEXNET_GEMM_CONV_H
#define ALEXNET_GEMM_CONV_H

#include <stddef.h>

#include "base/errors.h"
#include "gemm/gemm.h"
#include "base/shape.h"

/* The input of one convolution group seen as B (K x N): row
 * k = (c * kernel_h + ky) * kernel_w + kx, column j = (image, oy, ox);
 * a tap outside the image reads 0. */
struct conv_input {
        const float *x;      /* image 0, the group's first channel */
        size_t image_stride; /* floats from one image to the next */
        int images, channels;
        struct shape in; /* one image (its c is the whole input's) */
        const struct window *win;
        int out_h, out_w;
};

/* The output of the group: row m of image n's product goes to
 * y + n * image_stride + m * out_h * out_w. */
struct conv_output {
        float *y;
        size_t image_stride;
};

/* y = epilogue(W B) for the group's weights W (m x K): prepacked for the
 * current kernel (packed) in FP32, or in GEMM_BF16_PAIRS (then B is
 * rounded to bfloat16 as it is packed and the AVX512_BF16 kernel
 * multiplies), or, when packed is NULL, row-major in weight, packed here
 * into a buffer of the calling thread that is kept for the next call.
 * Fails with AN_E_NOMEM, or AN_E_INVALID for a packed matrix of another
 * kernel, precision or shape. */
enum an_status sgemm_conv(const struct packed_matrix *packed,
                          const float *weight, size_t m,
                          const struct conv_input *b,
                          const struct conv_output *out,
                          const struct gemm_epilogue *ep);

/* The weight gradient of the group: dw (m x K, row-major) = the sum over
 * the images of dY_n B_n^T, where dY_n (m rows of out_h * out_w values) is
 * at dy + n * dy_image_stride and B_n is image n's unfolded input as
 * above.  Overwrites dw; the result does not depend on the number of
 * threads.  Fails only with AN_E_NOMEM. */
enum an_status sgemm_conv_weight_grad(const float *dy, size_t dy_image_stride,
                                      size_t m, const struct conv_input *b,
                                      float *dw);

#endif
