/* ONNX graphs onto the layer list.
 *
 * The graph must be a chain: starting from its one data input, each node
 * that consumes the current tensor becomes a layer (Conv, Relu, MaxPool,
 * LRN, AveragePool / GlobalAveragePool as adaptive pooling, Gemm or MatMul
 * (+ Add) as linear, Dropout, Softmax; Flatten, Reshape and Identity just
 * pass it on).  Nodes off the chain may only compute shapes (Constant,
 * Shape, Gather, Unsqueeze, Concat, Cast).  Weights come from initializers
 * (raw_data or float_data; FLOAT, FLOAT16, BFLOAT16 or DOUBLE).  An op or
 * attribute the network cannot express is refused by name. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/half.h"
#include "convert/import.h"
#include "model/model.h"
#include "model/model_meta.h"
#include "formats/onnx.pb-c.h"

#define MAX_ONNX_FILE ((size_t)4 << 30)

/* What decoding may allocate: protobuf-c gives every message, even an
 * empty one two bytes long on the wire, a struct of 50-200 bytes, so 20 MB
 * of empty nodes would take 1.5 GB.  A real model's bytes are mostly its
 * weights, copied once; the cap leaves room for that twice over and for
 * any AlexNet-family graph's structure. */
#define DECODE_SLACK ((size_t)64 << 20)

struct decode_budget {
        size_t left;
        bool exceeded;
};

static void *budget_alloc(void *data, size_t size)
{
        struct decode_budget *b = data;
        if (size > b->left) {
                b->exceeded = true;
                return NULL;
        }
        b->left -= size;
        return malloc(size);
}

static void budget_free(void *data, void *pointer)
{
        (void)data;
        free(pointer);
}

enum { ONNX_FLOAT = 1, ONNX_FLOAT16 = 10, ONNX_DOUBLE = 11, ONNX_BF16 = 16 };

struct graph_walk {
        const Onnx__GraphProto *g;
        struct imported *im;
        const char *current; /* the tensor the chain has reached */
        int counts[8];       /* per layer type, for generated names */
        struct an_error *err;
};

static const Onnx__TensorProto *initializer(const Onnx__GraphProto *g,
                                            const char *name)
{
        for (size_t i = 0; name && i < g->n_initializer; i++)
                if (g->initializer[i]->name &&
                    !strcmp(g->initializer[i]->name, name))
                        return g->initializer[i];
        return NULL;
}

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n,
                                        const char *name)
{
        for (size_t i = 0; i < n->n_attribute; i++)
                if (n->attribute[i]->name &&
                    !strcmp(n->attribute[i]->name, name))
                        return n->attribute[i];
        return NULL;
}

static int64_t attr_int(const Onnx__NodeProto *n, const char *name,
                        int64_t fallback)
{
        const Onnx__AttributeProto *a = attr(n, name);
        return a && a->has_i ? a->i : fallback;
}

static float attr_float(const Onnx__NodeProto *n, const char *name,
                        float fallback)
{
        const Onnx__AttributeProto *a = attr(n, name);
        return a && a->has_f ? a->f : fallback;
}

/* An INTS attribute of exactly `count` values, or the fallback. */
static bool attr_ints(const Onnx__NodeProto *n, const char *name, size_t count,
                      const int64_t *fallback, int64_t *out)
{
        const Onnx__AttributeProto *a = attr(n, name);
        if (!a || !a->n_ints) {
                if (!fallback)
                        return false;
                memcpy(out, fallback, count * sizeof *out);
                return true;
        }
        if (a->n_ints != count)
                return false;
        for (size_t i = 0; i < count; i++) {
                if (a->ints[i] < 0 || a->ints[i] > 65536)
                        return false;
                out[i] = a->ints[i];
        }
        return true;
}

static enum an_status refuse(struct graph_walk *w, const Onnx__NodeProto *n,
                             const char *what)
{
        return an_error_set(w->err, AN_E_UNSUPPORTED, "ONNX %s node %s: %s",
                            n->op_type ? n->op_type : "?",
                            n->name && *n->name ? n->name : "(unnamed)", what);
}

/* Layer names are generated (conv1, relu1, ...): ONNX node names are
 * often paths like "/features/features.0/Conv" that make poor names. */
