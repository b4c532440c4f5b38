#include "backward.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "gemm.h"
#include "gemm_conv.h"

/* ---- convolution ------------------------------------------------------ */

/* The input gradient of a stride-1 convolution is itself a stride-1
 * convolution: of dY, padded by kernel - 1 - pad, with each group's
 * weights transposed (in and out channels swapped) and flipped in both
 * axes.  So it runs on the implicit-GEMM driver of the forward pass and
 * nothing is unfolded or folded.  Other strides take the general path:
 * W^T dY per image, then folded back (col2im). */
static bool input_gradient_is_conv(const struct window *win)
{
        return win->stride_h == 1 && win->stride_w == 1;
}

size_t conv_backward_workspace_floats(const struct conv_params *p,
                                      struct shape in, int batch)
{
        (void)batch;
        int oh = window_out_h(&p->win, in.h), ow = window_out_w(&p->win, in.w);
        size_t k = (size_t)(p->in_c / p->groups) * p->win.kernel_h *
                   p->win.kernel_w;
        if (input_gradient_is_conv(&p->win))
                return k * (size_t)(p->out_c / p->groups); /* flipped W_g */
        return k * (size_t)oh * ow; /* one image's W_g^T dY */
}

/* dst[x0 + ox * stride] += src[ox] for the output columns ox whose input
 * column lies inside the row (0 <= x0 + ox * stride < width). */
static void add_row(const float *src, int out_w, int x0, int stride, int width,
                    float *dst)
{
        int lo = x0 >= 0 ? 0 : (-x0 + stride - 1) / stride;
        int hi = width - 1 - x0 < 0 ? 0 : (width - 1 - x0) / stride + 1;
        if (hi > out_w)
                hi = out_w;
        for (int ox = lo; ox < hi; ox++)
                dst[x0 + ox * stride] += src[ox];
}

/* Adds one image's columns back to the input positions they were read
 * from (col2im), channels c0.. of dx.  Parallel over channels: each plane
 * is written by one thread, taps in a fixed order. */
static void fold(const float *dcol, int c0, int channels, struct shape in,
                 const struct window *win, int oh, int ow, float *dx)
{
        int taps = win->kernel_h * win->kernel_w;
        size_t plane = (size_t)oh * ow;
#pragma omp parallel for schedule(static)
        for (int c = 0; c < channels; c++) {
                float *dst = dx + (size_t)(c0 + c) * in.h * in.w;
                for (int t = 0; t < taps; t++) {
                        int ky = t / win->kernel_w, kx = t % win->kernel_w;
                        const float *src =
                                dcol + ((size_t)c * taps + t) * plane;
                        for (int oy = 0; oy < oh; oy++) {
                                int iy = oy * win->stride_h - win->pad_top + ky;
                                if (iy >= 0 && iy < in.h)
                                        add_row(src + (size_t)oy * ow, ow,
                                                kx - win->pad_left,
                                                win->stride_w, in.w,
                                                dst + (size_t)iy * in.w);
                        }
                }
        }
}

/* Group weights w (out_g x in_g x kh x kw) as the weights of the
 * convolution that maps dY to dX: out[c][o][kh-1-ky][kw-1-kx]. */
static void flip_weights(const float *w, int out_g, int in_g, int kh, int kw,
                         float *out)
{
        int taps = kh * kw;
#pragma omp parallel for schedule(static)
        for (int c = 0; c < in_g; c++)
                for (int o = 0; o < out_g; o++)
                        for (int t = 0; t < taps; t++)
                                out[((size_t)c * out_g + o) * taps + taps - 1 -
                                    t] = w[((size_t)o * in_g + c) * taps + t];
}

/* The geometry shared by the gradients of one group. */
struct conv_group {
        const struct conv_params *p;
        int batch, g, in_g, out_g, oh, ow;
        struct shape in;
        size_t k, plane, in_stride, out_stride;
};

