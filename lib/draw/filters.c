#include "draw/filters.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "draw/canvas.h"

enum { TITLE_HEIGHT = 28, MIN_WIDTH = 360 };

void filter_layout_of(const struct filter_grid *g, struct filter_layout *l)
{
        int side = g->kh > g->kw ? g->kh : g->kw;
        /* tiles large enough to see: about 30 pixels in colour, 15 grey */
        int want = g->colour ? 30 : 15;
        l->scale = side >= want ? 1 : (want + side - 1) / side;
        int gap = g->colour ? 3 : 1;
        l->step = side * l->scale + gap;
        l->margin = 8;
        l->top = g->title ? TITLE_HEIGHT : l->margin;
        if (g->colour) {
                l->columns = (int)ceil(sqrt(1.5 * g->filters));
                l->rows = (g->filters + l->columns - 1) / l->columns;
        } else {
                l->columns = g->channels;
                l->rows = g->filters;
        }
        long width = 2L * l->margin + (long)l->columns * l->step - gap;
        long height = l->top + l->margin + (long)l->rows * l->step - gap;
        l->width = (int)(width < MIN_WIDTH ? MIN_WIDTH
                         : width > 1 << 30 ? 1 << 30
                                           : width);
        l->height = (int)(height > 1 << 30 ? 1 << 30 : height);
}

void filter_normalise(const float *kernel, int count, float *out)
{
        float lo = kernel[0], hi = kernel[0];
        for (int i = 1; i < count; i++) {
                lo = kernel[i] < lo ? kernel[i] : lo;
                hi = kernel[i] > hi ? kernel[i] : hi;
        }
        float range = hi - lo;
        for (int i = 0; i < count; i++)
                out[i] = range > 0 && isfinite(range) ? (kernel[i] - lo) / range
                                                      : 0.5f;
}

static uint32_t opaque(float r, float g, float b)
{
        return 0xff000000u | (uint32_t)lrintf(r * 255) << 16 |
               (uint32_t)lrintf(g * 255) << 8 | (uint32_t)lrintf(b * 255);
}

/* One tile of kh x kw values (stride `plane` between colour channels, or
 * grey when plane is 0) at pixel (x, y) of the block, each value a
 * scale x scale square. */
static void put_tile(struct pixels *px, const struct filter_layout *l, int x,
                     int y, const float *v, int kh, int kw, long plane,
                     bool bgr)
{
        for (int i = 0; i < kh * l->scale; i++) {
                uint32_t *row = px->data + (size_t)(y + i) * px->stride;
                for (int j = 0; j < kw * l->scale; j++) {
                        const float *p = v + (i / l->scale) * kw + j / l->scale;
                        float r = p[0], g = p[plane], b = p[2 * plane];
                        row[x + j] = bgr ? opaque(b, g, r) : opaque(r, g, b);
                }
        }
}

/* Every tile into the block, whose (0, 0) is the first tile's corner;
 * the gaps white. */
static void draw_tiles(struct pixels *px, const struct filter_grid *g,
                       const struct filter_layout *l, float *normalised)
{
        for (size_t i = 0; i < (size_t)px->stride * px->height; i++)
                px->data[i] = 0xffffffffu;
        int per_channel = g->kh * g->kw;
        int per_filter = g->channels * per_channel;
        for (int f = 0; f < g->filters; f++) {
                filter_normalise(g->weights + (size_t)f * per_filter,
                                 per_filter, normalised);
                if (g->colour) {
                        put_tile(px, l, (f % l->columns) * l->step,
                                 (f / l->columns) * l->step, normalised, g->kh,
                                 g->kw, per_channel, g->bgr);
                        continue;
                }
                for (int ch = 0; ch < g->channels; ch++)
                        put_tile(px, l, ch * l->step, f * l->step,
                                 normalised + (size_t)ch * per_channel, g->kh,
                                 g->kw, 0, false);
        }
}

enum an_status draw_filters(const struct filter_grid *g, const char *path,
                            struct an_error *err)
{
        if (g->filters < 1 || g->channels < 1 || g->kh < 1 || g->kw < 1 ||
            (g->colour && g->channels != 3))
                return an_error_set(err, AN_E_INVALID, "no kernels to draw");
        struct filter_layout l;
        filter_layout_of(g, &l);
        struct canvas c;
        enum an_status st = canvas_create(&c, l.width, l.height, err);
        if (st != AN_OK)
                return st;
        int side = g->kh > g->kw ? g->kh : g->kw;
        int gap = l.step - side * l.scale;
        struct pixels px;
        st = pixels_create(&px, l.columns * l.step - gap, l.rows * l.step - gap,
                           err);
        float *normalised = malloc((size_t)g->channels * g->kh * g->kw *
                                   sizeof *normalised);
        if (st != AN_OK || !normalised) {
                if (st == AN_OK)
                        pixels_free(&px);
                free(normalised);
                canvas_free(&c);
                return st != AN_OK
                               ? st
                               : an_error_set(err, AN_E_NOMEM, "out of memory");
        }
        draw_tiles(&px, g, &l, normalised);
        canvas_put_pixels(&c, &px, l.margin, l.top);
        pixels_free(&px);
        free(normalised);
        if (g->title) {
                cairo_set_source_rgb(c.cr, 0, 0, 0);
                canvas_text(&c, l.margin, TITLE_HEIGHT / 2.0, 14, ANCHOR_LEFT,
                            0, g->title);
        }
        st = canvas_write(&c, path, err);
        canvas_free(&c);
        return st;
}