static void layer_name(struct graph_walk *w, enum layer_type t, char *out)
{
        static const char *const base[] = {[LAYER_CONV] = "conv",
                                           [LAYER_RELU] = "relu",
                                           [LAYER_MAXPOOL] = "pool",
                                           [LAYER_LRN] = "norm",
                                           [LAYER_ADAPTIVE_AVGPOOL] = "avgpool",
                                           [LAYER_LINEAR] = "fc",
                                           [LAYER_DROPOUT] = "drop",
                                           [LAYER_SOFTMAX] = "prob"};
        snprintf(out, LAYER_NAME_MAX, "%s%d", base[t], ++w->counts[t]);
}

static struct layer *add_layer(struct graph_walk *w, const Onnx__NodeProto *n,
                               enum layer_type t)
{
        struct arch *a = &w->im->arch;
        if (a->n_layers >= ARCH_MAX_LAYERS)
                return NULL;
        char name[LAYER_NAME_MAX];
        (void)n;
        layer_name(w, t, name);
        struct layer *l = &a->layers[a->n_layers++];
        layer_init(l, t, name);
        return l;
}

/* The shape the chain has so far (validating it). */
static enum an_status current_shape(struct graph_walk *w, struct shape *s)
{
        struct arch *a = &w->im->arch;
        struct shape shapes[ARCH_MAX_LAYERS + 1];
        if (!a->n_layers) {
                *s = a->input;
                return AN_OK;
        }
        enum an_status st = arch_shapes(a, shapes, w->err);
        *s = shapes[a->n_layers];
        return st;
}

/* Copies an initializer into the tensor set as float32 (transposing a 2-D
 * one when asked), scaled by `scale`. */
static enum an_status take_initializer(struct graph_walk *w,
                                       const Onnx__TensorProto *t,
                                       const char *name, bool transpose,
                                       float scale)
{
        if (t->has_data_location && t->data_location == 1)
                return an_error_set(w->err, AN_E_UNSUPPORTED,
                                    "tensor %s: external data files are not "
                                    "supported",
                                    t->name);
        int64_t shape[8];
        size_t count = 1;
        if (t->n_dims > 8)
                return an_error_set(w->err, AN_E_FORMAT,
                                    "tensor %s: too many dimensions", t->name);
        for (size_t d = 0; d < t->n_dims; d++) {
                if (t->dims[d] < 0 || t->dims[d] > (1 << 30) ||
                    (t->dims[d] && count > ((size_t)1 << 32) / t->dims[d]))
                        return an_error_set(w->err, AN_E_FORMAT,
                                            "tensor %s: invalid dimensions",
                                            t->name);
                count *= (size_t)t->dims[d];
                shape[d] = t->dims[d];
        }
        if (transpose) {
                if (t->n_dims != 2)
                        return an_error_set(w->err, AN_E_FORMAT,
                                            "tensor %s is not a matrix",
                                            t->name);
                int64_t tmp = shape[0];
                shape[0] = shape[1];
                shape[1] = tmp;
        }
        int type = t->has_data_type ? t->data_type : 0;
        size_t esize = type == ONNX_FLOAT                          ? 4
                       : type == ONNX_DOUBLE                       ? 8
                       : type == ONNX_FLOAT16 || type == ONNX_BF16 ? 2
                                                                   : 0;
        if (!esize)
                return an_error_set(w->err, AN_E_UNSUPPORTED,
                                    "tensor %s: data type %d is not a float "
                                    "type",
                                    t->name, type);
        bool raw = t->has_raw_data;
        if (raw                   ? t->raw_data.len != count * esize
            : type == ONNX_FLOAT  ? t->n_float_data != count
            : type == ONNX_DOUBLE ? t->n_double_data != count
                                  : t->n_int32_data != count)
                return an_error_set(w->err, AN_E_FORMAT,
                                    "tensor %s: data does not match its %zu "
                                    "elements",
                                    t->name, count);
        struct named_tensor *out = tensor_set_add(
                &w->im->tensors, name, (int)t->n_dims, shape, w->err);
        if (!out)
                return AN_E_FORMAT;
        const uint8_t *p = raw ? t->raw_data.data : NULL;
        for (size_t i = 0; i < count; i++) {
                float v;
                if (type == ONNX_FLOAT) {
                        if (raw)
                                memcpy(&v, p + 4 * i, 4);
                        else
                                v = t->float_data[i];
                } else if (type == ONNX_DOUBLE) {
                        double d;
                        if (raw)
                                memcpy(&d, p + 8 * i, 8);
                        else
                                d = t->double_data[i];
                        v = (float)d;
                } else {
                        uint16_t h =
                                raw ? (uint16_t)(p[2 * i] | p[2 * i + 1] << 8)
                                    : (uint16_t)t->int32_data[i];
                        v = type == ONNX_FLOAT16 ? f16_to_f32(h)
                                                 : bf16_to_f32(h);
                }
                size_t dst = i;
                if (transpose) /* [in, out] read, [out, in] written */
                        dst = i % shape[0] * shape[1] + i / shape[0];
                out->data[dst] = v * scale;
        }
        return AN_OK;
}

