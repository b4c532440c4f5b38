#include "layers/maxpool.h"

#include <float.h>
#include <stdbool.h>
#include <string.h>

/* The pooling rule, the one place it is written: scanning a window in row
 * order, whether value v replaces the best so far: a larger number, or any
 * NaN.  So the first maximum wins among equals, and a NaN wins over every
 * number (PyTorch's rule).  The forward pass takes the value, the backward
 * pass the position; both scan with this. */
static inline bool maxpool_takes(float v, float best)
{
        return (v > best) | (v != v);
}

/* The larger of a and b by the rule (b comes after a). */
static inline float max_nan(float a, float b)
{
        return maxpool_takes(b, a) ? b : a;
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

/* Where the window [ylo, yhi) x [xlo, xhi) (not empty) has its maximum,
 * by the forward pass's rule: the first maximum, or the last NaN.  No
 * branch on the data: the comparisons of a random-looking input would
 * be mispredicted half the time. */
static inline int window_argmax(const float *src, int w, int ylo, int yhi,
                                int xlo, int xhi)
{
        int best = ylo * w + xlo;
        float top = src[best];
        for (int iy = ylo; iy < yhi; iy++)
                for (int ix = xlo; ix < xhi; ix++) {
                        int i = iy * w + ix;
                        float v = src[i];
                        bool take = maxpool_takes(v, top);
                        best = take ? i : best;
                        top = take ? v : top;
                }
        return best;
}

/* One tap of a 3 x 3 window at base, in the order window_argmax takes. */
#define ARGMAX_TAP(dy, dx)                                                     \
        do {                                                                   \
                int i = base + (dy)*w + (dx);                                  \
                float v = src[i];                                              \
                bool take = maxpool_takes(v, top);                             \
                best = take ? i : best;                                        \
                top = take ? v : top;                                          \
        } while (0)

/* window_argmax of n 3 x 3 windows inside the plane, side by side in one
 * row of output, the first at offset first, the next 2 to the right:
 * AlexNet's pooling.  The windows are independent, so the compiler
 * vectorises across them and their chains of comparisons overlap (one
 * window at a time, the core waited on each comparison). */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
argmax3_stride2(const float *src, int w, int first, int n, int *restrict idx)
{
        for (int t = 0; t < n; t++) {
                int base = first + 2 * t, best = base;
                float top = src[base];
                ARGMAX_TAP(0, 1);
                ARGMAX_TAP(0, 2);
                ARGMAX_TAP(1, 0);
                ARGMAX_TAP(1, 1);
                ARGMAX_TAP(1, 2);
                ARGMAX_TAP(2, 0);
                ARGMAX_TAP(2, 1);
                ARGMAX_TAP(2, 2);
                idx[t] = best;
        }
}

/* Outputs ox_lo..ox_hi-1 of a row whose windows lie inside the plane. */
static void interior_columns(const struct window *win, int in_w, int ow,
                             int *ox_lo, int *ox_hi)
{
        int s = win->stride_w;
        *ox_lo = (win->pad_left + s - 1) / s;
        int last = in_w - win->kernel_w + win->pad_left; /* x0 + pad <= */
        *ox_hi = last < 0 ? 0 : last / s + 1;
        *ox_hi = *ox_hi < ow ? *ox_hi : ow;
        *ox_lo = *ox_lo < *ox_hi ? *ox_lo : *ox_hi;
}

/* Output rows up to this width take the vectorised 3 x 3 path. */
enum { ARGMAX_ROW = 1024 };

/* One output's gradient g to its window's winner at index i; with
 * relu_below, only if the winner is above 0 (the ReLU below let it
 * through: ReLU's gradient at 0 is 0, as PyTorch has it).  Each
 * contribution masked alike gives the bits the ReLU's own pass over the
 * sums gives. */
static inline void pass_gradient(const float *src, int i, float g,
                                 bool relu_below, float *dst)
{
        if (!relu_below || src[i] > 0.0f)
                dst[i] += g;
}

/* The gradient of each output to its window's winner; with relu_below,
 * only to winners above 0 (see maxpool_relu_backward). */
static void pool_backward(const struct window *win, int batch, struct shape in,
                          const float *x, const float *dy, float *dx,
                          bool relu_below)
{
        int oh = window_out_h(win, in.h), ow = window_out_w(win, in.w);
        int planes = batch * in.c;
        int ox_lo, ox_hi;
        interior_columns(win, in.w, ow, &ox_lo, &ox_hi);
        bool fast = win->kernel_h == 3 && win->kernel_w == 3 &&
                    win->stride_w == 2 && ow <= ARGMAX_ROW;
#pragma omp parallel for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
                const float *src = x + (size_t)pl * in.h * in.w;
                const float *g = dy + (size_t)pl * oh * ow;
                float *dst = dx + (size_t)pl * in.h * in.w;
                int idx[ARGMAX_ROW];
                memset(dst, 0, (size_t)in.h * in.w * sizeof *dst);
                for (int oy = 0; oy < oh; oy++) {
                        int y0 = oy * win->stride_h - win->pad_top;
                        int ylo = y0 < 0 ? 0 : y0;
                        int yhi = y0 + win->kernel_h < in.h ? y0 + win->kernel_h
                                                            : in.h;
                        int done_lo = 0, done_hi = 0;
                        if (fast && ylo == y0 && yhi == y0 + 3 &&
                            ox_lo < ox_hi) {
                                int n = ox_hi - ox_lo;
                                argmax3_stride2(src, in.w,
                                                y0 * in.w + ox_lo * 2 -
                                                        win->pad_left,
                                                n, idx);
                                for (int t = 0; t < n; t++)
                                        pass_gradient(src, idx[t],
                                                      g[oy * ow + ox_lo + t],
                                                      relu_below, dst);
                                done_lo = ox_lo;
                                done_hi = ox_hi;
                        }
                        for (int ox = 0; ox < ow; ox++) {
                                if (ox == done_lo && done_hi > done_lo)
                                        ox = done_hi;
                                if (ox >= ow)
                                        break;
                                int x0 = ox * win->stride_w - win->pad_left;
                                int xlo = x0 < 0 ? 0 : x0;
                                int xhi = x0 + win->kernel_w < in.w
                                                  ? x0 + win->kernel_w
                                                  : in.w;
                                if (ylo < yhi && xlo < xhi)
                                        pass_gradient(src,
                                                      window_argmax(src, in.w,
                                                                    ylo, yhi,
                                                                    xlo, xhi),
                                                      g[oy * ow + ox],
                                                      relu_below, dst);
                        }
                }
        }
}

void maxpool_backward(const struct window *win, int batch, struct shape in,
                      const float *x, const float *dy, float *dx)
{
        pool_backward(win, batch, in, x, dy, dx, false);
}

void maxpool_relu_backward(const struct window *win, int batch, struct shape in,
                           const float *x, const float *dy, float *dx)
{
        pool_backward(win, batch, in, x, dy, dx, true);
}
