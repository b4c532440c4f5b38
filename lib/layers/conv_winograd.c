#include "layers/conv_winograd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Floats the rearranged input may take per image: what an activation may
 * (MAX_SAMPLE_ELEMENTS in arch.c), so offsets keep their bounds. */
#define MAX_IMAGE_FLOATS ((size_t)1 << 30)

static struct shape out_shape(const struct conv_params *p, struct shape in)
{
        return (struct shape){p->out_c, window_out_h(&p->win, in.h),
                              window_out_w(&p->win, in.w)};
}

bool winograd_plan_of(const struct conv_params *p, struct shape in,
                      struct winograd_plan *plan)
{
        const struct window *w = &p->win;
        struct shape out = out_shape(p, in);
        int s = w->stride_h;
        if (s == 1 && w->stride_w == 1) {
                *plan = (struct winograd_plan){false, 1, in, *w,
                                               in.c / p->groups};
                return winograd_suits(w, out.h, out.w);
        }
        if (s != w->stride_w || w->kernel_h != w->kernel_w)
                return false;
        int q = (w->kernel_h + s - 1) / s;
        struct shape seen = {in.c * s * s, out.h + q - 1, out.w + q - 1};
        *plan = (struct winograd_plan){true, s, seen,
                                       (struct window){q, q, 1, 1, 0, 0, 0, 0},
                                       in.c / p->groups * s * s};
        return winograd_suits(&plan->win, out.h, out.w) &&
               shape_count(seen) <= MAX_IMAGE_FLOATS;
}

/* X (above) from x for every image: zero where the tap lies in the
 * padding or past the input. */
static void space_to_depth(const struct window *w, int s, int batch,
                           struct shape in, const float *x, struct shape seen,
                           float *out)
{
        int planes = batch * seen.c;
#pragma omp parallel for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
                int n = pl / seen.c, ch = pl % seen.c;
                int c = ch / (s * s), ry = ch / s % s, rx = ch % s;
                const float *src = x + ((size_t)n * in.c + c) * in.h * in.w;
                float *dst = out + (size_t)pl * seen.h * seen.w;
                /* columns xx whose input column s xx + rx - pad_left
                 * lies inside the row: [lo, hi) */
                int shift = rx - w->pad_left;
                int lo = shift >= 0 ? 0 : (-shift + s - 1) / s;
                int hi = in.w - 1 - shift < 0 ? 0 : (in.w - 1 - shift) / s + 1;
                lo = lo < seen.w ? lo : seen.w;
                hi = hi < seen.w ? hi : seen.w;
                hi = hi > lo ? hi : lo;
                for (int y = 0; y < seen.h; y++, dst += seen.w) {
                        int iy = s * y + ry - w->pad_top;
                        if (iy < 0 || iy >= in.h) {
                                memset(dst, 0, seen.w * sizeof *dst);
                                continue;
                        }
                        const float *row = src + (size_t)iy * in.w + shift;
                        for (int xx = 0; xx < lo; xx++)
                                dst[xx] = 0.0f;
                        for (int xx = lo; xx < hi; xx++)
                                dst[xx] = row[s * xx];
                        for (int xx = hi; xx < seen.w; xx++)
                                dst[xx] = 0.0f;
                }
        }
}

/* The weights of the rearranged convolution: w (out x C x k x k) as
 * out x C s^2 x q x q, zero past the kernel. */
static void rearrange_weights(const struct conv_params *p,
                              const struct winograd_plan *plan,
                              const float *weight, float *out)
{
        int s = plan->s, q = plan->win.kernel_h, k = p->win.kernel_h;
        int cin = p->in_c / p->groups;
        size_t per_out = (size_t)plan->channels * q * q;
#pragma omp parallel for schedule(static)
        for (int o = 0; o < p->out_c; o++)
                for (int ch = 0; ch < plan->channels; ch++) {
                        int c = ch / (s * s), ry = ch / s % s, rx = ch % s;
                        const float *src =
                                weight + ((size_t)o * cin + c) * k * k;
                        float *dst = out + o * per_out + (size_t)ch * q * q;
                        for (int qy = 0; qy < q; qy++)
                                for (int qx = 0; qx < q; qx++) {
                                        int ky = s * qy + ry, kx = s * qx + rx;
                                        dst[qy * q + qx] =
                                                ky < k && kx < k
                                                        ? src[ky * k + kx]
                                                        : 0.0f;
                                }
                }
}

