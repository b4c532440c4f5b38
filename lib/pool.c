#include "pool.h"

#include <float.h>
#include <stdbool.h>
#include <string.h>

/* The larger of a and b, NaN winning as in PyTorch. */
static inline float max_nan(float a, float b)
{
        return (b > a) | (b != b) ? b : a;
}

/* The column-wise max of the window's input rows lo..hi-1 (at least one):
 * a contiguous pass the compiler vectorises; AlexNet's three rows in one
 * pass rather than a copy and two. */
static inline void column_max(const float *src, int w, int lo, int hi,
                              float *restrict colmax)
{
        const float *r0 = src + (size_t)lo * w;
        if (hi - lo == 3) {
                const float *r1 = r0 + w, *r2 = r1 + w;
                for (int x = 0; x < w; x++)
                        colmax[x] = max_nan(max_nan(r0[x], r1[x]), r2[x]);
                return;
        }
        memcpy(colmax, r0, w * sizeof *colmax);
        for (int iy = lo + 1; iy < hi; iy++) {
                const float *row = src + (size_t)iy * w;
                for (int x = 0; x < w; x++)
                        colmax[x] = max_nan(colmax[x], row[x]);
        }
}

/* One output row from its column-wise maxima: the max over each window's
 * columns.  Taps in the padding are skipped. */
static inline void row_max(const struct window *win, int in_w, int out_w,
                           const float *restrict colmax, float *restrict hmax,
                           float *restrict dst)
{
        int ox = 0;
        if (win->kernel_w == 3 && win->pad_left == 0 && in_w >= 3) {
                /* AlexNet's 3-wide windows inside the row: the max of every
                 * three neighbours, a contiguous loop the compiler
                 * vectorises, then every stride-th of them */
                for (int x = 0; x + 2 < in_w; x++)
                        hmax[x] = max_nan(max_nan(colmax[x], colmax[x + 1]),
                                          colmax[x + 2]);
                for (; ox < out_w && ox * win->stride_w + 2 < in_w; ox++)
                        dst[ox] = hmax[ox * win->stride_w];
        }
        for (; ox < out_w; ox++) {
                int x0 = ox * win->stride_w - win->pad_left;
                int xlo = x0 < 0 ? 0 : x0;
                int xhi = x0 + win->kernel_w > in_w ? in_w : x0 + win->kernel_w;
                float best = colmax[xlo];
                for (int x = xlo + 1; x < xhi; x++)
                        best = max_nan(best, colmax[x]);
                dst[ox] = best;
        }
}

/* One plane, row after row, in one call: AlexNet's planes are small (13 x
 * 13 for pool5), and a call per output row, through the clone dispatch,
 * with a copy per row, cost more than the maxima (pool5 at batch 32:
 * 8,192 planes of 6 rows). */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
maxpool_plane(const struct window *win, struct shape in, const float *src,
              int out_h, int out_w, float *restrict colmax,
              float *restrict hmax, float *restrict dst)
{
        for (int oy = 0; oy < out_h; oy++, dst += out_w) {
                int y0 = oy * win->stride_h - win->pad_top;
                int lo = y0 < 0 ? 0 : y0;
                int hi = y0 + win->kernel_h > in.h ? in.h : y0 + win->kernel_h;
                column_max(src, in.w, lo, hi, colmax);
                row_max(win, in.w, out_w, colmax, hmax, dst);
        }
}

/* The same output row without scratch: each window read in full. */
static void maxpool_row_direct(const struct window *win, struct shape in,
                               const float *src, int oy, int out_w, float *dst)
{
        int y0 = oy * win->stride_h - win->pad_top;
        for (int ox = 0; ox < out_w; ox++) {
                int x0 = ox * win->stride_w - win->pad_left;
                float best = -FLT_MAX;
                bool any = false;
                for (int iy = y0; iy < y0 + win->kernel_h; iy++)
                        for (int ix = x0; ix < x0 + win->kernel_w; ix++)
                                if (iy >= 0 && iy < in.h && ix >= 0 &&
                                    ix < in.w) {
                                        float v = src[(size_t)iy * in.w + ix];
                                        best = any ? max_nan(best, v) : v;
                                        any = true;
                                }
                dst[ox] = best;
        }
}

/* Rows up to this width use a stack buffer for the column-wise max. */
enum { COLMAX_WIDTH = 2048 };

void maxpool_forward(const struct window *win, int batch, struct shape in,
                     const float *x, float *y)
{
        int out_h = window_out_h(win, in.h), out_w = window_out_w(win, in.w);
        int planes = batch * in.c;
#pragma omp parallel for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
                float colmax[COLMAX_WIDTH], hmax[COLMAX_WIDTH];
                const float *src = x + (size_t)pl * in.h * in.w;
                float *dst = y + (size_t)pl * out_h * out_w;
                if (in.w <= COLMAX_WIDTH) {
                        maxpool_plane(win, in, src, out_h, out_w, colmax, hmax,
                                      dst);
                        continue;
                }
                for (int oy = 0; oy < out_h; oy++)
                        maxpool_row_direct(win, in, src, oy, out_w,
                                           dst + (size_t)oy * out_w);
        }
}

void adaptive_avgpool_forward(int out_h, int out_w, int batch, struct shape in,
                              const float *x, float *y)
{
        int planes = batch * in.c;
        if (in.h == out_h && in.w == out_w) { /* each cell averages itself */
                if (x != y)
                        memcpy(y, x, (size_t)planes * in.h * in.w * sizeof *y);
                return;
        }
#pragma omp parallel for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
                const float *src = x + (size_t)pl * in.h * in.w;
                float *dst = y + (size_t)pl * out_h * out_w;
                for (int oy = 0; oy < out_h; oy++) {
                        int y0 = oy * in.h / out_h;
                        int y1 = ((oy + 1) * in.h + out_h - 1) / out_h;
                        for (int ox = 0; ox < out_w; ox++) {
                                int x0 = ox * in.w / out_w;
                                int x1 = ((ox + 1) * in.w + out_w - 1) / out_w;
                                float sum = 0.0f;
                                for (int iy = y0; iy < y1; iy++)
                                        for (int ix = x0; ix < x1; ix++)
                                                sum += src[iy * in.w + ix];
                                dst[oy * out_w + ox] =
                                        sum / (float)((y1 - y0) * (x1 - x0));
                        }
                }
        }
}
