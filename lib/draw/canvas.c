#include "draw/canvas.h"

#include <string.h>

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
        c->surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width,
                                                height);
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

struct png_sink {
        struct atomic_file *file;
        struct an_error *err;
        enum an_status status;
};

static cairo_status_t write_chunk(void *closure, const unsigned char *data,
                                  unsigned int length)
{
        struct png_sink *s = closure;
        if (s->status == AN_OK)
                s->status = atomic_file_write(s->file, data, length, s->err);
        return s->status == AN_OK ? CAIRO_STATUS_SUCCESS
                                  : CAIRO_STATUS_WRITE_ERROR;
}

enum an_status canvas_write_png(struct canvas *c, const char *path,
                                struct an_error *err)
{
        struct atomic_file f;
        enum an_status st = atomic_file_create(&f, path, err);
        if (st != AN_OK)
                return st;
        cairo_surface_flush(c->surface);
        struct png_sink sink = {&f, err, AN_OK};
        cairo_status_t cs =
                cairo_surface_write_to_png_stream(c->surface, write_chunk,
                                                  &sink);
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
