#include "layers/space_to_depth.h"

#include <stdlib.h>
#include <string.h>

/* Floats the rearranged input may take per image: what an activation may
 * (MAX_SAMPLE_ELEMENTS in arch.c), so offsets keep their bounds. */
#define MAX_IMAGE_FLOATS ((size_t)1 << 30)

bool s2d_plan_of(const struct conv_params *p, struct shape in,
                 struct s2d_plan *plan)
{
        const struct window *w = &p->win;
        int s = w->stride_h;
        if (s == 1 && w->stride_w == 1) {
                *plan = s2d_identity(p, in);
                return true;
        }
        if (s != w->stride_w || w->kernel_h != w->kernel_w)
                return false;
        int q = (w->kernel_h + s - 1) / s;
        int oh = window_out_h(w, in.h), ow = window_out_w(w, in.w);
        struct shape seen = {in.c * s * s, oh + q - 1, ow + q - 1};
        *plan = (struct s2d_plan){s, seen,
                                  (struct window){q, q, 1, 1, 0, 0, 0, 0},
                                  in.c / p->groups * s * s};
        return shape_count(seen) <= MAX_IMAGE_FLOATS;
}

struct s2d_plan s2d_identity(const struct conv_params *p, struct shape in)
{
        return (struct s2d_plan){1, in, p->win, in.c / p->groups};
}

size_t s2d_kernel_floats(const struct s2d_plan *plan)
{
        return (size_t)plan->channels * plan->win.kernel_h * plan->win.kernel_w;
}

bool s2d_worth_direct(const struct conv_params *p, const struct s2d_plan *plan)
{
        int k = p->win.kernel_h, sq = plan->s * plan->win.kernel_h;
        return plan->s > 1 && 4 * sq * sq <= 5 * k * k;
}

struct conv_group_io s2d_group_io(const struct conv_params *p,
                                  const struct s2d_plan *view, int batch,
                                  struct shape out, const float *x,
                                  const float *bias, bool relu, float *y, int g)
{
        size_t out_g = (size_t)(p->out_c / p->groups);
        size_t plane = (size_t)view->in.h * view->in.w;
        return (struct conv_group_io){
                {x + (size_t)g * view->channels * plane, shape_count(view->in),
                 batch, view->channels, view->in, &view->win, out.h, out.w},
                {y + g * out_g * out.h * out.w, shape_count(out)},
                {bias ? bias + g * out_g : NULL, relu}};
}

void s2d_input(const struct conv_params *p, const struct s2d_plan *plan,
               int batch, struct shape in, const float *x, float *out)
{
        const struct window *w = &p->win;
        struct shape seen = plan->in;
        int s = plan->s, planes = batch * seen.c;
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

size_t s2d_weight_floats(const struct conv_params *p,
                         const struct s2d_plan *plan)
{
        return (size_t)p->out_c * plan->channels * plan->win.kernel_h *
               plan->win.kernel_w;
}

void s2d_weights(const struct conv_params *p, const struct s2d_plan *plan,
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

/* Scratch of the calling thread, kept for the next call. */
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

const float *s2d_seen_input(const struct conv_params *p,
                            const struct s2d_plan *plan, int batch,
                            struct shape in, const float *x, float *workspace)
{
        if (plan->s == 1)
                return x;
        float *out = workspace ? workspace
                               : reserve(&scratch.x, &scratch.x_size,
                                         shape_count(plan->in) * (size_t)batch);
        if (out)
                s2d_input(p, plan, batch, in, x, out);
        return out;
}

const float *s2d_seen_weights(const struct conv_params *p,
                              const struct s2d_plan *plan, const float *weight)
{
        if (plan->s == 1)
                return weight;
        float *out = reserve(&scratch.w, &scratch.w_size,
                             s2d_weight_floats(p, plan));
        if (out)
                s2d_weights(p, plan, weight, out);
        return out;
}