static enum an_status params_of(struct graph_walk *w, const struct layer *l,
                                const Onnx__TensorProto *weight,
                                const Onnx__TensorProto *bias, bool transpose,
                                float alpha, float beta)
{
        char name[LAYER_NAME_MAX + 8];
        snprintf(name, sizeof name, "%s.weight", l->name);
        enum an_status st = take_initializer(w, weight, name, transpose, alpha);
        if (st == AN_OK && bias) {
                snprintf(name, sizeof name, "%s.bias", l->name);
                st = take_initializer(w, bias, name, false, beta);
        }
        return st;
}

static bool window_attrs(const Onnx__NodeProto *n, const int64_t *kernel,
                         struct window *win)
{
        static const int64_t ones[2] = {1, 1}, zeros[4] = {0, 0, 0, 0};
        int64_t k[2], s[2], p[4], d[2];
        const Onnx__AttributeProto *pad = attr(n, "auto_pad");
        if (pad && pad->has_s && pad->s.len &&
            !(pad->s.len == 6 && !memcmp(pad->s.data, "NOTSET", 6)) &&
            !(pad->s.len == 5 && !memcmp(pad->s.data, "VALID", 5)))
                return false;
        if (!attr_ints(n, "kernel_shape", 2, kernel, k) ||
            !attr_ints(n, "strides", 2, ones, s) ||
            !attr_ints(n, "pads", 4, zeros, p) ||
            !attr_ints(n, "dilations", 2, ones, d) || d[0] != 1 || d[1] != 1)
                return false;
        /* ONNX pads: [x1_begin, x2_begin, x1_end, x2_end] = t, l, b, r */
        *win = (struct window){(int)k[0], (int)k[1], (int)s[0], (int)s[1],
                               (int)p[0], (int)p[1], (int)p[2], (int)p[3]};
        return true;
}

static enum an_status on_conv(struct graph_walk *w, const Onnx__NodeProto *n)
{
        const Onnx__TensorProto *weight =
                n->n_input > 1 ? initializer(w->g, n->input[1]) : NULL;
        const Onnx__TensorProto *bias =
                n->n_input > 2 ? initializer(w->g, n->input[2]) : NULL;
        if (!weight || weight->n_dims != 4 || (n->n_input > 2 && !bias))
                return refuse(w, n, "weights must be initializers");
        struct layer *l = add_layer(w, n, LAYER_CONV);
        if (!l || !window_attrs(n, weight->dims + 2, &l->win))
                return refuse(w, n,
                              "unsupported attributes (auto_pad "
                              "SAME, dilations, or malformed)");
        l->out = (int)weight->dims[0];
        l->groups = (int)attr_int(n, "group", 1);
        l->bias = bias != NULL;
        return params_of(w, l, weight, bias, false, 1.0f, 1.0f);
}

