#include "draw/chart.h"

#include <math.h>
#include <stdio.h>

#include "draw/canvas.h"

enum {
        MAX_TICKS = 50, /* per axis, whatever the data */
        MARGIN_LEFT = 64,
        MARGIN_RIGHT = 16,
        MARGIN_TOP = 52,
        MARGIN_BOTTOM = 44
};

static const double BLACK[3] = {0, 0, 0}, GREY[3] = {0.88, 0.88, 0.88};

double plot_x(const struct plot_area *a, double x)
{
        return a->left + (x - a->x_min) / (a->x_max - a->x_min) * a->width;
}

double plot_y(const struct plot_area *a, double y)
{
        return a->top + (a->y_max - y) / (a->y_max - a->y_min) * a->height;
}

double nice_step(double lo, double hi, int count)
{
        double raw = (hi - lo) / (count > 0 ? count : 1);
        if (!(raw > 0) || !isfinite(raw))
                return 1;
        double power = pow(10, floor(log10(raw)));
        double f = raw / power;
        return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * power;
}

/* A range that has room to draw in: an empty one widened around its
 * value, one that is not a finite span of doubles made 0..1. */
static void give_room(double *lo, double *hi)
{
        if (*lo == *hi) {
                double d = fmax(0.5, fabs(*lo) * 1e-3);
                *lo -= d, *hi += d;
        }
        if (!(*lo < *hi) || !isfinite(*hi - *lo))
                *lo = 0, *hi = 1;
}

/* The data range of a panel's series, widened to whole ticks. */
static void data_range(const struct panel *p, struct plot_area *a)
{
        double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
        for (int s = 0; s < p->n_series; s++)
                for (int i = 0; i < p->series[s].n; i++) {
                        double x = p->series[s].x[i], y = p->series[s].y[i];
                        if (!isfinite(x) || !isfinite(y))
                                continue;
                        x0 = fmin(x0, x), x1 = fmax(x1, x);
                        y0 = fmin(y0, y), y1 = fmax(y1, y);
                }
        give_room(&x0, &x1);
        if (p->fixed_y)
                y0 = p->y_min, y1 = p->y_max;
        else {
                give_room(&y0, &y1);
                double step = nice_step(y0, y1, 5);
                y0 = floor(y0 / step) * step, y1 = ceil(y1 / step) * step;
                give_room(&y0, &y1);
        }
        a->x_min = x0, a->x_max = x1, a->y_min = y0, a->y_max = y1;
}

static void tick_label(char *buf, size_t size, double v, double step)
{
        int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, size, "%.*f", decimals, fabs(v) < step * 1e-6 ? 0 : v);
}

static void draw_axes(struct canvas *c, const struct panel *p,
                      const struct plot_area *a)
{
        cairo_t *cr = c->cr;
        char label[32];
        cairo_set_line_width(cr, 1);
        double ys = nice_step(a->y_min, a->y_max, 5);
        double y0 = ceil(a->y_min / ys - 1e-9) * ys;
        /* counted, not accumulated: a step below the values' precision
         * must not loop for ever */
        for (int t = 0; t <= MAX_TICKS; t++) {
                double y = y0 + t * ys;
                if (y > a->y_max + ys * 1e-9)
                        break;
                double py = round(plot_y(a, y)) + 0.5;
                canvas_colour(c, GREY);
                cairo_move_to(cr, a->left, py);
                cairo_line_to(cr, a->left + a->width, py);
                cairo_stroke(cr);
                canvas_colour(c, BLACK);
                tick_label(label, sizeof label, y, ys);
                canvas_text(c, a->left - 6, py, 11, ANCHOR_RIGHT, 0, label);
        }
        double xs = nice_step(a->x_min, a->x_max, 8);
        if (xs < 1)
                xs = 1; /* epochs are whole */
        double x0 = ceil(a->x_min / xs - 1e-9) * xs;
        for (int t = 0; t <= MAX_TICKS; t++) {
                double x = x0 + t * xs;
                if (x > a->x_max + 1e-9)
                        break;
                double px = round(plot_x(a, x)) + 0.5;
                canvas_colour(c, BLACK);
                cairo_move_to(cr, px, a->top + a->height);
                cairo_line_to(cr, px, a->top + a->height + 4);
                cairo_stroke(cr);
                tick_label(label, sizeof label, x, xs);
                canvas_text(c, px, a->top + a->height + 13, 11, ANCHOR_CENTRE,
                            0, label);
        }
        canvas_colour(c, BLACK);
        cairo_rectangle(cr, a->left + 0.5, a->top + 0.5, a->width - 1,
                        a->height - 1);
        cairo_stroke(cr);
        if (p->x_label)
                canvas_text(c, a->left + a->width / 2, a->top + a->height + 32,
                            12, ANCHOR_CENTRE, 0, p->x_label);
        if (p->y_label)
                canvas_text(c, a->left - 48, a->top + a->height / 2, 12,
                            ANCHOR_CENTRE, 1, p->y_label);
        if (p->title)
                canvas_text(c, a->left, 14, 14, ANCHOR_LEFT, 0, p->title);
}

