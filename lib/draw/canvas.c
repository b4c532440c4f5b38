#include "draw/canvas.h"

#include <cairo-pdf.h>
#include <stdbool.h>
#include <cairo-svg.h>
#include <string.h>
#include <strings.h>

#include "base/atomic_file.h"

enum an_status canvas_create(struct canvas *c, int width, int height,
                             struct an_error *err)
{
        memset(c, 0, sizeof *c);
        if (width < 1 || height < 1 || width > CANVAS_MAX_SIDE ||
            height > CANVAS_MAX_SIDE)
                return an_error_set(err, AN_E_INVALID,
                                    "a picture of %d x %d pixels is too large "
                                    "to draw (at most %d on a side)",
                                    width, height, CANVAS_MAX_SIDE);
        cairo_rectangle_t extents = {0, 0, width, height};
        c->surface = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA,
                                                    &extents);
        if (cairo_surface_status(c->surface) != CAIRO_STATUS_SUCCESS) {
                canvas_free(c);
                return an_error_set(err, AN_E_NOMEM,
                                    "out of memory for a %d x %d picture",
                                    width, height);
        }
        c->cr = cairo_create(c->surface);
        c->width = width;
        c->height = height;
        cairo_set_source_rgb(c->cr, 1, 1, 1);
        cairo_paint(c->cr);
        cairo_select_font_face(c->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                               CAIRO_FONT_WEIGHT_NORMAL);
        return AN_OK;
}

void canvas_free(struct canvas *c)
{
        if (c->cr)
                cairo_destroy(c->cr);
        if (c->surface)
                cairo_surface_destroy(c->surface);
        memset(c, 0, sizeof *c);
}

double canvas_text_width(struct canvas *c, double size, const char *text)
{
        cairo_text_extents_t e;
        cairo_set_font_size(c->cr, size);
        cairo_text_extents(c->cr, text, &e);
        return e.x_advance;
}

double canvas_text(struct canvas *c, double x, double y, double size,
                   enum text_anchor anchor, int vertical, const char *text)
{
        double width = canvas_text_width(c, size, text);
        double shift = anchor == ANCHOR_LEFT     ? 0
                       : anchor == ANCHOR_CENTRE ? width / 2
                                                 : width;
        cairo_save(c->cr);
        cairo_translate(c->cr, x, y);
        if (vertical)
                cairo_rotate(c->cr, -1.5707963267948966);
        /* cap height is about 0.7 of the size: centre it on y */
        cairo_move_to(c->cr, -shift, 0.35 * size);
        cairo_show_text(c->cr, text);
        cairo_restore(c->cr);
        return width;
}

void canvas_colour(struct canvas *c, const double rgb[3])
{
        cairo_set_source_rgb(c->cr, rgb[0], rgb[1], rgb[2]);
}

enum an_status pixels_create(struct pixels *p, int width, int height,
                             struct an_error *err)
{
        memset(p, 0, sizeof *p);
        p->surface =
                cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
        if (cairo_surface_status(p->surface) != CAIRO_STATUS_SUCCESS) {
                pixels_free(p);
                return an_error_set(err, AN_E_NOMEM,
                                    "out of memory for %d x %d pixels", width,
                                    height);
        }
        cairo_surface_flush(p->surface);
        p->data = (uint32_t *)cairo_image_surface_get_data(p->surface);
        p->stride = cairo_image_surface_get_stride(p->surface) / 4;
        p->width = width;
        p->height = height;
        for (size_t i = 0; i < (size_t)p->stride * height; i++)
                p->data[i] = 0xff000000u;
        return AN_OK;
}

void pixels_free(struct pixels *p)
{
        if (p->surface)
                cairo_surface_destroy(p->surface);
        memset(p, 0, sizeof *p);
}

void canvas_put_pixels(struct canvas *c, struct pixels *p, int x, int y)
{
        cairo_surface_mark_dirty(p->surface);
        cairo_save(c->cr);
        cairo_set_source_surface(c->cr, p->surface, x, y);
        cairo_pattern_set_filter(cairo_get_source(c->cr), CAIRO_FILTER_NEAREST);
        cairo_rectangle(c->cr, x, y, p->width, p->height);
        cairo_fill(c->cr);
        cairo_restore(c->cr);
}

/* Where the encoder's bytes go: the atomic file, the first error kept. */
struct sink {
        struct atomic_file *file;
        struct an_error *err;
        enum an_status status;
};

static cairo_status_t write_chunk(void *closure, const unsigned char *data,
                                  unsigned int length)
{
        struct sink *s = closure;
        if (s->status == AN_OK)
                s->status = atomic_file_write(s->file, data, length, s->err);
        return s->status == AN_OK ? CAIRO_STATUS_SUCCESS
                                  : CAIRO_STATUS_WRITE_ERROR;
}

static bool ends_with(const char *s, const char *end)
{
        size_t n = strlen(s), m = strlen(end);
        return n > m && !strcasecmp(s + n - m, end);
}

/* The recording replayed onto a surface of the file's format, encoded
 * into the sink. */
static cairo_status_t encode(struct canvas *c, const char *path,
                             struct sink *sink)
{
        bool svg = ends_with(path, ".svg"), pdf = ends_with(path, ".pdf");
        cairo_surface_t *out =
                svg   ? cairo_svg_surface_create_for_stream(write_chunk, sink,
                                                            c->width, c->height)
                : pdf ? cairo_pdf_surface_create_for_stream(write_chunk, sink,
                                                            c->width, c->height)
                      : cairo_image_surface_create(CAIRO_FORMAT_RGB24, c->width,
                                                   c->height);
        cairo_t *cr = cairo_create(out);
        cairo_set_source_surface(cr, c->surface, 0, 0);
        cairo_paint(cr);
        cairo_status_t cs = cairo_status(cr);
        cairo_destroy(cr);
        if (cs == CAIRO_STATUS_SUCCESS && !svg && !pdf)
                cs = cairo_surface_write_to_png_stream(out, write_chunk, sink);
        cairo_surface_finish(out); /* SVG and PDF write as they finish */
        if (cs == CAIRO_STATUS_SUCCESS)
                cs = cairo_surface_status(out);
        cairo_surface_destroy(out);
        return cs;
}

enum an_status canvas_write(struct canvas *c, const char *path,
                            struct an_error *err)
{
        struct atomic_file f;
        enum an_status st = atomic_file_create(&f, path, err);
        if (st != AN_OK)
                return st;
        struct sink sink = {&f, err, AN_OK};
        cairo_status_t cs = encode(c, path, &sink);
        if (sink.status == AN_OK && cs != CAIRO_STATUS_SUCCESS)
                sink.status = an_error_set(err, AN_E_IO,
                                           "cannot encode the picture: %s",
                                           cairo_status_to_string(cs));
        if (sink.status == AN_OK)
                sink.status = atomic_file_commit(&f, err);
        if (sink.status != AN_OK)
                atomic_file_abort(&f);
        return sink.status;
}