static enum an_status on_maxpool(struct graph_walk *w, const Onnx__NodeProto *n)
{
        struct shape in;
        enum an_status st = current_shape(w, &in);
        if (st != AN_OK)
                return st;
        struct layer *l = add_layer(w, n, LAYER_MAXPOOL);
        if (!l || !window_attrs(n, NULL, &l->win) ||
            attr_int(n, "storage_order", 0))
                return refuse(w, n, "unsupported attributes");
        if (attr_int(n, "ceil_mode", 0)) {
                /* ceil((H + pads - k) / s) + 1 outputs: pad the end. */
                struct window *v = &l->win;
                int span_h = in.h + v->pad_top + v->pad_bottom - v->kernel_h;
                int span_w = in.w + v->pad_left + v->pad_right - v->kernel_w;
                if (span_h % v->stride_h)
                        v->pad_bottom += v->stride_h - span_h % v->stride_h;
                if (span_w % v->stride_w)
                        v->pad_right += v->stride_w - span_w % v->stride_w;
        }
        return AN_OK;
}

static enum an_status on_avgpool(struct graph_walk *w, const Onnx__NodeProto *n,
                                 bool global)
{
        struct shape in;
        enum an_status st = current_shape(w, &in);
        if (st != AN_OK)
                return st;
        struct window win = {1, 1, 1, 1, 0, 0, 0, 0};
        if (!global && !window_attrs(n, NULL, &win))
                return refuse(w, n, "unsupported attributes");
        if (global)
                win = (struct window){in.h, in.w, in.h, in.w, 0, 0, 0, 0};
        /* Non-overlapping windows that tile the input are adaptive pooling
         * to the quotient; anything else is not a layer we have. */
        if (win.pad_top || win.pad_left || win.pad_bottom || win.pad_right ||
            win.kernel_h != win.stride_h || win.kernel_w != win.stride_w ||
            in.h % win.kernel_h || in.w % win.kernel_w)
                return refuse(w, n,
                              "only non-overlapping, unpadded average "
                              "pooling that tiles its input is "
                              "supported");
        struct layer *l = add_layer(w, n, LAYER_ADAPTIVE_AVGPOOL);
        if (!l)
                return refuse(w, n, "too many layers");
        l->out_h = in.h / win.kernel_h;
        l->out_w = in.w / win.kernel_w;
        return AN_OK;
}

static enum an_status on_gemm(struct graph_walk *w, const Onnx__NodeProto *n,
                              bool matmul)
{
        const Onnx__TensorProto *weight =
                n->n_input > 1 ? initializer(w->g, n->input[1]) : NULL;
        const Onnx__TensorProto *bias = !matmul && n->n_input > 2
                                                ? initializer(w->g, n->input[2])
                                                : NULL;
        if (!weight || weight->n_dims != 2 ||
            (!matmul && n->n_input > 2 && !bias))
                return refuse(w, n, "weights must be initializers");
        if (!matmul && attr_int(n, "transA", 0))
                return refuse(w, n, "transA is not supported");
        bool trans_b = !matmul && attr_int(n, "transB", 0);
        struct layer *l = add_layer(w, n, LAYER_LINEAR);
        if (!l)
                return refuse(w, n, "too many layers");
        l->out = (int)weight->dims[trans_b ? 0 : 1];
        l->bias = bias != NULL;
        return params_of(w, l, weight, bias, !trans_b,
                         matmul ? 1.0f : attr_float(n, "alpha", 1.0f),
                         matmul ? 1.0f : attr_float(n, "beta", 1.0f));
}

/* Add of a [out] initializer after a bias-less linear layer: its bias. */
static enum an_status on_add(struct graph_walk *w, const Onnx__NodeProto *n)
{
        struct arch *a = &w->im->arch;
        struct layer *l = a->n_layers ? &a->layers[a->n_layers - 1] : NULL;
        const Onnx__TensorProto *b =
                n->n_input == 2 ? initializer(w->g, n->input[1]) : NULL;
        if (!l || l->type != LAYER_LINEAR || l->bias || !b || b->n_dims != 1 ||
            b->dims[0] != l->out)
                return refuse(w, n, "only a bias after MatMul is supported");
        l->bias = true;
        char name[LAYER_NAME_MAX + 8];
        snprintf(name, sizeof name, "%s.bias", l->name);
        return take_initializer(w, b, name, false, 1.0f);
}