static void set_style(struct canvas *c, const struct series *s)
{
        static const double dash[] = {6, 4};
        canvas_colour(c, s->rgb);
        cairo_set_line_width(c->cr, 2);
        cairo_set_dash(c->cr, dash, s->dashed ? 2 : 0, 0);
}

/* The series' line (broken where y is not a number) and a dot per point,
 * so that a single epoch shows. */
static void draw_series(struct canvas *c, const struct series *s,
                        const struct plot_area *a)
{
        cairo_t *cr = c->cr;
        set_style(c, s);
        bool drawing = false;
        for (int i = 0; i < s->n; i++) {
                if (!isfinite(s->y[i]) || !isfinite(s->x[i])) {
                        drawing = false;
                        continue;
                }
                double px = plot_x(a, s->x[i]), py = plot_y(a, s->y[i]);
                if (drawing)
                        cairo_line_to(cr, px, py);
                else
                        cairo_move_to(cr, px, py);
                drawing = true;
        }
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        for (int i = 0; i < s->n; i++)
                if (isfinite(s->y[i]) && isfinite(s->x[i])) {
                        cairo_arc(cr, plot_x(a, s->x[i]), plot_y(a, s->y[i]),
                                  2.5, 0, 2 * M_PI);
                        cairo_fill(cr);
                }
}

/* One line of legend entries above the plot area. */
static void draw_legend(struct canvas *c, const struct panel *p,
                        const struct plot_area *a)
{
        double x = a->left;
        for (int s = 0; s < p->n_series; s++) {
                set_style(c, &p->series[s]);
                cairo_move_to(c->cr, x, 36);
                cairo_line_to(c->cr, x + 18, 36);
                cairo_stroke(c->cr);
                cairo_set_dash(c->cr, NULL, 0, 0);
                canvas_colour(c, BLACK);
                x += 22 +
                     canvas_text(c, x + 22, 36, 11, ANCHOR_LEFT, 0,
                                 p->series[s].label) +
                     12;
        }
}

enum an_status draw_chart(const struct panel *panels, int n, int panel_width,
                          int panel_height, const char *path,
                          struct plot_area *areas, struct an_error *err)
{
        struct canvas c;
        enum an_status st =
                canvas_create(&c, panel_width * n, panel_height, err);
        if (st != AN_OK)
                return st;
        for (int i = 0; i < n; i++) {
                struct plot_area a = {
                        .left = i * panel_width + MARGIN_LEFT,
                        .top = MARGIN_TOP,
                        .width = panel_width - MARGIN_LEFT - MARGIN_RIGHT,
                        .height = panel_height - MARGIN_TOP - MARGIN_BOTTOM};
                data_range(&panels[i], &a);
                cairo_save(c.cr);
                draw_axes(&c, &panels[i], &a);
                draw_legend(&c, &panels[i], &a);
                cairo_rectangle(c.cr, a.left, a.top, a.width, a.height);
                cairo_clip(c.cr);
                for (int s = 0; s < panels[i].n_series; s++)
                        draw_series(&c, &panels[i].series[s], &a);
                cairo_restore(c.cr);
                if (areas)
                        areas[i] = a;
        }
        st = canvas_write(&c, path, err);
        canvas_free(&c);
        return st;
}
