/* Validation, shape inference and cost accounting of architectures. */
#include "model/arch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds that keep every index and size computation far from overflow while
 * admitting any network a CPU could run. */
enum {
        MAX_DIM = 1 << 16,      /* channels, height, width, kernel, pad */
        MAX_FEATURES = 1 << 24, /* linear layer outputs */
};
#define MAX_SAMPLE_ELEMENTS ((size_t)1 << 30)   /* one activation tensor */
#define MAX_PARAM_ELEMENTS  ((uint64_t)1 << 32) /* one weight tensor */

const char *layer_type_name(enum layer_type t)
{
        switch (t) {
        case LAYER_CONV: return "conv";
        case LAYER_RELU: return "relu";
        case LAYER_MAXPOOL: return "maxpool";
        case LAYER_LRN: return "lrn";
        case LAYER_ADAPTIVE_AVGPOOL: return "adaptive_avgpool";
        case LAYER_LINEAR: return "linear";
        case LAYER_DROPOUT: return "dropout";
        case LAYER_SOFTMAX: return "softmax";
        }
        return "unknown";
}

void layer_init(struct layer *l, enum layer_type type, const char *name)
{
        memset(l, 0, sizeof *l);
        l->type = type;
        snprintf(l->name, sizeof l->name, "%s", name);
        l->win = (struct window){1, 1, 1, 1, 0, 0, 0, 0};
        l->groups = 1;
        l->bias = true;
        l->lrn = (struct lrn_params){5, 1e-4, 0.75, 1.0}; /* PyTorch's */
        l->drop_p = 0.5;
}

void arch_free(struct arch *a)
{
        free(a->layers);
        a->layers = NULL;
        a->n_layers = 0;
}

enum an_status arch_copy(struct arch *dst, const struct arch *src,
                         struct an_error *err)
{
        *dst = *src;
        dst->layers =
                calloc(src->n_layers ? src->n_layers : 1, sizeof *dst->layers);
        if (!dst->layers)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        memcpy(dst->layers, src->layers, src->n_layers * sizeof *src->layers);
        return AN_OK;
}

static bool in_range(long v, long lo, long hi)
{
        return v >= lo && v <= hi;
}

static enum an_status check_window(const struct layer *l, struct shape in,
                                   bool pool, struct an_error *err)
{
        const struct window *w = &l->win;
        if (!in_range(w->kernel_h, 1, MAX_DIM) ||
            !in_range(w->kernel_w, 1, MAX_DIM) ||
            !in_range(w->stride_h, 1, MAX_DIM) ||
            !in_range(w->stride_w, 1, MAX_DIM) ||
            !in_range(w->pad_top, 0, MAX_DIM) ||
            !in_range(w->pad_left, 0, MAX_DIM) ||
            !in_range(w->pad_bottom, 0, MAX_DIM) ||
            !in_range(w->pad_right, 0, MAX_DIM))
                return an_error_set(err, AN_E_INVALID,
                                    "layer %s: kernel, stride or padding out "
                                    "of range",
                                    l->name);
        /* Every pooling window must see at least one real pixel. */
        if (pool &&
            (w->pad_top >= w->kernel_h || w->pad_bottom >= w->kernel_h ||
             w->pad_left >= w->kernel_w || w->pad_right >= w->kernel_w))
                return an_error_set(err, AN_E_INVALID,
                                    "layer %s: padding must be smaller than "
                                    "the pooling kernel",
                                    l->name);
        int oh = window_out_h(w, in.h), ow = window_out_w(w, in.w);
        if (oh < 1 || ow < 1)
                return an_error_set(err, AN_E_INVALID,
                                    "layer %s: %dx%d kernel does not fit the "
                                    "%dx%d input",
                                    l->name, w->kernel_h, w->kernel_w, in.h,
                                    in.w);
        if (pool && ((oh - 1) * w->stride_h - w->pad_top >= in.h ||
                     (ow - 1) * w->stride_w - w->pad_left >= in.w))
                return an_error_set(err, AN_E_INVALID,
                                    "layer %s: a pooling window lies wholly "
                                    "in the padding",
                                    l->name);
        return AN_OK;
}