/* One node on the chain. */
static enum an_status on_node(struct graph_walk *w, const Onnx__NodeProto *n)
{
        const char *op = n->op_type ? n->op_type : "";
        struct layer *l;
        if (!strcmp(op, "Conv"))
                return on_conv(w, n);
        if (!strcmp(op, "MaxPool"))
                return on_maxpool(w, n);
        if (!strcmp(op, "AveragePool") || !strcmp(op, "GlobalAveragePool"))
                return on_avgpool(w, n, op[0] == 'G');
        if (!strcmp(op, "Gemm") || !strcmp(op, "MatMul"))
                return on_gemm(w, n, op[0] == 'M');
        if (!strcmp(op, "Add"))
                return on_add(w, n);
        if (!strcmp(op, "Flatten") || !strcmp(op, "Reshape") ||
            !strcmp(op, "Identity"))
                return AN_OK; /* linear layers read their input flat */
        if (!strcmp(op, "Relu") || !strcmp(op, "Softmax") ||
            !strcmp(op, "Dropout") || !strcmp(op, "LRN")) {
                enum layer_type t = op[0] == 'R'   ? LAYER_RELU
                                    : op[0] == 'S' ? LAYER_SOFTMAX
                                    : op[0] == 'D' ? LAYER_DROPOUT
                                                   : LAYER_LRN;
                if (!(l = add_layer(w, n, t)))
                        return refuse(w, n, "too many layers");
                if (t == LAYER_DROPOUT)
                        l->drop_p = attr_float(n, "ratio", 0.5f);
                if (t == LAYER_LRN)
                        l->lrn = (struct lrn_params){
                                (int)attr_int(n, "size", 0),
                                attr_float(n, "alpha", 1e-4f),
                                attr_float(n, "beta", 0.75f),
                                attr_float(n, "bias", 1.0f)};
                return AN_OK;
        }
        return refuse(w, n, "this operator is not supported");
}

static bool is_shape_op(const char *op)
{
        static const char *const ops[] = {"Constant",  "Shape",  "Gather",
                                          "Unsqueeze", "Concat", "Cast",
                                          "Squeeze",   "Slice"};
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
                if (op && !strcmp(op, ops[i]))
                        return true;
        return false;
}

static bool consumes(const Onnx__NodeProto *n, const char *tensor)
{
        for (size_t i = 0; i < n->n_input; i++)
                if (n->input[i] && !strcmp(n->input[i], tensor))
                        return true;
        return false;
}

/* The graph's data input (the first input that is not an initializer) and
 * its [N, C, H, W] shape. */
static enum an_status graph_input(struct graph_walk *w)
{
        for (size_t i = 0; i < w->g->n_input; i++) {
                const Onnx__ValueInfoProto *v = w->g->input[i];
                if (!v->name || initializer(w->g, v->name))
                        continue;
                const Onnx__TypeProto *t = v->type;
                const Onnx__TensorShapeProto *s =
                        t && t->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
                                        t->tensor_type
                                ? t->tensor_type->shape
                                : NULL;
                int64_t dims[3];
                if (!s || s->n_dim != 4)
                        return an_error_set(w->err, AN_E_UNSUPPORTED,
                                            "ONNX input %s is not [N, C, H, "
                                            "W]",
                                            v->name);
                for (int d = 0; d < 3; d++) {
                        const Onnx__TensorShapeProto__Dimension *dim =
                                s->dim[d + 1];
                        if (dim->value_case !=
                                    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
                            dim->dim_value < 1 || dim->dim_value > 65536)
                                return an_error_set(
                                        w->err, AN_E_UNSUPPORTED,
                                        "ONNX input %s needs a fixed C, H "
                                        "and W",
                                        v->name);
                        dims[d] = dim->dim_value;
                }
                w->im->arch.input = (struct shape){(int)dims[0], (int)dims[1],
                                                   (int)dims[2]};
                w->current = v->name;
                return AN_OK;
        }
        return an_error_set(w->err, AN_E_FORMAT, "ONNX graph has no input");
}

