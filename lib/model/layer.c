#include "model/layer.h"

#include <string.h>

#include "layers/activation.h"
#include "layers/avgpool.h"
#include "layers/conv.h"
#include "layers/dropout.h"
#include "layers/linear.h"
#include "layers/lrn.h"
#include "layers/maxpool.h"

static struct conv_params conv_params_of(const struct layer *l, struct shape in)
{
        return (struct conv_params){in.c, l->out, l->groups, l->win};
}

size_t layer_workspace_floats(const struct layer *l, struct shape in, int batch,
                              bool backward)
{
        struct conv_params p;
        switch (l->type) {
        case LAYER_LINEAR:
                return linear_workspace_floats((int)shape_count(in), l->out,
                                               batch);
        case LAYER_CONV: {
                p = conv_params_of(l, in);
                size_t forward = conv_forward_workspace_floats(&p, in, batch);
                size_t back =
                        backward ? conv_backward_workspace_floats(&p, in, batch)
                                 : 0;
                return forward > back ? forward : back;
        }
        case LAYER_LRN:
                return backward ? lrn_backward_workspace_floats(in, batch) : 0;
        default: return 0;
        }
}

/* Dropout is applied when training with a probability above 0. */
static bool dropping(const struct layer *l, const struct dropout_draw *drop)
{
        return drop && drop->mask && l->drop_p > 0;
}

enum an_status layer_forward(const struct layer *l, struct shape in,
                             const struct layer_params *p, int batch,
                             const float *x, float *y, bool relu,
                             float *workspace, const struct dropout_draw *drop)
{
        size_t count = shape_count(in) * batch;
        struct conv_params cp;
        switch (l->type) {
        case LAYER_CONV:
                cp = conv_params_of(l, in);
                return conv_forward(&cp, batch, in, x, p->weight, p->bias, relu,
                                    y, p->packed, p->winograd, workspace);
        case LAYER_LINEAR:
                return linear_forward((int)shape_count(in), l->out, batch, x,
                                      p->weight, p->bias, relu, y, workspace,
                                      p->packed);
        case LAYER_RELU: relu_forward(count, x, y); break;
        case LAYER_MAXPOOL: maxpool_forward(&l->win, batch, in, x, y); break;
        case LAYER_LRN: lrn_forward(&l->lrn, batch, in, x, y); break;
        case LAYER_ADAPTIVE_AVGPOOL:
                adaptive_avgpool_forward(l->out_h, l->out_w, batch, in, x, y);
                break;
        case LAYER_DROPOUT:
                if (dropping(l, drop))
                        dropout_forward(l->drop_p, batch, shape_count(in),
                                        drop->ids, x, y, drop->mask, drop->seed,
                                        drop->stream);
                else if (x != y)
                        memcpy(y, x, count * sizeof *y);
                break;
        case LAYER_SOFTMAX: softmax_forward(batch, in.c, x, y); break;
        }
        return AN_OK;
}

enum an_status layer_backward(const struct layer *l, struct shape in,
                              const float *weight, int batch, const float *x,
                              const float *y, const float *dy, float *dx,
                              float *dweight, float *dbias, float *workspace,
                              const struct dropout_draw *drop)
{
        size_t count = shape_count(in) * batch;
        struct conv_params cp;
        switch (l->type) {
        case LAYER_CONV:
                cp = conv_params_of(l, in);
                return conv_backward(&cp, batch, in, x, weight, dy, dx, dweight,
                                     dbias, workspace);
        case LAYER_LINEAR:
                return linear_backward((int)shape_count(in), l->out, batch, x,
                                       weight, dy, dx, dweight, dbias);
        default: break;
        }
        if (!dx) /* nothing below to pass a gradient to */
                return AN_OK;
        switch (l->type) {
        case LAYER_RELU: relu_backward(count, y, dy, dx); break;
        case LAYER_MAXPOOL:
                maxpool_backward(&l->win, batch, in, x, dy, dx);
                break;
        case LAYER_LRN:
                lrn_backward(&l->lrn, batch, in, x, dy, dx, workspace);
                break;
        case LAYER_ADAPTIVE_AVGPOOL:
                adaptive_avgpool_backward(l->out_h, l->out_w, batch, in, dy,
                                          dx);
                break;
        case LAYER_DROPOUT:
                if (dropping(l, drop))
                        dropout_backward(count, drop->mask, dy, dx);
                else if (dx != dy)
                        memcpy(dx, dy, count * sizeof *dx);
                break;
        case LAYER_SOFTMAX:
                return AN_E_UNSUPPORTED; /* the loss includes the softmax */
        default: break;
        }
        return AN_OK;
}

bool layer_backward_in_place(const struct layer *l)
{
        return l->type == LAYER_RELU || l->type == LAYER_DROPOUT;
}

bool layer_pools_relu(const struct layer *l, const struct layer *below)
{
        return l->type == LAYER_MAXPOOL && below->type == LAYER_RELU;
}

void layer_backward_pool_relu(const struct layer *l, struct shape in, int batch,
                              const float *x, const float *dy, float *dx)
{
        maxpool_relu_backward(&l->win, batch, in, x, dy, dx);
}
