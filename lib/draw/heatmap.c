#include "draw/heatmap.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "draw/canvas.h"
#include "draw/colormap.h"

static const double BLACK[3] = {0, 0, 0}, WHITE[3] = {1, 1, 1};

/* ---- matrix ---------------------------------------------------------------
 */

enum { LABEL_SIZE = 11, MAX_LABEL_WIDTH = 180 };

static const char *label_of(char *const *labels, int i, char *buf, size_t size)
{
        if (labels && labels[i])
                return labels[i];
        snprintf(buf, size, "%d", i);
        return buf;
}

static double widest_label(struct canvas *c, char *const *labels, int n)
{
        char buf[16];
        double widest = 0;
        for (int i = 0; i < n; i++)
                widest = fmax(widest, canvas_text_width(c, LABEL_SIZE,
                                                        label_of(labels, i, buf,
                                                                 sizeof buf)));
        return fmin(widest, MAX_LABEL_WIDTH);
}

static void matrix_layout_of(const struct matrix_chart *m, double row_w,
                             struct matrix_layout *l)
{
        int most = m->rows > m->cols ? m->rows : m->cols;
        l->cell = most <= 10 ? 48 : most <= 30 ? 28 : most <= 100 ? 16 : 12;
        l->left = (int)ceil(row_w) + 40;
        l->top = m->title ? 40 : 12;
}

static void draw_cells(struct canvas *c, const struct matrix_chart *m,
                       const struct matrix_layout *l)
{
        char count[32];
        double size = l->cell >= 40 ? 12 : 9;
        for (int r = 0; r < m->rows; r++)
                for (int k = 0; k < m->cols; k++) {
                        double v = m->values[(size_t)r * m->cols + k], rgb[3];
                        colormap_blues(v, rgb);
                        canvas_colour(c, rgb);
                        double x = l->left + k * l->cell,
                               y = l->top + r * l->cell;
                        cairo_rectangle(c->cr, x, y, l->cell, l->cell);
                        cairo_fill(c->cr);
                        if (!m->counts || l->cell < 28)
                                continue;
                        long n = m->counts[(size_t)r * m->cols + k];
                        if (!n)
                                continue;
                        snprintf(count, sizeof count, "%ld", n);
                        canvas_colour(c, v > 0.5 ? WHITE : BLACK);
                        canvas_text(c, x + l->cell / 2.0, y + l->cell / 2.0,
                                    size, ANCHOR_CENTRE, 0, count);
                }
}

static void draw_labels(struct canvas *c, const struct matrix_chart *m,
                        const struct matrix_layout *l)
{
        char buf[16];
        canvas_colour(c, BLACK);
        double bottom = l->top + m->rows * l->cell;
        for (int r = 0; r < m->rows; r++)
                canvas_text(c, l->left - 6, l->top + (r + 0.5) * l->cell,
                            LABEL_SIZE, ANCHOR_RIGHT, 0,
                            label_of(m->row_labels, r, buf, sizeof buf));
        for (int k = 0; k < m->cols; k++)
                canvas_text(c, l->left + (k + 0.5) * l->cell, bottom + 6,
                            LABEL_SIZE, ANCHOR_RIGHT, 1,
                            label_of(m->col_labels, k, buf, sizeof buf));
        if (m->row_title)
                canvas_text(c, 14, l->top + m->rows * l->cell / 2.0, 12,
                            ANCHOR_CENTRE, 1, m->row_title);
        if (m->title)
                canvas_text(c, 12, 20, 14, ANCHOR_LEFT, 0, m->title);
}

