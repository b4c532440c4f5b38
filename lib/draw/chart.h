/* Line charts: one or more panels side by side, each with its axes, ticks,
 * grid, legend and series of (x, y) points.  A y value that is NaN leaves
 * a gap (an epoch without validation).
 *
 * The training curves are two panels: loss, and top-1 / top-5 accuracy.
 * The layout a chart was drawn with is returned, so that a test can find
 * where a data point must be in the picture. */
#ifndef ALEXNET_CHART_H
#define ALEXNET_CHART_H

#include <stdbool.h>

#include "base/errors.h"

struct series {
        const char *label;
        const double *x, *y;
        int n;
        double rgb[3];
        bool dashed;
};

struct panel {
        const char *title, *x_label, *y_label;
        const struct series *series;
        int n_series;
        /* the y range when fixed (accuracy: 0..1); otherwise from the data */
        bool fixed_y;
        double y_min, y_max;
};

/* Where a panel's plot area is (pixels) and which data range it shows. */
struct plot_area {
        double left, top, width, height;
        double x_min, x_max, y_min, y_max;
};

double plot_x(const struct plot_area *a, double x);
double plot_y(const struct plot_area *a, double y);

/* Draws n panels of panel_width x panel_height pixels side by side into a
 * PNG at path; areas (n of them, or NULL) receive their layouts. */
enum an_status draw_chart(const struct panel *panels, int n, int panel_width,
                          int panel_height, const char *path,
                          struct plot_area *areas, struct an_error *err);

/* Tick spacing of 1, 2 or 5 times a power of ten giving about `count`
 * ticks over [lo, hi]. */
double nice_step(double lo, double hi, int count);

#endif
