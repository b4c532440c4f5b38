/* The one EXIF field a classifier needs: the orientation (TIFF tag 0x0112)
 * from a JPEG APP1 segment, and applying it to decoded pixels. */
#ifndef ALEXNET_EXIF_H
#define ALEXNET_EXIF_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "image/image.h"

/* Orientation 1-8 from an APP1 payload ("Exif\0\0" + TIFF); 1 when absent
 * or malformed.  Every offset is checked against len. */
int exif_orientation(const uint8_t *app1, size_t len);

/* Applies an EXIF orientation (1-8) in place (may swap width and height). */
enum an_status image_orient(struct image *img, int orientation,
                            struct an_error *err);

#endif
