/* PNG decoding with libpng.  Like libjpeg, libpng reports errors through a
 * callback that longjmps; png_decode catches it and frees what it holds.
 * libpng's transforms expand palettes, tRNS and low bit depths, keep the
 * high byte of 16-bit samples and replicate grey; alpha is then composited
 * on white here. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "image/decoders.h"
#include "image/image.h"

struct reader {
        const uint8_t *data;
        size_t size, pos;
        char message[200];
};

static void on_error(png_structp png, png_const_charp msg)
{
        struct reader *r = png_get_error_ptr(png);
        snprintf(r->message, sizeof r->message, "%s", msg);
        png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
        (void)png;
        (void)msg; /* benign: ancillary-chunk problems, unknown chunks */
}

static void read_bytes(png_structp png, png_bytep out, size_t n)
{
        struct reader *r = png_get_io_ptr(png);
        if (n > r->size - r->pos)
                png_error(png, "file is truncated");
        memcpy(out, r->data + r->pos, n);
        r->pos += n;
}

/* Requests 8-bit RGBA (or RGB) rows whatever the file's colour type. */
static bool set_transforms(png_structp png, png_infop info)
{
        int color = png_get_color_type(png, info);
        png_set_expand(png); /* palette, low-bit grey, tRNS -> alpha */
        png_set_strip_16(png);
        if (!(color & PNG_COLOR_MASK_COLOR))
                png_set_gray_to_rgb(png);
        png_set_interlace_handling(png);
        png_read_update_info(png, info);
        return png_get_channels(png, info) == 4;
}

/* Blends RGBA rows onto white in place, leaving RGB rows. */
static void composite_on_white(uint8_t *rows, size_t pixels)
{
        const uint8_t *in = rows;
        uint8_t *out = rows;
        for (size_t i = 0; i < pixels; i++, in += 4, out += 3) {
                unsigned a = in[3];
                for (int c = 0; c < 3; c++)
                        out[c] = (uint8_t)((in[c] * a + 255 * (255 - a) + 127) /
                                           255);
        }
}

enum an_status png_decode(struct image *img, const uint8_t *data, size_t size,
                          const struct image_options *opt, struct an_error *err)
{
        struct reader r = {data, size, 0, ""};
        png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r,
                                                 on_error, on_warning);
        png_infop info = png ? png_create_info_struct(png) : NULL;
        uint8_t *volatile pixels = NULL;
        png_bytep *volatile rows = NULL;
        if (!info) {
                png_destroy_read_struct(&png, NULL, NULL);
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        }
        if (setjmp(png_jmpbuf(png))) {
                png_destroy_read_struct(&png, &info, NULL);
                free(pixels);
                free(rows);
                return an_error_set(err, AN_E_FORMAT, "PNG: %s", r.message);
        }
        png_set_read_fn(png, &r, read_bytes);
        png_read_info(png, info);
        png_uint_32 w = png_get_image_width(png, info);
        png_uint_32 h = png_get_image_height(png, info);
        enum an_status st = image_check_size(w, h, opt, err);
        if (st == AN_OK) {
                bool alpha = set_transforms(png, info);
                size_t stride = (size_t)w * (alpha ? 4 : 3);
                pixels = malloc(stride * h);
                rows = malloc(h * sizeof *rows);
                if (!pixels || !rows) {
                        st = an_error_set(err, AN_E_NOMEM, "out of memory");
                } else {
                        for (png_uint_32 y = 0; y < h; y++)
                                rows[y] = pixels + y * stride;
                        png_read_image(png, rows);
                        png_read_end(png, NULL);
                        if (alpha)
                                composite_on_white(pixels, (size_t)w * h);
                        img->width = (int)w;
                        img->height = (int)h;
                        img->rgb = pixels;
                        pixels = NULL;
                }
        }
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        return st;
}
