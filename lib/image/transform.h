/* From decoded pixels to network input, as torchvision's ImageNet
 * evaluation transform does it:
 *
 *     Resize(resize)      shorter side to `resize`, the longer one scaled
 *                         and truncated; Pillow's antialiasing bilinear
 *                         filter, reproduced exactly (fixed point, 8-bit
 *                         intermediate) so pixels match Pillow's
 *     CenterCrop(h, w)    offsets round((size - crop) / 2), ties to even
 *     ToTensor, Normalize (pixel * scale - mean) / std per channel, planes
 *                         in the model's channel order (RGB, or BGR for
 *                         Caffe-born models)
 *
 * plus the crops and mirror images of the paper's ten-crop evaluation. */
#ifndef ALEXNET_TRANSFORM_H
#define ALEXNET_TRANSFORM_H

#include <stdbool.h>

#include "base/errors.h"
#include "image/image.h"
#include "base/shape.h"

struct preprocess {
        int resize;       /* shorter image side before the centre crop */
        char channels[4]; /* "RGB" or "BGR": order of the input planes */
        double scale;     /* multiplies 0..255 pixel values */
        double mean[3];   /* subtracted after scaling, in `channels` order */
        double std[3];    /* then divided by */
};

/* Output size of torchvision's Resize(target) for a w x h image. */
void image_resized_size(int w, int h, int target, int *out_w, int *out_h);

/* Pillow's Image.resize((out_w, out_h), BILINEAR) for RGB images. */
enum an_status image_resize(const struct image *in, int out_w, int out_h,
                            struct image *out, struct an_error *err);

/* Writes the crop (x0, y0, shape.w, shape.h) of img, mirrored left-right
 * when flip is set, as normalised CHW float planes into out. */
void image_to_tensor(const struct image *img, int x0, int y0, bool flip,
                     struct shape shape, const struct preprocess *pre,
                     float *out);

/* The same with shift[c] added to channel c's 0..255 values first (PCA
 * colour noise); shift is in RGB order. */
void image_to_tensor_shifted(const struct image *img, int x0, int y0, bool flip,
                             struct shape shape, const struct preprocess *pre,
                             const float shift[3], float *out);

enum { TEN_CROPS = 10 };

/* Top-left corners of the paper's crops of a crop_w x crop_h window in a
 * w x h image: centre, top-left, top-right, bottom-left, bottom-right, then
 * the same five cut from the mirrored image (flip[i] set; x0 is where the
 * window lies in the unmirrored image).  For `count` 1 only the centre. */
void image_crop_offsets(int w, int h, int crop_w, int crop_h, int count,
                        int *x0, int *y0, bool *flip);

/* Decode-to-tensor for one image: resize, then `count` (1 or TEN_CROPS)
 * crops into out[count][C][H][W]. */
enum an_status image_preprocess(const struct image *img,
                                const struct preprocess *pre,
                                struct shape input, int count, float *out,
                                struct an_error *err);

#endif