static enum an_status input_gradient_by_conv(const struct conv_group *cg,
                                             const float *weight,
                                             const float *dy, float *dx,
                                             float *flipped)
{
        const struct window *w = &cg->p->win;
        struct window back = {w->kernel_h,
                              w->kernel_w,
                              1,
                              1,
                              w->kernel_h - 1 - w->pad_top,
                              w->kernel_w - 1 - w->pad_left,
                              w->kernel_h - 1 - w->pad_bottom,
                              w->kernel_w - 1 - w->pad_right};
        flip_weights(weight + (size_t)cg->g * cg->out_g * cg->k, cg->out_g,
                     cg->in_g, w->kernel_h, w->kernel_w, flipped);
        struct conv_input b = {dy + (size_t)cg->g * cg->out_g * cg->plane,
                               cg->out_stride,
                               cg->batch,
                               cg->out_g,
                               (struct shape){cg->p->out_c, cg->oh, cg->ow},
                               &back,
                               cg->in.h,
                               cg->in.w};
        struct conv_output out = {dx + (size_t)cg->g * cg->in_g * cg->in.h *
                                                  cg->in.w,
                                  cg->in_stride};
        return sgemm_conv(NULL, flipped, (size_t)cg->in_g, &b, &out, NULL);
}

static enum an_status input_gradient_by_fold(const struct conv_group *cg,
                                             const float *weight,
                                             const float *dy, float *dx,
                                             float *dcol)
{
        const float *wg = weight + (size_t)cg->g * cg->out_g * cg->k;
        for (int n = 0; n < cg->batch; n++) {
                /* dcol = W_g^T dY_g for image n */
                enum an_status st =
                        sgemm(true, false, cg->k, cg->plane, (size_t)cg->out_g,
                              1.0f, wg, cg->k,
                              dy + n * cg->out_stride +
                                      (size_t)cg->g * cg->out_g * cg->plane,
                              cg->plane, 0.0f, dcol, cg->plane);
                if (st != AN_OK)
                        return st;
                fold(dcol, cg->g * cg->in_g, cg->in_g, cg->in, &cg->p->win,
                     cg->oh, cg->ow, dx + n * cg->in_stride);
        }
        return AN_OK;
}

static void bias_gradient(int channels, int batch, size_t plane,
                          const float *dy, float *dbias)
{
#pragma omp parallel for schedule(static)
        for (int c = 0; c < channels; c++) {
                double sum = 0;
                for (int n = 0; n < batch; n++)
                        for (size_t i = 0; i < plane; i++)
                                sum += dy[((size_t)n * channels + c) * plane +
                                          i];
                dbias[c] = (float)sum;
        }
}

enum an_status conv_backward(const struct conv_params *p, int batch,
                             struct shape in, const float *x,
                             const float *weight, const float *dy, float *dx,
                             float *dweight, float *dbias, float *workspace)
{
        struct conv_group cg = {.p = p,
                                .batch = batch,
                                .in_g = p->in_c / p->groups,
                                .out_g = p->out_c / p->groups,
                                .oh = window_out_h(&p->win, in.h),
                                .ow = window_out_w(&p->win, in.w),
                                .in = in,
                                .in_stride = shape_count(in)};
        cg.k = (size_t)cg.in_g * p->win.kernel_h * p->win.kernel_w;
        cg.plane = (size_t)cg.oh * cg.ow;
        cg.out_stride = (size_t)p->out_c * cg.plane;
        bool by_conv = input_gradient_is_conv(&p->win);
        if (dx && !by_conv)
                memset(dx, 0, batch * cg.in_stride * sizeof *dx);
        for (cg.g = 0; cg.g < p->groups; cg.g++) {
                struct conv_input b = {x + (size_t)cg.g * cg.in_g * in.h * in.w,
                                       cg.in_stride,
                                       batch,
                                       cg.in_g,
                                       in,
                                       &p->win,
                                       cg.oh,
                                       cg.ow};
                enum an_status st = sgemm_conv_weight_grad(
                        dy + (size_t)cg.g * cg.out_g * cg.plane, cg.out_stride,
                        (size_t)cg.out_g, &b,
                        dweight + (size_t)cg.g * cg.out_g * cg.k);
                if (st == AN_OK && dx)
                        st = by_conv ? input_gradient_by_conv(&cg, weight, dy,
                                                              dx, workspace)
                                     : input_gradient_by_fold(&cg, weight, dy,
                                                              dx, workspace);
                if (st != AN_OK)
                        return st;
        }
        if (dbias)
                bias_gradient(p->out_c, batch, cg.plane, dy, dbias);
        return AN_OK;
}

