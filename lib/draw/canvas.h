/* A picture being drawn, and how it reaches a file.
 *
 * Drawing is cairo's (lines, filled shapes, anti-aliased text in the
 * system's sans-serif face, PNG, SVG and PDF encoding); this file adds
 * what every picture of this tool shares: a white page of a checked size,
 * text anchored where a chart needs it, blocks of pixels placed exactly,
 * and an atomic write (the file is complete or left as it was, as every
 * other file this tool writes) in the format the file's name asks for.
 * Everything is recorded first, then replayed into that format, so SVG
 * and PDF keep lines and text as vectors.
 *
 *     struct canvas c;
 *     canvas_create(&c, 640, 480, &err);
 *     cairo_rectangle(c.cr, ...); cairo_fill(c.cr);
 *     canvas_text(&c, x, y, 12, ANCHOR_CENTRE, "conv1");
 *     canvas_write_png(&c, "out.png", &err);
 *     canvas_free(&c); */
#ifndef ALEXNET_CANVAS_H
#define ALEXNET_CANVAS_H

#include <cairo.h>
#include <stdint.h>

#include "base/errors.h"

/* Larger pictures are refused (cairo's own limit is 32767). */
enum { CANVAS_MAX_SIDE = 16384 };

struct canvas {
        cairo_surface_t *surface; /* a recording surface */
        cairo_t *cr;
        int width, height;
};

/* A block of pixels to fill, then place with canvas_put_pixels. */
struct pixels {
        cairo_surface_t *surface; /* ARGB32 */
        uint32_t *data;           /* rows of `stride` pixels, 0xffRRGGBB */
        int width, height, stride;
};

/* Which point of a line of text (x, y) names. */
enum text_anchor {
        ANCHOR_LEFT,   /* x at the start, y at the middle of the text */
        ANCHOR_CENTRE, /* x at the middle */
        ANCHOR_RIGHT,  /* x at the end */
};

/* A white canvas; AN_E_INVALID when a side is not within
 * 1..CANVAS_MAX_SIDE. */
enum an_status canvas_create(struct canvas *c, int width, int height,
                             struct an_error *err);
void canvas_free(struct canvas *c);

/* Draws text of `size` pixels in the current colour, vertically centred on
 * y; rotated a quarter turn anticlockwise when `vertical` (an axis
 * title).  Returns its width in pixels. */
double canvas_text(struct canvas *c, double x, double y, double size,
                   enum text_anchor anchor, int vertical, const char *text);

/* Width in pixels that canvas_text would take. */
double canvas_text_width(struct canvas *c, double size, const char *text);

/* Sets the current colour from 0..1 components. */
void canvas_colour(struct canvas *c, const double rgb[3]);

/* An opaque black block of width x height pixels; AN_E_NOMEM. */
enum an_status pixels_create(struct pixels *p, int width, int height,
                             struct an_error *err);
void pixels_free(struct pixels *p);
/* Places the block with its top-left corner at (x, y), each pixel one
 * pixel of the picture (no smoothing). */
void canvas_put_pixels(struct canvas *c, struct pixels *p, int x, int y);

/* Writes the picture to path, atomically: SVG when the name ends in
 * ".svg", PDF in ".pdf", otherwise PNG. */
enum an_status canvas_write(struct canvas *c, const char *path,
                            struct an_error *err);

#endif
