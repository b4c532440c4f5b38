#include "conv.h"

#include <string.h>

#include "gemm.h"

static struct shape conv_out_shape(const struct conv_params *p, struct shape in)
{
        return (struct shape){p->out_c, window_out_h(&p->win, in.h),
                              window_out_w(&p->win, in.w)};
}

size_t conv_workspace_floats(const struct conv_params *p, struct shape in)
{
        struct shape out = conv_out_shape(p, in);
        size_t rows = (size_t)(p->in_c / p->groups) * p->win.kernel_h *
                      p->win.kernel_w;
        return rows * (size_t)out.h * out.w;
}

/* Unfolds `channels` planes of one image into a (channels*kh*kw) x (oh*ow)
 * matrix whose row (c, ky, kx) holds the input pixel under kernel tap (ky, kx)
 * for every output position; taps falling in the padding read 0. */
static void im2col(const float *x, int channels, struct shape in,
                   const struct window *win, int out_h, int out_w, float *col)
{
        int taps = win->kernel_h * win->kernel_w;
#pragma omp parallel for schedule(static)
        for (int row = 0; row < channels * taps; row++) {
                int c = row / taps;
                int ky = row % taps / win->kernel_w;
                int kx = row % win->kernel_w;
                const float *plane = x + (size_t)c * in.h * in.w;
                float *dst = col + (size_t)row * out_h * out_w;
                for (int oy = 0; oy < out_h; oy++) {
                        int iy = oy * win->stride_h - win->pad_top + ky;
                        float *out_row = dst + (size_t)oy * out_w;
                        if (iy < 0 || iy >= in.h) {
                                memset(out_row, 0, out_w * sizeof *out_row);
                                continue;
                        }
                        const float *in_row = plane + (size_t)iy * in.w;
                        for (int ox = 0; ox < out_w; ox++) {
                                int ix =
                                        ox * win->stride_w - win->pad_left + kx;
                                out_row[ox] = ix >= 0 && ix < in.w ? in_row[ix]
                                                                   : 0.0f;
                        }
                }
        }
}

static void add_bias(float *y, int channels, size_t plane, const float *bias)
{
#pragma omp parallel for schedule(static)
        for (int c = 0; c < channels; c++)
                for (size_t i = 0; i < plane; i++)
                        y[c * plane + i] += bias[c];
}

enum an_status conv_forward(const struct conv_params *p, int batch,
                            struct shape in, const float *x,
                            const float *weight, const float *bias, float *y,
                            float *workspace)
{
        struct shape out = conv_out_shape(p, in);
        int in_per_group = p->in_c / p->groups;
        int out_per_group = p->out_c / p->groups;
        size_t k = (size_t)in_per_group * p->win.kernel_h * p->win.kernel_w;
        size_t plane = (size_t)out.h * out.w;

        for (int n = 0; n < batch; n++) {
                const float *xn = x + (size_t)n * shape_count(in);
                float *yn = y + (size_t)n * shape_count(out);
                for (int g = 0; g < p->groups; g++) {
                        im2col(xn + (size_t)g * in_per_group * in.h * in.w,
                               in_per_group, in, &p->win, out.h, out.w,
                               workspace);
                        enum an_status st = sgemm(
                                false, false, out_per_group, plane, k, 1.0f,
                                weight + (size_t)g * out_per_group * k, k,
                                workspace, plane, 0.0f,
                                yn + (size_t)g * out_per_group * plane, plane);
                        if (st != AN_OK)
                                return st;
                }
                if (bias)
                        add_bias(yn, p->out_c, plane, bias);
        }
        return AN_OK;
}