/* Scratch of the calling thread, kept for the next call: the rearranged
 * input and weights. */
static _Thread_local struct {
        float *x, *w;
        size_t x_size, w_size;
} scratch;

static float *reserve(float **p, size_t *have, size_t want)
{
        if (*have >= want)
                return *p;
        free(*p);
        *p = malloc(want * sizeof **p);
        *have = *p ? want : 0;
        return *p;
}

static size_t rearranged_weight_floats(const struct conv_params *p,
                                       const struct winograd_plan *plan)
{
        return (size_t)p->out_c * plan->channels * plan->win.kernel_h *
               plan->win.kernel_w;
}

/* The weights as the planned convolution takes them: as given, or
 * rearranged into the thread's scratch. */
static const float *planned_weights(const struct conv_params *p,
                                    const struct winograd_plan *plan,
                                    const float *weight)
{
        if (!plan->space_to_depth)
                return weight;
        float *w = reserve(&scratch.w, &scratch.w_size,
                           rearranged_weight_floats(p, plan));
        if (w)
                rearrange_weights(p, plan, weight, w);
        return w;
}

enum an_status
winograd_forward(const struct conv_params *p, const struct winograd_plan *plan,
                 int batch, struct shape in, const float *x,
                 const float *weight, const float *bias, bool relu, float *y,
                 const struct winograd_weights *winograd, float *workspace)
{
        struct shape out = out_shape(p, in);
        const float *seen_x = x;
        if (plan->space_to_depth) {
                float *buf = workspace ? workspace
                                       : reserve(&scratch.x, &scratch.x_size,
                                                 shape_count(plan->in) *
                                                         (size_t)batch);
                if (!buf)
                        return AN_E_NOMEM;
                space_to_depth(&p->win, plan->s, batch, in, x, plan->in, buf);
                seen_x = buf;
        }
        const float *w = winograd ? NULL : planned_weights(p, plan, weight);
        if (!winograd && !w)
                return AN_E_NOMEM;
        size_t out_g = (size_t)(p->out_c / p->groups);
        size_t k = (size_t)plan->channels * plan->win.kernel_h *
                   plan->win.kernel_w;
        size_t plane = (size_t)out.h * out.w;
        for (int g = 0; g < p->groups; g++) {
                struct conv_input b = {seen_x + (size_t)g * plan->channels *
                                                        plan->in.h * plan->in.w,
                                       shape_count(plan->in),
                                       batch,
                                       plan->channels,
                                       plan->in,
                                       &plan->win,
                                       out.h,
                                       out.w};
                struct conv_output c = {y + g * out_g * plane,
                                        shape_count(out)};
                struct gemm_epilogue ep = {bias ? bias + g * out_g : NULL,
                                           relu};
                enum an_status st = winograd_conv(
                        winograd ? &winograd[g] : NULL,
                        w ? w + g * out_g * k : NULL, out_g, &b, &c, &ep);
                if (st != AN_OK)
                        return st;
        }
        return AN_OK;
}

enum an_status conv_winograd_weights(const struct conv_params *p,
                                     struct shape in, const float *weight,
                                     struct winograd_weights *out)
{
        struct winograd_plan plan;
        if (!winograd_plan_of(p, in, &plan))
                return AN_E_INVALID;
        const float *w = planned_weights(p, &plan, weight);
        if (!w)
                return AN_E_NOMEM;
        size_t out_g = (size_t)(p->out_c / p->groups);
        size_t k =
                (size_t)plan.channels * plan.win.kernel_h * plan.win.kernel_w;
        for (int g = 0; g < p->groups; g++) {
                enum an_status st = winograd_weights_make(
                        w + g * out_g * k, out_g, (size_t)plan.channels,
                        plan.win.kernel_h, &out[g]);
                if (st != AN_OK) {
                        while (g-- > 0)
                                winograd_weights_free(&out[g]);
                        return st;
                }
        }
        return AN_OK;
}
