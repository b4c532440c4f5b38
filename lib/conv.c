#include "conv.h"

#include <string.h>

#include "gemm.h"

/* Images folded into one GEMM are chosen so that N reaches at least this
 * many columns (or the whole batch). */
enum { TARGET_COLUMNS = 1024 };

static struct shape conv_out_shape(const struct conv_params *p, struct shape in)
{
        return (struct shape){p->out_c, window_out_h(&p->win, in.h),
                              window_out_w(&p->win, in.w)};
}

static int images_per_gemm(const struct conv_params *p, struct shape in,
                           int batch)
{
        struct shape out = conv_out_shape(p, in);
        int plane = out.h * out.w;
        int chunk = (TARGET_COLUMNS + plane - 1) / plane;
        return chunk < batch ? chunk : batch;
}

size_t conv_workspace_floats(const struct conv_params *p, struct shape in,
                             int batch)
{
        struct shape out = conv_out_shape(p, in);
        size_t plane = (size_t)out.h * out.w;
        size_t chunk = (size_t)images_per_gemm(p, in, batch);
        size_t rows = (size_t)(p->in_c / p->groups) * p->win.kernel_h *
                      p->win.kernel_w;
        /* the unfolded input, and (with several images) the GEMM result
         * before it is scattered to NCHW */
        size_t result = chunk > 1 ? (size_t)(p->out_c / p->groups) : 0;
        return (rows + result) * plane * chunk;
}

/* Row (c, ky, kx) of one image's unfolded matrix: the input pixel under
 * kernel tap (ky, kx) for every output position; padding reads 0. */
static void im2col_row(const float *plane, struct shape in,
                       const struct window *win, int ky, int kx, int out_h,
                       int out_w, float *dst)
{
        int x0 = kx - win->pad_left;
        /* output columns whose input column lies inside the image */
        int ox_lo = x0 >= 0 ? 0 : (-x0 + win->stride_w - 1) / win->stride_w;
        int ox_hi = in.w - 1 - x0 < 0 ? 0 : (in.w - 1 - x0) / win->stride_w + 1;
        if (ox_hi > out_w)
                ox_hi = out_w;
        if (ox_lo > ox_hi)
                ox_lo = ox_hi;
        for (int oy = 0; oy < out_h; oy++) {
                int iy = oy * win->stride_h - win->pad_top + ky;
                float *out_row = dst + (size_t)oy * out_w;
                if (iy < 0 || iy >= in.h) {
                        memset(out_row, 0, out_w * sizeof *out_row);
                        continue;
                }
                const float *in_row = plane + (size_t)iy * in.w;
                for (int ox = 0; ox < ox_lo; ox++)
                        out_row[ox] = 0.0f;
                /* plain loops: rows are short (13 to 55 floats in AlexNet)
                 * and a memcpy call per row cost more than the copy */
                if (win->stride_w == 1)
                        for (int ox = ox_lo; ox < ox_hi; ox++)
                                out_row[ox] = in_row[x0 + ox];
                else
                        for (int ox = ox_lo; ox < ox_hi; ox++)
                                out_row[ox] = in_row[x0 + ox * win->stride_w];
                for (int ox = ox_hi; ox < out_w; ox++)
                        out_row[ox] = 0.0f;
        }
}

void conv_unfold(const float *x, size_t image_stride, int images, int c0,
                 int channels, struct shape in, const struct window *win,
                 int out_h, int out_w, float *col)
{
        int taps = win->kernel_h * win->kernel_w;
        size_t plane = (size_t)out_h * out_w;
        int rows = channels * taps;
#pragma omp parallel for collapse(2) schedule(static)
        for (int row = 0; row < rows; row++)
                for (int n = 0; n < images; n++) {
                        int c = row / taps;
                        im2col_row(x + n * image_stride +
                                           (size_t)(c0 + c) * in.h * in.w,
                                   in, win, row % taps / win->kernel_w,
                                   row % win->kernel_w, out_h, out_w,
                                   col + ((size_t)row * images + n) * plane);
                }
}

/* Copies a [rows][images * plane] GEMM result to images' NCHW planes. */
static void scatter(const float *result, int rows, int images, size_t plane,
                    float *y, size_t image_stride)
{
#pragma omp parallel for collapse(2) schedule(static)
        for (int r = 0; r < rows; r++)
                for (int n = 0; n < images; n++)
                        memcpy(y + n * image_stride + r * plane,
                               result + ((size_t)r * images + n) * plane,
                               plane * sizeof *y);
}

/* One group's output rows = its weights (out_per_group x k) times the
 * unfolded input (k x columns). */
static enum an_status group_gemm(const float *weight, int g, int out_per_group,
                                 size_t k, size_t columns, const float *col,
                                 float *c, const struct gemm_epilogue *ep)
{
        const float *wg = weight + (size_t)g * out_per_group * k;
        return sgemm_fused(false, false, out_per_group, columns, k, 1.0f, wg, k,
                           col, columns, 0.0f, c, columns, ep);
}

/* FP32 packed weights only where the packed product has the same bits as
 * the unpacked one (the blocked path, N > SGEMM_GEMV_MAX_N), so that a
 * result never depends on whether the layer was packed yet. */
static bool use_packed(const struct packed_matrix *packed, size_t columns)
{
        return packed &&
               (packed->precision != GEMM_FP32 || columns > SGEMM_GEMV_MAX_N);
}

enum an_status conv_forward(const struct conv_params *p, int batch,
                            struct shape in, const float *x,
                            const float *weight, const float *bias, bool relu,
                            float *y, float *workspace,
                            const struct packed_matrix *packed)
{
        struct shape out = conv_out_shape(p, in);
        int in_per_group = p->in_c / p->groups;
        int out_per_group = p->out_c / p->groups;
        size_t k = (size_t)in_per_group * p->win.kernel_h * p->win.kernel_w;
        size_t plane = (size_t)out.h * out.w;
        int chunk = images_per_gemm(p, in, batch);
        float *col = workspace, *result = workspace + k * plane * chunk;

        for (int n0 = 0; n0 < batch; n0 += chunk) {
                int images = batch - n0 < chunk ? batch - n0 : chunk;
                size_t columns = plane * images;
                for (int g = 0; g < p->groups; g++) {
                        conv_unfold(x + (size_t)n0 * shape_count(in),
                                    shape_count(in), images, g * in_per_group,
                                    in_per_group, in, &p->win, out.h, out.w,
                                    col);
                        struct gemm_epilogue ep = {
                                bias ? bias + g * out_per_group : NULL, relu};
                        float *yg = y + (size_t)n0 * shape_count(out) +
                                    (size_t)g * out_per_group * plane;
                        float *c = images > 1 ? result : yg;
                        enum an_status st =
                                use_packed(packed, columns)
                                        ? sgemm_prepacked(&packed[g], false,
                                                          columns, col, columns,
                                                          c, columns, &ep)
                                        : group_gemm(weight, g, out_per_group,
                                                     k, columns, col, c, &ep);
                        if (st != AN_OK)
                                return st;
                        if (images > 1)
                                scatter(result, out_per_group, images, plane,
                                        yg, shape_count(out));
                }
        }
        return AN_OK;
}
