#include "layers/conv_winograd.h"

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

enum an_status
winograd_forward(const struct conv_params *p, const struct s2d_plan *plan,
                 int batch, struct shape in, const float *x,
                 const float *weight, const float *bias, bool relu, float *y,
                 const struct winograd_weights *winograd, float *workspace)
{
        struct shape out = out_shape(p, in);
        const float *seen_x = s2d_seen_input(p, plan, batch, in, x, workspace);
        const float *w = winograd ? NULL : s2d_seen_weights(p, plan, weight);
        if (!seen_x || (!winograd && !w))
                return AN_E_NOMEM;
        size_t out_g = (size_t)(p->out_c / p->groups);
        size_t k = s2d_kernel_floats(plan);
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
        const float *w = s2d_seen_weights(p, &plan, weight);
        if (!w)
                return AN_E_NOMEM;
        size_t out_g = (size_t)(p->out_c / p->groups);
        size_t k = s2d_kernel_floats(&plan);
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
