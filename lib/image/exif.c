#include "image/exif.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

static unsigned read16(const uint8_t *p, bool big)
{
        return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t read32(const uint8_t *p, bool big)
{
        return big ? (uint32_t)read16(p, true) << 16 | read16(p + 2, true)
                   : (uint32_t)read16(p + 2, false) << 16 | read16(p, false);
}

int exif_orientation(const uint8_t *app1, size_t len)
{
        if (len < 14 || memcmp(app1, "Exif\0\0", 6))
                return 1;
        const uint8_t *tiff = app1 + 6;
        size_t size = len - 6;
        bool big;
        if (!memcmp(tiff, "MM\0*", 4))
                big = true;
        else if (!memcmp(tiff, "II*\0", 4))
                big = false;
        else
                return 1;
        uint32_t ifd = read32(tiff + 4, big);
        if (ifd > size - 2)
                return 1;
        unsigned count = read16(tiff + ifd, big);
        for (unsigned i = 0; i < count; i++) {
                size_t entry = (size_t)ifd + 2 + (size_t)i * 12;
                if (entry + 12 > size)
                        return 1;
                const uint8_t *e = tiff + entry;
                /* tag 0x0112, type SHORT, one value */
                if (read16(e, big) == 0x0112 && read16(e + 2, big) == 3 &&
                    read32(e + 4, big) == 1) {
                        unsigned v = read16(e + 8, big);
                        return v >= 1 && v <= 8 ? (int)v : 1;
                }
        }
        return 1;
}

/* Source pixel of destination (x, y) for each EXIF orientation, with W x H
 * the source size (Pillow's exif_transpose does the same). */
static void source_of(int orientation, int x, int y, int w, int h, int *sx,
                      int *sy)
{
        switch (orientation) {
        case 2: *sx = w - 1 - x, *sy = y; break;
        case 3: *sx = w - 1 - x, *sy = h - 1 - y; break;
        case 4: *sx = x, *sy = h - 1 - y; break;
        case 5: *sx = y, *sy = x; break;
        case 6: *sx = y, *sy = h - 1 - x; break;
        case 7: *sx = w - 1 - y, *sy = h - 1 - x; break;
        case 8: *sx = w - 1 - y, *sy = x; break;
        default: *sx = x, *sy = y;
        }
}

enum an_status image_orient(struct image *img, int orientation,
                            struct an_error *err)
{
        if (orientation <= 1 || orientation > 8)
                return AN_OK;
        bool swap = orientation >= 5;
        int w = img->width, h = img->height;
        int dw = swap ? h : w, dh = swap ? w : h;
        uint8_t *out = malloc((size_t)w * h * 3);
        if (!out)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        for (int y = 0; y < dh; y++)
                for (int x = 0; x < dw; x++) {
                        int sx, sy;
                        source_of(orientation, x, y, w, h, &sx, &sy);
                        memcpy(out + ((size_t)y * dw + x) * 3,
                               img->rgb + ((size_t)sy * w + sx) * 3, 3);
                }
        free(img->rgb);
        img->rgb = out;
        img->width = dw;
        img->height = dh;
        return AN_OK;
}