enum an_status draw_matrix(const struct matrix_chart *m, const char *path,
                           struct matrix_layout *layout, struct an_error *err)
{
        /* a scratch canvas measures the labels */
        struct canvas c;
        enum an_status st = canvas_create(&c, 1, 1, err);
        if (st != AN_OK)
                return st;
        double row_w = widest_label(&c, m->row_labels, m->rows);
        double col_w = widest_label(&c, m->col_labels, m->cols);
        canvas_free(&c);
        struct matrix_layout l;
        matrix_layout_of(m, row_w, &l);
        long width = l.left + (long)m->cols * l.cell + 16;
        long height = l.top + (long)m->rows * l.cell + (long)col_w + 44;
        if (width > CANVAS_MAX_SIDE || height > CANVAS_MAX_SIDE)
                width = height = CANVAS_MAX_SIDE + 1; /* refused below */
        st = canvas_create(&c, (int)width, (int)height, err);
        if (st != AN_OK)
                return st;
        draw_cells(&c, m, &l);
        draw_labels(&c, m, &l);
        if (m->col_title)
                canvas_text(&c, l.left + m->cols * l.cell / 2.0, height - 12,
                            12, ANCHOR_CENTRE, 0, m->col_title);
        st = canvas_write(&c, path, err);
        canvas_free(&c);
        if (layout)
                *layout = l;
        return st;
}

/* ---- overlay --------------------------------------------------------------
 */

void overlay_pixel(const unsigned char rgb[3], float heat, double alpha,
                   unsigned char out[3])
{
        double colour[3];
        colormap_turbo(heat, colour);
        for (int c = 0; c < 3; c++)
                out[c] = (unsigned char)lrint((1 - alpha) * rgb[c] +
                                              alpha * 255 * colour[c]);
}

/* The picture, with the heat map over it or not, scaled, into px. */
static void put_pixels(struct pixels *px, const struct overlay *o, int scale,
                       bool with_heat)
{
        for (int y = 0; y < o->height * scale; y++) {
                uint32_t *row = px->data + (size_t)y * px->stride;
                for (int x = 0; x < o->width * scale; x++) {
                        size_t i = (size_t)(y / scale) * o->width + x / scale;
                        unsigned char p[3] = {o->rgb[3 * i], o->rgb[3 * i + 1],
                                              o->rgb[3 * i + 2]};
                        if (with_heat)
                                overlay_pixel(p, o->heat[i], o->alpha, p);
                        row[x] = 0xff000000u | (uint32_t)p[0] << 16 |
                                 (uint32_t)p[1] << 8 | p[2];
                }
        }
}

enum an_status draw_overlay(const struct overlay *o, const char *path,
                            struct overlay_layout *layout, struct an_error *err)
{
        struct overlay_layout l = {
                .left = 8, .top = o->title ? 32 : 8, .gap = 8};
        int side = o->width > o->height ? o->width : o->height;
        l.scale = side >= 224 ? 1 : (224 + side - 1) / side;
        long width = 2L * l.left + 2L * o->width * l.scale + l.gap;
        long height = l.top + 8L + (long)o->height * l.scale;
        struct canvas c;
        enum an_status st = canvas_create(
                &c, width > CANVAS_MAX_SIDE ? CANVAS_MAX_SIDE + 1 : (int)width,
                height > CANVAS_MAX_SIDE ? CANVAS_MAX_SIDE + 1 : (int)height,
                err);
        if (st != AN_OK)
                return st;
        /* two blocks: the recording keeps each as it was placed */
        for (int with_heat = 0; st == AN_OK && with_heat < 2; with_heat++) {
                struct pixels px;
                st = pixels_create(&px, o->width * l.scale, o->height * l.scale,
                                   err);
                if (st != AN_OK)
                        break;
                put_pixels(&px, o, l.scale, with_heat);
                canvas_put_pixels(&c, &px,
                                  l.left + with_heat *
                                                   (o->width * l.scale + l.gap),
                                  l.top);
                pixels_free(&px);
        }
        if (st != AN_OK) {
                canvas_free(&c);
                return st;
        }
        if (o->title) {
                canvas_colour(&c, BLACK);
                canvas_text(&c, l.left, 16, 14, ANCHOR_LEFT, 0, o->title);
        }
        st = canvas_write(&c, path, err);
        canvas_free(&c);
        if (layout)
                *layout = l;
        return st;
}
