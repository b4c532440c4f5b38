/* Pictures of a matrix and of a map over a picture.
 *
 * draw_matrix: a labelled grid of cells coloured by value (white to dark
 * blue), each with its count written in it when the cells are large
 * enough: a confusion matrix.
 * draw_overlay: a picture, and beside it the same picture under a heat
 * map in the turbo colours: where a network found the evidence for a
 * class. */
#ifndef ALEXNET_HEATMAP_H
#define ALEXNET_HEATMAP_H

#include "base/errors.h"

struct matrix_chart {
        const double *values; /* [rows][cols], 0..1: the colour */
        const long *counts;   /* [rows][cols] written in the cells, or NULL */
        int rows, cols;
        char *const *row_labels, *const *col_labels; /* or NULL: numbers */
        const char *title, *row_title, *col_title;
};

/* Cell (r, c) covers [left + c * cell, +cell) x [top + r * cell, +cell). */
struct matrix_layout {
        int left, top, cell;
};

enum an_status draw_matrix(const struct matrix_chart *m, const char *path,
                           struct matrix_layout *layout, struct an_error *err);

struct overlay {
        const unsigned char *rgb; /* [height][width][3] */
        int width, height;
        const float *heat; /* [height][width], 0..1 */
        double alpha;      /* weight of the heat colour over the picture */
        const char *title;
};

/* The picture is drawn at (left, top) and, with the heat map over it, at
 * (left + width * scale + gap, top); each pixel a scale x scale square. */
struct overlay_layout {
        int left, top, gap, scale;
};

enum an_status draw_overlay(const struct overlay *o, const char *path,
                            struct overlay_layout *layout,
                            struct an_error *err);

/* The colour of one pixel of the overlay (components 0..255). */
void overlay_pixel(const unsigned char rgb[3], float heat, double alpha,
                   unsigned char out[3]);

#endif
