/* Decoding JPEG (libjpeg-turbo) and PNG (libpng) into 8-bit RGB.
 *
 *     struct image img;
 *     struct image_options opt = image_defaults();
 *     opt.resize_side = 256; // the shorter side it will be resized to
 *     if (image_load(&img, path, &opt, &err) == AN_OK) { ...; image_free(&img);
 * }
 *
 * Every colour type ends as interleaved RGB bytes: grayscale is replicated,
 * palettes expanded, 16-bit samples keep their high byte, alpha (including
 * a palette's tRNS) is composited on white, CMYK/YCCK JPEGs are converted
 * (Adobe's inverted CMYK recognised), and a JPEG's EXIF orientation is
 * applied.  The pixel limit is checked against the header before any pixel
 * memory is allocated.  Decoder errors and warnings (truncated data, corrupt
 * entropy-coded data, bad CRCs in critical chunks) are errors: the call
 * returns AN_E_FORMAT with the decoder's one-line message; nothing is
 * printed and nothing exits. */
#ifndef ALEXNET_IMAGE_H
#define ALEXNET_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"

struct image {
        int width, height;
        uint8_t *rgb; /* height rows of width * 3 bytes */
};

struct image_options {
        uint64_t max_pixels; /* refuse larger images (header dimensions) */
        /* When > 0, the shorter side the image will be resized to: the
         * resized image is held to the pixel limit too. */
        int resize_side;
        /* Decode a JPEG at 1/2, 1/4 or 1/8 scale as long as its shorter
         * side stays >= resize_side: several times faster on photos, but
         * the pixels differ from a full decode (Pillow, torchvision), and
         * so do the probabilities, by up to a point or so. */
        bool reduced_jpeg;
};

enum { IMAGE_DEFAULT_MAX_MEGAPIXELS = 100 };

struct image_options image_defaults(void);

/* Whether a file name is one the tool takes for an image: it ends in .jpg,
 * .jpeg or .png, in any case (training folders, predict -r). */
bool image_file_name(const char *name);

enum an_status image_load(struct image *img, const char *path,
                          const struct image_options *opt,
                          struct an_error *err);
/* Decodes a file image already in memory. */
enum an_status image_decode(struct image *img, const uint8_t *data, size_t size,
                            const struct image_options *opt,
                            struct an_error *err);
void image_free(struct image *img);

/* For the decoders: the size check against the options, and the pixel
 * buffer of a checked size. */
enum an_status image_alloc(struct image *img, int width, int height,
                           const struct image_options *opt,
                           struct an_error *err);
enum an_status image_check_size(uint64_t width, uint64_t height,
                                const struct image_options *opt,
                                struct an_error *err);

#endif
