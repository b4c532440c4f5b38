#include "conv.h"

#include "gemm_conv.h"

static struct shape conv_out_shape(const struct conv_params *p, struct shape in)
{
        return (struct shape){p->out_c, window_out_h(&p->win, in.h),
                              window_out_w(&p->win, in.w)};
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
