#include "layers/conv_winograd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct shape out_shape(const struct conv_params *p, struct shape in)
{
        return (struct shape){p->out_c, window_out_h(&p->win, in.h),
                              window_out_w(&p->win, in.w)};
}

bool winograd_plan_of(const struct conv_params *p, struct shape in,
                      struct s2d_plan *plan)
{
        struct shape out = out_shape(p, in);
        return s2d_plan_of(p, in, plan) &&
               winograd_suits(&plan->win, out.h, out.w);
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

/* The weights as the planned convolution takes them: as given, or
 * rearranged into the thread's scratch. */
static const float *planned_weights(const struct conv_params *p,
                                    const struct s2d_plan *plan,
                                    const float *weight)
{
        if (plan->s == 1)
                return weight;
        float *w = reserve(&scratch.w, &scratch.w_size,
                           s2d_weight_floats(p, plan));
        if (w)
                s2d_weights(p, plan, weight, w);
        return w;
}

enum an_status
winograd_forward(const struct conv_params *p, const struct s2d_plan *plan,
                 int batch, struct shape in, const float *x,
                 const float *weight, const float *bias, bool relu, float *y,
                 const struct winograd_weights *winograd, float *workspace)
{
        struct shape out = out_shape(p, in);
        const float *seen_x = x;
        if (plan->s > 1) {
                float *buf = workspace ? workspace
                                       : reserve(&scratch.x, &scratch.x_size,
                                                 shape_count(plan->in) *
                                                         (size_t)batch);
                if (!buf)
                        return AN_E_NOMEM;
                s2d_input(p, plan, batch, in, x, buf);
                seen_x = buf;
        }
        const float *w = winograd ? NULL : planned_weights(p, plan, weight);
        if (!winograd && !w)
                return AN_E_NOMEM;
        size_t out_g = (size_t)(p->out_c / p->groups);
        size_t k = (size_t)plan->channels * plan->win.kernel_h *
                   plan->win.kernel_w;
        for (int g = 0; g < p->groups; g++) {
                struct conv_group_io io = s2d_group_io(
                        p, plan, batch, out, seen_x, bias, relu, y, g);
                enum an_status st =
                        winograd_conv(winograd ? &winograd[g] : NULL,
                                      w ? w + g * out_g * k : NULL, out_g,
                                      &io.in, &io.out, &io.ep);
                if (st != AN_OK)
                        return st;
        }
        return AN_OK;
}

enum an_status conv_winograd_weights(const struct conv_params *p,
                                     struct shape in, const float *weight,
                                     struct winograd_weights *out)
{
        struct s2d_plan plan;
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