/* ---- fully connected -------------------------------------------------- */

enum an_status linear_backward(int in_features, int out_features, int batch,
                               const float *x, const float *weight,
                               const float *dy, float *dx, float *dweight,
                               float *dbias)
{
        /* dW = dY^T X, dX = dY W */
        enum an_status st =
                sgemm(true, false, out_features, in_features, batch, 1.0f, dy,
                      out_features, x, in_features, 0.0f, dweight, in_features);
        if (st == AN_OK && dx)
                st = sgemm(false, false, batch, in_features, out_features, 1.0f,
                           dy, out_features, weight, in_features, 0.0f, dx,
                           in_features);
        if (st == AN_OK && dbias) {
#pragma omp parallel for schedule(static)
                for (int o = 0; o < out_features; o++) {
                        double sum = 0;
                        for (int n = 0; n < batch; n++)
                                sum += dy[(size_t)n * out_features + o];
                        dbias[o] = (float)sum;
                }
        }
        return st;
}

/* ---- element-wise and pooling ----------------------------------------- */

void relu_backward(size_t count, const float *y, const float *dy, float *dx)
{
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < count; i++)
                dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
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
                        bool take = (v > top) | (v != v);
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
                bool take = (v > top) | (v != v);                              \
                best = take ? i : best;                                        \
                top = take ? v : top;                                          \
        } while (0)

/* window_argmax of n 3 x 3 windows inside the plane, side by side in one
 * row of output, the first at offset first, the next 2 to the right:
 * AlexNet's pooling.  The windows are independent, so the compiler
 * vectorises across them and their chains of comparisons overlap (one
 * window at a time waited on each comparison: pool1's backward at batch
 * 64 took 27 ms). */
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

void maxpool_backward(const struct window *win, int batch, struct shape in,
                      const float *x, const float *dy, float *dx)
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
                                        dst[idx[t]] += g[oy * ow + ox_lo + t];
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
                                        dst[window_argmax(src, in.w, ylo, yhi,
                                                          xlo, xhi)] +=
                                                g[oy * ow + ox];
                        }
                }
        }
}

void adaptive_avgpool_backward(int out_h, int out_w, int batch, struct shape in,
                               const float *dy, float *dx)
{
        int planes = batch * in.c;
#pragma omp parallel for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
                float *dst = dx + (size_t)pl * in.h * in.w;
                const float *g = dy + (size_t)pl * out_h * out_w;
                memset(dst, 0, (size_t)in.h * in.w * sizeof *dst);
                for (int oy = 0; oy < out_h; oy++) {
                        int y0 = oy * in.h / out_h;
                        int y1 = ((oy + 1) * in.h + out_h - 1) / out_h;
                        for (int ox = 0; ox < out_w; ox++) {
                                int x0 = ox * in.w / out_w;
                                int x1 = ((ox + 1) * in.w + out_w - 1) / out_w;
                                float share = g[oy * out_w + ox] /
                                              (float)((y1 - y0) * (x1 - x0));
                                for (int iy = y0; iy < y1; iy++)
                                        for (int ix = x0; ix < x1; ix++)
                                                dst[iy * in.w + ix] += share;
                        }
                }
        }
}

/* ---- local response normalisation ------------------------------------- */