/* Checks layer l against its input and computes its output shape. */
static enum an_status layer_shape(const struct layer *l, struct shape in,
                                  struct shape *out, struct an_error *err)
{
        enum an_status st;
        *out = in;
        switch (l->type) {
        case LAYER_CONV:
                if (!in_range(l->out, 1, MAX_DIM) ||
                    !in_range(l->groups, 1, MAX_DIM) || in.c % l->groups ||
                    l->out % l->groups)
                        return an_error_set(
                                err, AN_E_INVALID,
                                "layer %s: %d groups do not divide %d input "
                                "and %d output channels",
                                l->name, l->groups, in.c, l->out);
                if ((st = check_window(l, in, false, err)) != AN_OK)
                        return st;
                *out = (struct shape){l->out, window_out_h(&l->win, in.h),
                                      window_out_w(&l->win, in.w)};
                break;
        case LAYER_MAXPOOL:
                if ((st = check_window(l, in, true, err)) != AN_OK)
                        return st;
                out->h = window_out_h(&l->win, in.h);
                out->w = window_out_w(&l->win, in.w);
                break;
        case LAYER_LRN:
                if (!in_range(l->lrn.size, 1, MAX_DIM) ||
                    !isfinite(l->lrn.alpha) || !isfinite(l->lrn.beta) ||
                    !(l->lrn.k > 0) || !isfinite(l->lrn.k))
                        return an_error_set(err, AN_E_INVALID,
                                            "layer %s: LRN needs size >= 1, "
                                            "finite alpha and beta, k > 0",
                                            l->name);
                break;
        case LAYER_ADAPTIVE_AVGPOOL:
                if (!in_range(l->out_h, 1, MAX_DIM) ||
                    !in_range(l->out_w, 1, MAX_DIM))
                        return an_error_set(err, AN_E_INVALID,
                                            "layer %s: output size out of "
                                            "range",
                                            l->name);
                out->h = l->out_h;
                out->w = l->out_w;
                break;
        case LAYER_LINEAR:
                if (!in_range(l->out, 1, MAX_FEATURES))
                        return an_error_set(err, AN_E_INVALID,
                                            "layer %s: %d output features is "
                                            "out of range",
                                            l->name, l->out);
                *out = (struct shape){l->out, 1, 1};
                break;
        case LAYER_DROPOUT:
                if (!(l->drop_p >= 0 && l->drop_p < 1))
                        return an_error_set(err, AN_E_INVALID,
                                            "layer %s: dropout probability "
                                            "must be in [0, 1)",
                                            l->name);
                break;
        case LAYER_SOFTMAX:
                if (in.h != 1 || in.w != 1)
                        return an_error_set(err, AN_E_INVALID,
                                            "layer %s: softmax needs a flat "
                                            "input (after a linear layer)",
                                            l->name);
                break;
        case LAYER_RELU: break;
        default:
                return an_error_set(err, AN_E_INVALID,
                                    "layer %s: unknown layer type", l->name);
        }
        if (shape_count(*out) > MAX_SAMPLE_ELEMENTS)
                return an_error_set(err, AN_E_INVALID,
                                    "layer %s: output %dx%dx%d is too large",
                                    l->name, out->c, out->h, out->w);
        int64_t dims[2][4];
        int ndims[2];
        if (layer_param_tensors(l, in, dims, ndims) > 0 &&
            layer_param_count(l, in) > MAX_PARAM_ELEMENTS)
                return an_error_set(err, AN_E_INVALID,
                                    "layer %s: too many parameters", l->name);
        return AN_OK;
}

static bool valid_name(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\')
                        return false;
        return true;
}

static enum an_status check_names(const struct arch *a, struct an_error *err)
{
        for (int i = 0; i < a->n_layers; i++) {
                const char *name = a->layers[i].name;
                if (!memchr(name, 0, LAYER_NAME_MAX) || !valid_name(name))
                        return an_error_set(err, AN_E_INVALID,
                                            "layer %d: name must be printable "
                                            "ASCII without spaces or quotes",
                                            i);
                for (int j = 0; j < i; j++)
                        if (!strcmp(name, a->layers[j].name))
                                return an_error_set(err, AN_E_INVALID,
                                                    "layer name %s is used "
                                                    "twice",
                                                    name);
        }
        return AN_OK;
}

