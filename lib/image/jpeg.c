/* JPEG decoding with libjpeg-turbo.  libjpeg reports errors through a
 * callback that must not return; ours longjmps back into jpeg_decode, which
 * releases everything it holds.  Warnings (a truncated file, corrupt
 * entropy-coded data) take the same path: a damaged photo is refused, not
 * classified from grey filler. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "image/exif.h"
#include "image/decoders.h"
#include "image/image.h"

struct error_context {
        struct jpeg_error_mgr mgr; /* first: libjpeg sees only this */
        jmp_buf jump;
        char message[JMSG_LENGTH_MAX];
};

static void fail(j_common_ptr cinfo)
{
        struct error_context *ctx = (struct error_context *)cinfo->err;
        cinfo->err->format_message(cinfo, ctx->message);
        longjmp(ctx->jump, 1);
}

/* Progressive JPEGs repeat a pass over the whole image per scan; a real
 * encoder writes about 10 (jpegtran) to 20 (mozjpeg), a hostile file
 * thousands of empty ones, each a full pass.  Refused past this many. */
enum { MAX_SCANS = 100 };

static void check_scans(j_common_ptr cinfo)
{
        j_decompress_ptr d = (j_decompress_ptr)cinfo;
        if (!cinfo->is_decompressor || d->input_scan_number <= MAX_SCANS)
                return;
        struct error_context *ctx = (struct error_context *)cinfo->err;
        snprintf(ctx->message, sizeof ctx->message,
                 "more than %d progressive scans (a real encoder writes "
                 "about 10)",
                 MAX_SCANS);
        longjmp(ctx->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level)
{
        if (level < 0) /* a warning: the data is damaged */
                fail(cinfo);
}

/* The largest 1/denominator DCT scale that keeps the shorter side at least
 * min_side (libjpeg rounds scaled sizes up). */
static unsigned int dct_denominator(unsigned int w, unsigned int h,
                                    int min_side)
{
        unsigned int shorter = w < h ? w : h;
        if (min_side <= 0)
                return 1;
        for (unsigned int d = 8; d > 1; d /= 2)
                if ((shorter + d - 1) / d >= (unsigned int)min_side)
                        return d;
        return 1;
}

static int orientation_of(j_decompress_ptr cinfo)
{
        for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next)
                if (m->marker == JPEG_APP0 + 1)
                        return exif_orientation(m->data, m->data_length);
        return 1;
}

/* Row of CMYK to RGB, as Pillow converts: R = (255 - K) * (255 - C) / 255
 * rounded.  Adobe's writers store CMYK inverted; libjpeg reports whether
 * an Adobe marker was seen. */
static void cmyk_row_to_rgb(const JSAMPLE *in, uint8_t *out, int width,
                            bool inverted)
{
        for (int x = 0; x < width; x++, in += 4, out += 3) {
                int k = inverted ? in[3] : 255 - in[3];
                for (int c = 0; c < 3; c++) {
                        int v = inverted ? 255 - in[c] : in[c];
                        int t = v * k + 128;
                        out[c] = (uint8_t)(k - (((t >> 8) + t) >> 8));
                }
        }
}

static void read_pixels(j_decompress_ptr cinfo, struct image *img,
                        JSAMPLE *cmyk_row)
{
        while (cinfo->output_scanline < cinfo->output_height) {
                uint8_t *row = img->rgb +
                               (size_t)cinfo->output_scanline * img->width * 3;
                JSAMPROW target = cmyk_row ? cmyk_row : row;
                if (jpeg_read_scanlines(cinfo, &target, 1) != 1)
                        fail((j_common_ptr)cinfo);
                if (cmyk_row)
                        cmyk_row_to_rgb(cmyk_row, row, img->width,
                                        cinfo->saw_Adobe_marker);
        }
}

enum an_status jpeg_decode(struct image *img, const uint8_t *data, size_t size,
                           const struct image_options *opt,
                           struct an_error *err)
{
        struct jpeg_decompress_struct cinfo;
        struct error_context ctx;
        JSAMPLE *volatile cmyk_row = NULL;
        volatile int orientation = 1;
        enum an_status st = AN_OK;

        cinfo.err = jpeg_std_error(&ctx.mgr);
        ctx.mgr.error_exit = fail;
        ctx.mgr.emit_message = on_message;
        if (setjmp(ctx.jump)) {
                jpeg_destroy_decompress(&cinfo);
                free(cmyk_row);
                return an_error_set(err, AN_E_FORMAT, "JPEG: %s", ctx.message);
        }
        jpeg_create_decompress(&cinfo);
        struct jpeg_progress_mgr progress = {check_scans, 0, 0, 0, 0};
        cinfo.progress = &progress;
        jpeg_mem_src(&cinfo, data, (unsigned long)size);
        jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
        jpeg_read_header(&cinfo, TRUE);
        st = image_check_size(cinfo.image_width, cinfo.image_height, opt, err);
        if (st == AN_OK) {
                bool cmyk = cinfo.jpeg_color_space == JCS_CMYK ||
                            cinfo.jpeg_color_space == JCS_YCCK;
                cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
                cinfo.scale_num = 1;
                cinfo.scale_denom =
                        opt->reduced_jpeg ? dct_denominator(cinfo.image_width,
                                                            cinfo.image_height,
                                                            opt->resize_side)
                                          : 1;
                orientation = orientation_of(&cinfo);
                jpeg_start_decompress(&cinfo);
                st = image_alloc(img, (int)cinfo.output_width,
                                 (int)cinfo.output_height, opt, err);
                if (st == AN_OK && cmyk &&
                    !(cmyk_row = malloc((size_t)img->width * 4)))
                        st = an_error_set(err, AN_E_NOMEM, "out of memory");
                if (st == AN_OK) {
                        read_pixels(&cinfo, img, cmyk_row);
                        jpeg_finish_decompress(&cinfo);
                }
        }
        jpeg_destroy_decompress(&cinfo);
        free(cmyk_row);
        if (st == AN_OK && orientation != 1)
                st = image_orient(img, orientation, err);
        return st;
}