static enum an_status walk(struct graph_walk *w)
{
        enum an_status st = graph_input(w);
        for (size_t i = 0; st == AN_OK && i < w->g->n_node; i++) {
                const Onnx__NodeProto *n = w->g->node[i];
                /* Shape arithmetic for Reshape may read the chain's tensor
                 * (Shape(x)) but never continues it. */
                if (is_shape_op(n->op_type))
                        continue;
                if (!consumes(n, w->current))
                        return refuse(w, n,
                                      "it is not on the network's "
                                      "chain of layers");
                if (!n->n_output || !n->input || !n->input[0] ||
                    strcmp(n->input[0], w->current))
                        return refuse(w, n,
                                      "it uses the data in an "
                                      "unsupported way");
                st = on_node(w, n);
                w->current = n->output[0];
        }
        if (st == AN_OK && (w->g->n_output != 1 || !w->g->output[0]->name ||
                            strcmp(w->g->output[0]->name, w->current)))
                st = an_error_set(w->err, AN_E_UNSUPPORTED,
                                  "the ONNX graph's output is not the end of "
                                  "its chain of layers");
        if (st == AN_OK && !w->im->arch.n_layers)
                st = an_error_set(w->err, AN_E_FORMAT, "ONNX graph is empty");
        return st;
}

/* What alexnet's own export keeps in metadata_props (labels,
 * preprocessing): taken back when valid, so that a round trip loses
 * nothing; anything else there is ignored. */
static void read_alexnet_metadata(struct imported *im,
                                  const Onnx__ModelProto *model)
{
        for (size_t i = 0; i < model->n_metadata_props; i++) {
                const Onnx__StringStringEntryProto *e =
                        model->metadata_props[i];
                if (!e->key || !e->value)
                        continue;
                json_t *j = json_loads(e->value, JSON_DECODE_ANY, NULL);
                size_t n = json_array_size(j);
                struct preprocess pre;
                if (!strcmp(e->key, "alexnet.labels") && n > 0 && !im->labels &&
                    labels_from_json(&im->labels, j, n, NULL) != AN_OK)
                        im->labels = NULL;
                if (!strcmp(e->key, "alexnet.preprocess") && j &&
                    preprocess_from_json(&pre, j, im->arch.input, NULL) ==
                            AN_OK)
                        im->pre = pre;
                json_decref(j);
        }
}

enum an_status import_onnx(struct imported *im, const char *path,
                           struct an_error *err)
{
        uint8_t *data;
        size_t size;
        memset(im, 0, sizeof *im);
        enum an_status st =
                file_read_whole(path, MAX_ONNX_FILE, &data, &size, err);
        if (st != AN_OK)
                return st;
        struct decode_budget budget = {size <= (SIZE_MAX - DECODE_SLACK) / 2
                                               ? 2 * size + DECODE_SLACK
                                               : SIZE_MAX,
                                       false};
        ProtobufCAllocator allocator = {budget_alloc, budget_free, &budget};
        Onnx__ModelProto *model =
                onnx__model_proto__unpack(&allocator, size, data);
        free(data);
        if (!model || !model->graph) {
                if (model)
                        onnx__model_proto__free_unpacked(model, &allocator);
                if (budget.exceeded)
                        return an_error_set(
                                err, AN_E_FORMAT,
                                "ONNX file would take more than %zu MB to "
                                "decode (a graph of millions of nodes or "
                                "attributes?): not a network this tool can "
                                "hold",
                                (2 * size + DECODE_SLACK) >> 20);
                return an_error_set(err, AN_E_FORMAT,
                                    "not a valid ONNX file (protobuf "
                                    "decoding failed)");
        }
        im->arch.layers = calloc(ARCH_MAX_LAYERS, sizeof *im->arch.layers);
        struct graph_walk w = {model->graph, im, NULL, {0}, err};
        st = im->arch.layers ? walk(&w)
                             : an_error_set(err, AN_E_NOMEM, "out of memory");
        snprintf(im->arch.name, sizeof im->arch.name, "custom");
        if (st == AN_OK)
                st = arch_shapes(&im->arch, NULL, err);
        im->pre = preprocess_torchvision(256);
        if (st == AN_OK)
                read_alexnet_metadata(im, model);
        onnx__model_proto__free_unpacked(model, &allocator);
        snprintf(im->source, sizeof im->source, "onnx");
        if (st != AN_OK)
                imported_free(im);
        return st;
}