enum an_status arch_shapes(const struct arch *a, struct shape *shapes,
                           struct an_error *err)
{
        if (!in_range(a->n_layers, 1, ARCH_MAX_LAYERS))
                return an_error_set(err, AN_E_INVALID,
                                    "an architecture needs 1 to %d layers",
                                    ARCH_MAX_LAYERS);
        struct shape s = a->input;
        if (!in_range(s.c, 1, MAX_DIM) || !in_range(s.h, 1, MAX_DIM) ||
            !in_range(s.w, 1, MAX_DIM) || shape_count(s) > MAX_SAMPLE_ELEMENTS)
                return an_error_set(err, AN_E_INVALID,
                                    "input shape %dx%dx%d is out of range", s.c,
                                    s.h, s.w);
        enum an_status st = check_names(a, err);
        if (st != AN_OK)
                return st;
        if (shapes)
                shapes[0] = s;
        for (int i = 0; i < a->n_layers; i++) {
                struct shape out;
                if ((st = layer_shape(&a->layers[i], s, &out, err)) != AN_OK)
                        return st;
                s = out;
                if (shapes)
                        shapes[i + 1] = s;
        }
        return AN_OK;
}

/* a * b, saturating at UINT64_MAX: counts are compared against limits, so an
 * absurd layer must not wrap around to a small number. */
static uint64_t mul_sat(uint64_t a, uint64_t b)
{
        return a && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

int layer_param_tensors(const struct layer *l, struct shape in,
                        int64_t dims[2][4], int ndims[2])
{
        switch (l->type) {
        case LAYER_CONV:
                dims[0][0] = l->out;
                dims[0][1] = in.c / (l->groups > 0 ? l->groups : 1);
                dims[0][2] = l->win.kernel_h;
                dims[0][3] = l->win.kernel_w;
                ndims[0] = 4;
                break;
        case LAYER_LINEAR:
                dims[0][0] = l->out;
                dims[0][1] = (int64_t)shape_count(in);
                ndims[0] = 2;
                break;
        default: return 0;
        }
        if (!l->bias)
                return 1;
        dims[1][0] = l->out;
        ndims[1] = 1;
        return 2;
}

uint64_t layer_param_count(const struct layer *l, struct shape in)
{
        int64_t dims[2][4];
        int ndims[2];
        int n = layer_param_tensors(l, in, dims, ndims);
        uint64_t total = 0;
        for (int t = 0; t < n; t++) {
                uint64_t count = 1;
                for (int d = 0; d < ndims[t]; d++)
                        count = mul_sat(count, (uint64_t)dims[t][d]);
                total = count > UINT64_MAX - total ? UINT64_MAX : total + count;
        }
        return total;
}

uint64_t layer_macs(const struct layer *l, struct shape in, struct shape out)
{
        switch (l->type) {
        case LAYER_CONV:
                return mul_sat(mul_sat(shape_count(out), in.c / l->groups),
                               (uint64_t)l->win.kernel_h * l->win.kernel_w);
        case LAYER_LINEAR: return mul_sat(shape_count(in), (uint64_t)l->out);
        default: return 0;
        }
}

/* The n-th (from 1) layer of type t, or -1. */
static int nth_of_type(const struct arch *a, enum layer_type t, int n)
{
        for (int i = 0; i < a->n_layers; i++)
                if (a->layers[i].type == t && --n == 0)
                        return i;
        return -1;
}

/* The paper's name for a layer: the index it names, or -1. */
static int paper_layer(const struct arch *a, const char *name)
{
        int n, end = 0;
        bool relu = sscanf(name, "relu%d%n", &n, &end) == 1;
        bool pool = !relu && sscanf(name, "pool%d%n", &n, &end) == 1;
        if (!relu && !pool && sscanf(name, "conv%d%n", &n, &end) != 1 &&
            sscanf(name, "fc%d%n", &n, &end) != 1)
                return -1;
        if (name[end] || n < 1)
                return -1;
        int convs = 0;
        for (int i = 0; i < a->n_layers; i++)
                convs += a->layers[i].type == LAYER_CONV;
        bool conv = name[0] == 'c' || pool || (relu && n <= convs);
        int i = conv ? nth_of_type(a, LAYER_CONV, n)
                     : nth_of_type(a, LAYER_LINEAR, n - convs);
        if (i >= 0 && pool) { /* the max pool before the next conv */
                while (++i < a->n_layers && a->layers[i].type != LAYER_CONV &&
                       a->layers[i].type != LAYER_MAXPOOL)
                        ;
                return i < a->n_layers && a->layers[i].type == LAYER_MAXPOOL
                               ? i
                               : -1;
        }
        if (i >= 0 && relu)
                i = i + 1 < a->n_layers && a->layers[i + 1].type == LAYER_RELU
                            ? i + 1
                            : -1;
        return i;
}

int arch_find_layer(const struct arch *a, const char *name)
{
        for (int i = 0; i < a->n_layers; i++)
                if (!strcmp(a->layers[i].name, name))
                        return i;
        return paper_layer(a, name);
}
