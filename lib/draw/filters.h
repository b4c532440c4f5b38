/* A convolution layer's kernels as a picture: the 2012 paper's Figure 3.
 *
 * A first layer (three input channels, an image's colours) draws each
 * kernel as one colour tile, in rows of about 1.5 times as many columns;
 * any other layer draws each kernel as a row of grey tiles, one per input
 * channel.  Each kernel is normalised on its own, as the paper's figure:
 * its smallest weight black, its largest white (or the full colour), so
 * that the pattern shows whatever the kernel's scale.  Tiles are blown up
 * by whole pixels (nearest neighbour): each pixel of a tile is one
 * weight. */
#ifndef ALEXNET_FILTERS_H
#define ALEXNET_FILTERS_H

#include <stdbool.h>

#include "base/errors.h"

struct filter_grid {
        const float *weights; /* [filters][channels][kh][kw], OIHW */
        int filters, channels, kh, kw;
        bool colour; /* one colour tile a kernel (channels must be 3) */
        bool bgr;    /* the channels are blue, green, red (Caffe's order) */
        const char *title;
};

/* Where the tiles are: tile (row, col) has its top-left corner at
 * (margin + col * step, top + row * step) and is scale * kw by scale * kh
 * pixels; in colour, kernel i is at row i / columns, col i % columns; in
 * grey, kernel i is row i and channel c column c. */
struct filter_layout {
        int scale, step, margin, top, columns, rows, width, height;
};

void filter_layout_of(const struct filter_grid *g, struct filter_layout *l);

/* Each kernel's weights mapped to 0..1 from its own smallest to largest
 * (all 0.5 when they are equal). */
void filter_normalise(const float *kernel, int count, float *out);

enum an_status draw_filters(const struct filter_grid *g, const char *path,
                            struct an_error *err);

#endif
