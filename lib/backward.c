#include "backward.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "gemm.h"

/* ---- convolution ------------------------------------------------------ */

enum { TARGET_COLUMNS = 1024 };

static int images_per_gemm(int plane, int batch)
{
        int chunk = (TARGET_COLUMNS + plane - 1) / plane;
        return chunk < batch ? chunk : batch;
}

size_t conv_backward_workspace_floats(const struct conv_params *p,
                                      struct shape in, int batch)
{
        int oh = window_out_h(&p->win, in.h), ow = window_out_w(&p->win, in.w);
        size_t plane = (size_t)oh * ow;
        size_t chunk = (size_t)images_per_gemm((int)plane, batch);
        size_t k = (size_t)(p->in_c / p->groups) * p->win.kernel_h *
                   p->win.kernel_w;
        /* col and dcol (K x columns), dy gathered (out/g x columns) */
        return (2 * k + (size_t)(p->out_c / p->groups)) * plane * chunk;
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
        if (stride == 1)
                for (int ox = lo; ox < hi; ox++)
                        dst[x0 + ox] += src[ox];
        else
                for (int ox = lo; ox < hi; ox++)
                        dst[x0 + ox * stride] += src[ox];
}

/* Adds the columns back to the input positions they were read from
 * (col2im).  Parallel over (image, channel): each dx plane is written by
 * one thread, taps in a fixed order. */
static void fold(const float *dcol, int images, int c0, int channels,
                 struct shape in, const struct window *win, int oh, int ow,
                 float *dx, size_t image_stride)
{
        int taps = win->kernel_h * win->kernel_w;
        size_t plane = (size_t)oh * ow;
#pragma omp parallel for collapse(2) schedule(static)
        for (int n = 0; n < images; n++)
                for (int c = 0; c < channels; c++) {
                        float *dst = dx + n * image_stride +
                                     (size_t)(c0 + c) * in.h * in.w;
                        for (int t = 0; t < taps; t++) {
                                int ky = t / win->kernel_w,
                                    kx = t % win->kernel_w;
                                const float *src =
                                        dcol +
                                        (((size_t)c * taps + t) * images + n) *
                                                plane;
                                for (int oy = 0; oy < oh; oy++) {
                                        int iy = oy * win->stride_h -
                                                 win->pad_top + ky;
                                        if (iy >= 0 && iy < in.h)
                                                add_row(src + (size_t)oy * ow,
                                                        ow, kx - win->pad_left,
                                                        win->stride_w, in.w,
                                                        dst + (size_t)iy *
                                                                        in.w);
                                }
                        }
                }
}

/* dy of `images` images, channels [c0, c0 + rows), as [rows][images*plane]. */
static void gather_dy(const float *dy, size_t image_stride, int images, int c0,
                      int rows, size_t plane, float *out)
{
#pragma omp parallel for collapse(2) schedule(static)
        for (int r = 0; r < rows; r++)
                for (int n = 0; n < images; n++)
                        memcpy(out + ((size_t)r * images + n) * plane,
                               dy + n * image_stride + (c0 + r) * plane,
                               plane * sizeof *out);
}

enum an_status conv_backward(const struct conv_params *p, int batch,
                             struct shape in, const float *x,
                             const float *weight, const float *dy, float *dx,
                             float *dweight, float *dbias, float *workspace)
{
        int oh = window_out_h(&p->win, in.h), ow = window_out_w(&p->win, in.w);
        size_t plane = (size_t)oh * ow;
        int in_g = p->in_c / p->groups, out_g = p->out_c / p->groups;
        size_t k = (size_t)in_g * p->win.kernel_h * p->win.kernel_w;
        size_t in_stride = shape_count(in), out_stride = p->out_c * plane;
        int chunk = images_per_gemm((int)plane, batch);
        float *col = workspace, *dcol = col + k * plane * chunk;
        float *dyg = dcol + k * plane * chunk;
        if (dx)
                memset(dx, 0, batch * in_stride * sizeof *dx);
        for (int n0 = 0; n0 < batch; n0 += chunk) {
                int images = batch - n0 < chunk ? batch - n0 : chunk;
                size_t cols = plane * images;
                for (int g = 0; g < p->groups; g++) {
                        gather_dy(dy + n0 * out_stride, out_stride, images,
                                  g * out_g, out_g, plane, dyg);
                        conv_unfold(x + n0 * in_stride, in_stride, images,
                                    g * in_g, in_g, in, &p->win, oh, ow, col);
                        /* dW_g (+)= dY_g . col^T */
                        enum an_status st =
                                sgemm(false, true, out_g, k, cols, 1.0f, dyg,
                                      cols, col, cols, n0 ? 1.0f : 0.0f,
                                      dweight + (size_t)g * out_g * k, k);
                        if (st == AN_OK && dx)
                                /* dcol = W_g^T . dY_g */
                                st = sgemm(true, false, k, cols, out_g, 1.0f,
                                           weight + (size_t)g * out_g * k, k,
                                           dyg, cols, 0.0f, dcol, cols);
                        if (st != AN_OK)
                                return st;
                        if (dx)
                                fold(dcol, images, g * in_g, in_g, in, &p->win,
                                     oh, ow, dx + n0 * in_stride, in_stride);
                }
        }
        if (dbias) {
#pragma omp parallel for schedule(static)
                for (int c = 0; c < p->out_c; c++) {
                        double sum = 0;
                        for (int n = 0; n < batch; n++)
                                for (size_t i = 0; i < plane; i++)
                                        sum += dy[n * out_stride + c * plane +
                                                  i];
                        dbias[c] = (float)sum;
                }
        }
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

void maxpool_backward(const struct window *win, int batch, struct shape in,
                      const float *x, const float *dy, float *dx)
{
        int oh = window_out_h(win, in.h), ow = window_out_w(win, in.w);
        int planes = batch * in.c;
#pragma omp parallel for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
                const float *src = x + (size_t)pl * in.h * in.w;
                const float *g = dy + (size_t)pl * oh * ow;
                float *dst = dx + (size_t)pl * in.h * in.w;
                memset(dst, 0, (size_t)in.h * in.w * sizeof *dst);
                for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox++) {
                                int y0 = oy * win->stride_h - win->pad_top;
                                int x0 = ox * win->stride_w - win->pad_left;
                                int best = -1;
                                for (int iy = y0; iy < y0 + win->kernel_h; iy++)
                                        for (int ix = x0;
                                             ix < x0 + win->kernel_w; ix++) {
                                                if (iy < 0 || iy >= in.h ||
                                                    ix < 0 || ix >= in.w)
                                                        continue;
                                                int i = iy * in.w + ix;
                                                float v = src[i];
                                                /* the forward pass's rule */
                                                if (best < 0 || v > src[best] ||
                                                    v != v)
                                                        best = i;
                                        }
                                dst[best] += g[oy * ow + ox];
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
