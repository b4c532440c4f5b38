#include "pool.h"

#include <float.h>
#include <stdbool.h>
#include <string.h>

/* The larger of a and b, NaN winning as in PyTorch. */
static inline float max_nan(float a, float b)
{
        return (b > a) | (b != b) ? b : a;
}

/* One output row of one plane: the column-wise max of the window's input
 * rows (a contiguous, vectorisable pass), then the max over each window's
 * columns.  Taps in the padding are skipped. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
maxpool_row(const struct window *win, struct shape in, const float *src, int oy,
            int out_w, float *restrict colmax, float *restrict dst)
{
        int y0 = oy * win->stride_h - win->pad_top;
        int lo = y0 < 0 ? 0 : y0;
        int hi = y0 + win->kernel_h > in.h ? in.h : y0 + win->kernel_h;
        memcpy(colmax, src + (size_t)lo * in.w, in.w * sizeof *colmax);
        for (int iy = lo + 1; iy < hi; iy++) {
                const float *row = src + (size_t)iy * in.w;
                for (int x = 0; x < in.w; x++)
                        colmax[x] = max_nan(colmax[x], row[x]);
        }
        int ox = 0;
        if (win->kernel_w == 3 && win->pad_left == 0) {
                /* AlexNet's 3-wide windows inside the row, with fixed
                 * taps; at stride 2 a counted loop with a constant stride,
                 * which GCC vectorises (the loop after it does not:
                 * pool1 at batch 32 took 2.3 ms alone, now 1.3) */
                int s = win->stride_w;
                int n = in.w >= 3 ? (in.w - 3) / 2 + 1 : 0;
                if (s == 2)
                        for (ox = 0; ox < (n < out_w ? n : out_w); ox++)
                                dst[ox] = max_nan(max_nan(colmax[2 * ox],
                                                          colmax[2 * ox + 1]),
                                                  colmax[2 * ox + 2]);
                for (; ox < out_w && ox * s + 2 < in.w; ox++)
                        dst[ox] = max_nan(
                                max_nan(colmax[ox * s], colmax[ox * s + 1]),
                                colmax[ox * s + 2]);
        }
        for (; ox < out_w; ox++) {
                int x0 = ox * win->stride_w - win->pad_left;
                int xlo = x0 < 0 ? 0 : x0;
                int xhi = x0 + win->kernel_w > in.w ? in.w : x0 + win->kernel_w;
                float best = colmax[xlo];
                for (int x = xlo + 1; x < xhi; x++)
                        best = max_nan(best, colmax[x]);
                dst[ox] = best;
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
                float colmax[COLMAX_WIDTH];
                const float *src = x + (size_t)pl * in.h * in.w;
                float *dst = y + (size_t)pl * out_h * out_w;
                for (int oy = 0; oy < out_h; oy++) {
                        float *out = dst + (size_t)oy * out_w;
                        if (in.w <= COLMAX_WIDTH)
                                maxpool_row(win, in, src, oy, out_w, colmax,
                                            out);
                        else
                                maxpool_row_direct(win, in, src, oy, out_w,
                                                   out);
                }
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
