/* The format decoders behind image_decode (decode.c), private to
 * lib/image/.  Each fills img from a whole file in memory, checks the
 * header's size with image_check_size before allocating, and returns
 * AN_E_FORMAT with the decoder's one-line message on any error or
 * warning. */
#ifndef ALEXNET_IMAGE_DECODERS_H
#define ALEXNET_IMAGE_DECODERS_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "image/image.h"

enum an_status jpeg_decode(struct image *img, const uint8_t *data, size_t size,
                           const struct image_options *opt,
                           struct an_error *err);
enum an_status png_decode(struct image *img, const uint8_t *data, size_t size,
                          const struct image_options *opt,
                          struct an_error *err);

#endif
