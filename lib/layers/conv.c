#include "layers/conv.h"

#include <string.h>

#include "gemm/gemm.h"
#include "gemm/gemm_conv.h"
#include "gemm/winograd.h"
#include "layers/conv_winograd.h"
#include "layers/space_to_depth.h"

static struct shape conv_out_shape(const struct conv_params *p, struct shape in)
{
        return (struct shape){p->out_c, window_out_h(&p->win, in.h),
                              window_out_w(&p->win, in.w)};
}

static bool winograd_allowed = true;

void conv_allow_winograd(bool allow)
{
        winograd_allowed = allow;
}

bool conv_uses_winograd(const struct conv_params *p, struct shape in,
                        const struct packed_matrix *packed)
{
        struct s2d_plan plan;
        return !packed && winograd_allowed && winograd_plan_of(p, in, &plan);
}

/* Whether the direct path runs on the layer's space-to-depth view (see
 * space_to_depth.h): for bfloat16 pairs packed from the rearranged
 * weights by conv_direct_weights, where it pays.  conv_forward tells the
 * rearranged packing by its depth, so only kernels that the view pads
 * (s q > k: the depths differ) take it. */
static bool direct_on_s2d(const struct conv_params *p, struct shape in,
                          enum gemm_precision precision, struct s2d_plan *plan)
{
        return precision == GEMM_BF16_PAIRS && s2d_plan_of(p, in, plan) &&
               s2d_worth_direct(p, plan) &&
               plan->s * plan->win.kernel_h != p->win.kernel_h;
}

/* The direct implicit GEMM, group by group, over the input as the view
 * sees it (x already rearranged when the view is space-to-depth). */
static enum an_status direct_forward(const struct conv_params *p,
                                     const struct s2d_plan *view, int batch,
                                     struct shape out, const float *x,
                                     const float *weight, const float *bias,
                                     bool relu, float *y,
                                     const struct packed_matrix *packed)
{
        size_t out_g = (size_t)(p->out_c / p->groups);
        size_t k = s2d_kernel_floats(view);
        for (int g = 0; g < p->groups; g++) {
                struct conv_group_io io =
                        s2d_group_io(p, view, batch, out, x, bias, relu, y, g);
                enum an_status st =
                        sgemm_conv(packed ? &packed[g] : NULL,
                                   weight ? weight + g * out_g * k : NULL,
                                   out_g, &io.in, &io.out, &io.ep);
                if (st != AN_OK)
                        return st;
        }
        return AN_OK;
}

enum an_status conv_forward(const struct conv_params *p, int batch,
                            struct shape in, const float *x,
                            const float *weight, const float *bias, bool relu,
                            float *y, const struct packed_matrix *packed,
                            const struct winograd_weights *winograd,
                            float *workspace)
{
        struct s2d_plan view;
        if (winograd || conv_uses_winograd(p, in, packed)) {
                if (!winograd_plan_of(p, in, &view))
                        return AN_E_INVALID;
                return winograd_forward(p, &view, batch, in, x, weight, bias,
                                        relu, y, winograd, workspace);
        }
        struct shape out = conv_out_shape(p, in);
        if (packed && direct_on_s2d(p, in, packed->precision, &view) &&
            packed->k == s2d_kernel_floats(&view)) {
                const float *seen =
                        s2d_seen_input(p, &view, batch, in, x, workspace);
                if (!seen)
                        return AN_E_NOMEM;
                return direct_forward(p, &view, batch, out, seen, NULL, bias,
                                      relu, y, packed);
        }
        view = s2d_identity(p, in);
        return direct_forward(p, &view, batch, out, x, weight, bias, relu, y,
                              packed);
}

enum an_status conv_direct_weights(const struct conv_params *p, struct shape in,
                                   const float *weight,
                                   enum gemm_precision precision,
                                   struct packed_matrix *out)
{
        struct s2d_plan view;
        if (!direct_on_s2d(p, in, precision, &view))
                view = s2d_identity(p, in);
        const float *w = s2d_seen_weights(p, &view, weight);
        if (!w)
                return AN_E_NOMEM;
        size_t rows = (size_t)(p->out_c / p->groups);
        size_t k = s2d_kernel_floats(&view);
        enum an_status st = AN_OK;
        for (int g = 0; g < p->groups && st == AN_OK; g++)
                st = sgemm_pack(w + g * rows * k, rows, k, k, precision,
                                &out[g]);
        return st;
}

size_t conv_forward_workspace_floats(const struct conv_params *p,
                                     struct shape in, int batch)
{
        struct s2d_plan view;
        bool winograd = conv_uses_winograd(p, in, NULL) &&
                        winograd_plan_of(p, in, &view);
        bool direct = direct_on_s2d(p, in, GEMM_BF16_PAIRS, &view);
        if ((!winograd && !direct) || view.s == 1)
                return 0;
        return shape_count(view.in) * (size_t)batch;
}

/* ---- backward -------------------------------------------------------- */

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
        if (winograd_allowed && winograd_suits(&back, cg->in.h, cg->in.w))
                return winograd_conv(NULL, flipped, (size_t)cg->in_g, &b, &out,
                                     NULL);
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

/* The group's weight gradient: by Winograd's algorithm where it is
 * allowed and suits the window, else as the direct product. */
static enum an_status weight_gradient(const struct conv_group *cg,
                                      const float *dy,
                                      const struct conv_input *b,
                                      float *dweight)
{
        const float *dy_g = dy + (size_t)cg->g * cg->out_g * cg->plane;
        float *dw_g = dweight + (size_t)cg->g * cg->out_g * cg->k;
        if (winograd_allowed &&
            winograd_grad_suits(&cg->p->win, cg->oh, cg->ow))
                return winograd_weight_grad(dy_g, cg->out_stride,
                                            (size_t)cg->out_g, b, dw_g);
        return sgemm_conv_weight_grad(dy_g, cg->out_stride, (size_t)cg->out_g,
                                      b, dw_g);
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
                enum an_status st = AN_OK;
                if (dweight)
                        st = weight_gradient(&cg, dy, &b, dweight);
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
