#include "conv.h"

#include <string.h>

#include "gemm_conv.h"

static struct shape conv_out_shape(const struct conv_params *p, struct shape in)
{
        return (struct shape){p->out_c, window_out_h(&p->win, in.h),
                              window_out_w(&p->win, in.w)};
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

enum an_status conv_forward(const struct conv_params *p, int batch,
                            struct shape in, const float *x,
                            const float *weight, const float *bias, bool relu,
                            float *y, const struct packed_matrix *packed)
{
        struct shape out = conv_out_shape(p, in);
        int in_per_group = p->in_c / p->groups;
        size_t out_per_group = (size_t)(p->out_c / p->groups);
        size_t k = (size_t)in_per_group * p->win.kernel_h * p->win.kernel_w;
        size_t plane = (size_t)out.h * out.w;
        for (int g = 0; g < p->groups; g++) {
                struct conv_input b = {x + (size_t)g * in_per_group * in.h *
                                                       in.w,
                                       shape_count(in),
                                       batch,
                                       in_per_group,
                                       in,
                                       &p->win,
                                       out.h,
                                       out.w};
                struct conv_output c = {y + g * out_per_group * plane,
                                        shape_count(out)};
                struct gemm_epilogue ep = {
                        bias ? bias + g * out_per_group : NULL, relu};
                enum an_status st = sgemm_conv(packed ? &packed[g] : NULL,
                                               weight + g * out_per_group * k,
                                               out_per_group, &b, &c, &ep);
                if (st != AN_OK)
                        return st;
        }
        return AN_OK;
}