/* With s_i = k + a/n sum_{j in W(i)} x_j^2 and y_i = x_i s_i^-b:
 *   dx_j = dy_j s_j^-b - (2ab/n) x_j sum_{i : j in W(i)} dy_i x_i s_i^(-b-1)
 * where j in W(i) means i - before <= j <= i + after.  Two passes over
 * (sample, channel) planes: the first writes the first term and
 * t_i = dy_i x_i s_i^(-b-1) (into workspace), the second subtracts the
 * window sums of t.  Plane-wise loops vectorise; b = 0.75 avoids pow. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
lrn_first_term(const float *x, const float *dy, const float *sum, size_t n,
               float k, float scale, float beta, float *dx, float *t)
{
        for (size_t i = 0; i < n; i++) {
                float s = k + scale * sum[i], sb;
                if (beta == 0.75f) {
                        float r = 1.0f / sqrtf(s);
                        sb = r * sqrtf(r);
                } else {
                        sb = powf(s, -beta);
                }
                dx[i] = dy[i] * sb;
                t[i] = dy[i] * x[i] * sb / s;
        }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) static void
lrn_accumulate(const float *x, const float *a, size_t n, float factor,
               float *acc, int square)
{
        if (square)
                for (size_t i = 0; i < n; i++)
                        acc[i] += a[i] * a[i];
        else if (x)
                for (size_t i = 0; i < n; i++)
                        acc[i] -= factor * x[i] * a[i];
        else
                for (size_t i = 0; i < n; i++)
                        acc[i] += a[i];
}

enum { LRN_CHUNK = 1024 };

void lrn_backward(const struct lrn_params *p, int batch, struct shape in,
                  const float *x, const float *dy, float *dx, float *workspace)
{
        size_t plane = (size_t)in.h * in.w;
        int before = p->size / 2, after = (p->size - 1) / 2;
        float scale = (float)(p->alpha / p->size);
        float k = (float)p->k, beta = (float)p->beta;
        float factor = 2.0f * scale * beta;
        float *t = workspace;
#pragma omp parallel for collapse(2) schedule(static)
        for (int n = 0; n < batch; n++)
                for (int c = 0; c < in.c; c++) {
                        size_t base = (size_t)n * shape_count(in);
                        int lo = c - before < 0 ? 0 : c - before;
                        int hi = c + after >= in.c ? in.c - 1 : c + after;
                        float sum[LRN_CHUNK];
                        for (size_t i0 = 0; i0 < plane; i0 += LRN_CHUNK) {
                                size_t m = plane - i0 < LRN_CHUNK ? plane - i0
                                                                  : LRN_CHUNK;
                                memset(sum, 0, m * sizeof *sum);
                                for (int j = lo; j <= hi; j++)
                                        lrn_accumulate(
                                                NULL, x + base + j * plane + i0,
                                                m, 0, sum, 1);
                                size_t at = base + c * plane + i0;
                                lrn_first_term(x + at, dy + at, sum, m, k,
                                               scale, beta, dx + at, t + at);
                        }
                }
#pragma omp parallel for collapse(2) schedule(static)
        for (int n = 0; n < batch; n++)
                for (int c = 0; c < in.c; c++) {
                        size_t base = (size_t)n * shape_count(in);
                        /* channels i whose window holds c */
                        int lo = c - after < 0 ? 0 : c - after;
                        int hi = c + before >= in.c ? in.c - 1 : c + before;
                        float sum[LRN_CHUNK];
                        for (size_t i0 = 0; i0 < plane; i0 += LRN_CHUNK) {
                                size_t m = plane - i0 < LRN_CHUNK ? plane - i0
                                                                  : LRN_CHUNK;
                                memset(sum, 0, m * sizeof *sum);
                                for (int j = lo; j <= hi; j++)
                                        lrn_accumulate(
                                                NULL, t + base + j * plane + i0,
                                                m, 0, sum, 0);
                                size_t at = base + c * plane + i0;
                                lrn_accumulate(x + at, sum, m, factor, dx + at,
                                               0);
                        }
                }
}

/* ---- loss ------------------------------------------------------------- */

double softmax_cross_entropy(int batch, int classes, const float *logits,
                             const int *labels, float *dlogits, int *correct)
{
        double loss = 0;
        int right = 0;
        for (int n = 0; n < batch; n++) {
                const float *z = logits + (size_t)n * classes;
                float *d = dlogits + (size_t)n * classes;
                int arg = 0;
                for (int c = 1; c < classes; c++)
                        if (z[c] > z[arg])
                                arg = c;
                double sum = 0;
                for (int c = 0; c < classes; c++)
                        sum += exp((double)z[c] - z[arg]);
                double log_sum = log(sum) + z[arg];
                loss += log_sum - z[labels[n]];
                right += arg == labels[n];
                for (int c = 0; c < classes; c++)
                        d[c] = (float)((exp(z[c] - log_sum) -
                                        (c == labels[n])) /
                                       batch);
        }
        if (correct)
                *correct = right;
        return loss / batch;
}
