/* The layer list as an ONNX graph.  Every node, attribute and initializer
 * is allocated from one arena freed at the end; weights are referenced,
 * not copied, until the message is packed. */
#include "convert/export_onnx.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic_file.h"
#include "config.h"
#include "formats/onnx.pb-c.h"
#include "model/model_meta.h"

enum { ONNX_FLOAT = 1, ONNX_INT64 = 7, OPSET = 13, IR_VERSION = 7 };
enum { ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_INTS = 7 };

struct builder {
        void **blocks; /* everything allocated, freed together */
        size_t n_blocks, cap_blocks;
        Onnx__GraphProto *graph;
        bool failed;
        char current[LAYER_NAME_MAX + 16]; /* the chain's last tensor */
};

static void *alloc(struct builder *b, size_t size)
{
        if (b->n_blocks == b->cap_blocks) {
                size_t cap = b->cap_blocks ? 2 * b->cap_blocks : 64;
                void **blocks = realloc(b->blocks, cap * sizeof *blocks);
                if (!blocks) {
                        b->failed = true;
                        return NULL;
                }
                b->blocks = blocks;
                b->cap_blocks = cap;
        }
        void *p = calloc(1, size ? size : 1);
        if (!p)
                b->failed = true;
        else
                b->blocks[b->n_blocks++] = p;
        return p;
}

static char *text(struct builder *b, const char *s)
{
        char *copy = alloc(b, strlen(s) + 1);
        if (copy)
                strcpy(copy, s);
        return copy;
}

/* Appends ptr to a (count, array) pair of the message. */
static void append(struct builder *b, size_t *count, void ***array, void *ptr)
{
        void **grown = alloc(b, (*count + 1) * sizeof *grown);
        if (!grown || !ptr)
                return;
        if (*count)
                memcpy(grown, *array, *count * sizeof *grown);
        grown[(*count)++] = ptr;
        *array = grown;
}

static Onnx__NodeProto *node(struct builder *b, const char *op,
                             const char *name, const char *const *inputs,
                             int n_inputs)
{
        Onnx__NodeProto *n = alloc(b, sizeof *n);
        if (!n)
                return NULL;
        onnx__node_proto__init(n);
        n->op_type = text(b, op);
        n->name = text(b, name);
        for (int i = 0; i < n_inputs; i++)
                append(b, &n->n_input, (void ***)&n->input, text(b, inputs[i]));
        char out[LAYER_NAME_MAX + 16];
        snprintf(out, sizeof out, "%s.out", name);
        append(b, &n->n_output, (void ***)&n->output, text(b, out));
        snprintf(b->current, sizeof b->current, "%s", out);
        append(b, &b->graph->n_node, (void ***)&b->graph->node, n);
        return n;
}

static void attr_ints(struct builder *b, Onnx__NodeProto *n, const char *name,
                      const int64_t *values, size_t count)
{
        Onnx__AttributeProto *a = alloc(b, sizeof *a);
        int64_t *ints = alloc(b, count * sizeof *ints);
        if (!a || !ints)
                return;
        onnx__attribute_proto__init(a);
        a->name = text(b, name);
        a->has_type = true;
        a->type = ATTR_INTS;
        memcpy(ints, values, count * sizeof *ints);
        a->ints = ints;
        a->n_ints = count;
        append(b, &n->n_attribute, (void ***)&n->attribute, a);
}

static void attr_int(struct builder *b, Onnx__NodeProto *n, const char *name,
                     int64_t value)
{
        Onnx__AttributeProto *a = alloc(b, sizeof *a);
        if (!a)
                return;
        onnx__attribute_proto__init(a);
        a->name = text(b, name);
        a->has_type = a->has_i = true;
        a->type = ATTR_INT;
        a->i = value;
        append(b, &n->n_attribute, (void ***)&n->attribute, a);
}

static void attr_float(struct builder *b, Onnx__NodeProto *n, const char *name,
                       float value)
{
        Onnx__AttributeProto *a = alloc(b, sizeof *a);
        if (!a)
                return;
        onnx__attribute_proto__init(a);
        a->name = text(b, name);
        a->has_type = a->has_f = true;
        a->type = ATTR_FLOAT;
        a->f = value;
        append(b, &n->n_attribute, (void ***)&n->attribute, a);
}

/* An initializer over existing data (float32, or int64 when ints). */
static void initializer(struct builder *b, const char *name, const void *data,
                        const int64_t *dims, int rank, bool ints)
{
        Onnx__TensorProto *t = alloc(b, sizeof *t);
        int64_t *d = alloc(b, (size_t)rank * sizeof *d);
        if (!t || !d)
                return;
        onnx__tensor_proto__init(t);
        size_t count = 1;
        for (int i = 0; i < rank; i++)
                count *= (size_t)(d[i] = dims[i]);
        t->dims = d;
        t->n_dims = (size_t)rank;
        t->has_data_type = true;
        t->data_type = ints ? ONNX_INT64 : ONNX_FLOAT;
        t->name = text(b, name);
        t->has_raw_data = true;
        t->raw_data.len = count * (ints ? 8 : 4);
        t->raw_data.data = (uint8_t *)data;
        append(b, &b->graph->n_initializer, (void ***)&b->graph->initializer,
               t);
}

static void window_attrs(struct builder *b, Onnx__NodeProto *n,
                         const struct window *w)
{
        int64_t k[2] = {w->kernel_h, w->kernel_w};
        int64_t s[2] = {w->stride_h, w->stride_w};
        int64_t p[4] = {w->pad_top, w->pad_left, w->pad_bottom, w->pad_right};
        attr_ints(b, n, "kernel_shape", k, 2);
        attr_ints(b, n, "strides", s, 2);
        attr_ints(b, n, "pads", p, 4);
}

/* Adaptive average pooling: AveragePool when the windows tile the input,
 * else Reshape-MatMul-Reshape with the pooling matrix (owned by pool). */
static void adaptive_pool(struct builder *b, const struct layer *l,
                          struct shape in, float **pool)
{
        char name[LAYER_NAME_MAX + 16];
        const char *x = b->current;
        if (in.h == l->out_h && in.w == l->out_w)
                return; /* the identity */
        if (in.h % l->out_h == 0 && in.w % l->out_w == 0) {
                struct window w = {in.h / l->out_h,
                                   in.w / l->out_w,
                                   in.h / l->out_h,
                                   in.w / l->out_w,
                                   0,
                                   0,
                                   0,
                                   0};
                const char *inputs[] = {x};
                window_attrs(b, node(b, "AveragePool", l->name, inputs, 1), &w);
                return;
        }
        size_t hw = (size_t)in.h * in.w, ohw = (size_t)l->out_h * l->out_w;
        float *m = calloc(hw * ohw, sizeof *m);
        int64_t *shapes = alloc(b, 6 * sizeof *shapes);
        if (!m || !shapes) {
                free(m);
                b->failed = true;
                return;
        }
        *pool = m;
        for (int oy = 0; oy < l->out_h; oy++)
                for (int ox = 0; ox < l->out_w; ox++) {
                        int y0 = oy * in.h / l->out_h,
                            y1 = ((oy + 1) * in.h + l->out_h - 1) / l->out_h;
                        int x0 = ox * in.w / l->out_w,
                            x1 = ((ox + 1) * in.w + l->out_w - 1) / l->out_w;
                        float v = 1.0f / (float)((y1 - y0) * (x1 - x0));
                        for (int y = y0; y < y1; y++)
                                for (int xx = x0; xx < x1; xx++)
                                        m[((size_t)y * in.w + xx) * ohw +
                                          (size_t)oy * l->out_w + ox] = v;
                }
        int64_t flat[2] = {-1, (int64_t)hw},
                back[4] = {-1, in.c, l->out_h, l->out_w};
        memcpy(shapes, flat, sizeof flat);
        memcpy(shapes + 2, back, sizeof back);
        int64_t two = 2, four = 4, mdims[2] = {(int64_t)hw, (int64_t)ohw};
        char s1[LAYER_NAME_MAX + 16], s2[LAYER_NAME_MAX + 16],
                pm[LAYER_NAME_MAX + 16];
        snprintf(s1, sizeof s1, "%s.flat_shape", l->name);
        snprintf(s2, sizeof s2, "%s.out_shape", l->name);
        snprintf(pm, sizeof pm, "%s.pooling", l->name);
        initializer(b, s1, shapes, &two, 1, true);
        initializer(b, s2, shapes + 2, &four, 1, true);
        initializer(b, pm, m, mdims, 2, false);
        snprintf(name, sizeof name, "%s.flatten", l->name);
        const char *a[] = {x, s1};
        node(b, "Reshape", name, a, 2);
        snprintf(name, sizeof name, "%s.matmul", l->name);
        const char *c[] = {b->current, pm};
        node(b, "MatMul", name, c, 2);
        const char *d[] = {b->current, s2};
        node(b, "Reshape", l->name, d, 2);
}

static void layer_nodes(struct builder *b, const struct model *m, int i,
                        float **pool)
{
        const struct layer *l = &m->net.arch.layers[i];
        struct shape in = m->net.shapes[i];
        char w[LAYER_NAME_MAX + 16], bias[LAYER_NAME_MAX + 16],
                flat[LAYER_NAME_MAX + 16];
        snprintf(w, sizeof w, "%s.weight", l->name);
        snprintf(bias, sizeof bias, "%s.bias", l->name);
        const char *inputs[3] = {b->current, w, bias};
        int64_t dims[2][4];
        int ranks[2];
        Onnx__NodeProto *n;
        switch (l->type) {
        case LAYER_CONV:
                layer_param_tensors(l, in, dims, ranks);
                initializer(b, w, m->net.weights[i], dims[0], 4, false);
                if (l->bias)
                        initializer(b, bias, m->net.biases[i], dims[1], 1,
                                    false);
                n = node(b, "Conv", l->name, inputs, l->bias ? 3 : 2);
                window_attrs(b, n, &l->win);
                attr_int(b, n, "group", l->groups);
                break;
        case LAYER_LINEAR:
                if (in.h != 1 || in.w != 1) {
                        snprintf(flat, sizeof flat, "%s.flatten", l->name);
                        const char *x[] = {b->current};
                        attr_int(b, node(b, "Flatten", flat, x, 1), "axis", 1);
                        inputs[0] = b->current;
                }
                layer_param_tensors(l, in, dims, ranks);
                initializer(b, w, m->net.weights[i], dims[0], 2, false);
                if (l->bias)
                        initializer(b, bias, m->net.biases[i], dims[1], 1,
                                    false);
                n = node(b, "Gemm", l->name, inputs, l->bias ? 3 : 2);
                attr_int(b, n, "transB", 1);
                break;
        case LAYER_RELU: node(b, "Relu", l->name, inputs, 1); break;
        case LAYER_MAXPOOL:
                window_attrs(b, node(b, "MaxPool", l->name, inputs, 1),
                             &l->win);
                break;
        case LAYER_LRN:
                n = node(b, "LRN", l->name, inputs, 1);
                attr_int(b, n, "size", l->lrn.size);
                attr_float(b, n, "alpha", (float)l->lrn.alpha);
                attr_float(b, n, "beta", (float)l->lrn.beta);
                attr_float(b, n, "bias", (float)l->lrn.k);
                break;
        case LAYER_ADAPTIVE_AVGPOOL: adaptive_pool(b, l, in, pool); break;
        case LAYER_DROPOUT: break; /* inference: the identity */
        case LAYER_SOFTMAX:
                attr_int(b, node(b, "Softmax", l->name, inputs, 1), "axis", 1);
                break;
        }
}

/* A [batch, dims...] float tensor's type, batch symbolic. */
static Onnx__ValueInfoProto *value_info(struct builder *b, const char *name,
                                        const int *dims, int rank)
{
        Onnx__ValueInfoProto *v = alloc(b, sizeof *v);
        Onnx__TypeProto *t = alloc(b, sizeof *t);
        Onnx__TypeProto__Tensor *tt = alloc(b, sizeof *tt);
        Onnx__TensorShapeProto *s = alloc(b, sizeof *s);
        if (!v || !t || !tt || !s)
                return NULL;
        onnx__value_info_proto__init(v);
        onnx__type_proto__init(t);
        onnx__type_proto__tensor__init(tt);
        onnx__tensor_shape_proto__init(s);
        for (int d = 0; d <= rank; d++) {
                Onnx__TensorShapeProto__Dimension *dim = alloc(b, sizeof *dim);
                if (!dim)
                        return NULL;
                onnx__tensor_shape_proto__dimension__init(dim);
                if (d == 0) {
                        dim->value_case =
                                ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                        dim->dim_param = text(b, "batch");
                } else {
                        dim->value_case =
                                ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                        dim->dim_value = dims[d - 1];
                }
                append(b, &s->n_dim, (void ***)&s->dim, dim);
        }
        tt->has_elem_type = true;
        tt->elem_type = ONNX_FLOAT;
        tt->shape = s;
        t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        t->tensor_type = tt;
        v->name = text(b, name);
        v->type = t;
        return v;
}

/* Packs the protobuf and writes it, unless the model's file changed
 * while its weights were being copied in. */
static enum an_status write_packed(const Onnx__ModelProto *model,
                                   const struct model *source, const char *path,
                                   struct an_error *err)
{
        size_t size = onnx__model_proto__get_packed_size(model);
        uint8_t *buf = malloc(size ? size : 1);
        if (!buf)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        onnx__model_proto__pack(model, buf);
        struct atomic_file f = {0};
        enum an_status st = model_check_file(source, err);
        if (st == AN_OK)
                st = atomic_file_create(&f, path, err);
        if (st == AN_OK)
                st = atomic_file_write(&f, buf, size, err);
        if (st == AN_OK)
                st = atomic_file_commit(&f, err);
        else if (f.temp_path)
                atomic_file_abort(&f);
        free(buf);
        return st;
}

/* key = the JSON text of doc (taken), as one metadata_props entry. */
static void metadata(struct builder *b, Onnx__ModelProto *model,
                     const char *key, json_t *doc)
{
        char *value =
                doc ? json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(doc);
        Onnx__StringStringEntryProto *e = alloc(b, sizeof *e);
        if (!value || !e) {
                free(value);
                b->failed = true;
                return;
        }
        onnx__string_string_entry_proto__init(e);
        e->key = text(b, key);
        e->value = text(b, value);
        free(value);
        append(b, &model->n_metadata_props, (void ***)&model->metadata_props,
               e);
}

enum an_status model_export_onnx(const struct model *m, const char *path,
                                 bool softmax, struct an_error *err)
{
        struct builder b = {0};
        Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
        Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
        Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
        Onnx__OperatorSetIdProto *opsets[] = {&opset};
        float **pools = calloc(m->net.arch.n_layers, sizeof *pools);
        b.graph = &graph;
        opset.domain = "";
        opset.has_version = true;
        opset.version = OPSET;
        model.has_ir_version = true;
        model.ir_version = IR_VERSION;
        model.producer_name = "alexnet";
        model.producer_version = PACKAGE_VERSION;
        model.graph = &graph;
        model.n_opset_import = 1;
        model.opset_import = opsets;
        graph.name = "alexnet";

        struct shape in = m->net.shapes[0];
        int in_dims[3] = {in.c, in.h, in.w};
        int out_dims[1] = {(int)net_outputs(&m->net)};
        append(&b, &graph.n_input, (void ***)&graph.input,
               value_info(&b, "input", in_dims, 3));
        snprintf(b.current, sizeof b.current, "input");
        for (int i = 0; pools && i < m->net.arch.n_layers; i++)
                layer_nodes(&b, m, i, &pools[i]);
        int n = m->net.arch.n_layers;
        if (softmax && n && m->net.arch.layers[n - 1].type != LAYER_SOFTMAX) {
                const char *inputs[1] = {b.current};
                attr_int(&b, node(&b, "Softmax", "probabilities", inputs, 1),
                         "axis", 1);
        }
        metadata(&b, &model, "alexnet.labels",
                 m->labels ? labels_to_json(m->labels) : json_null());
        metadata(&b, &model, "alexnet.preprocess",
                 preprocess_to_json(&m->pre, m->net.shapes[0]));
        metadata(&b, &model, "alexnet.provenance",
                 json_incref(m->provenance ? m->provenance : json_null()));
        /* The last node's output is the graph's output. */
        if (graph.n_node) {
                Onnx__NodeProto *last = graph.node[graph.n_node - 1];
                last->output[0] = text(&b, "output");
        }
        append(&b, &graph.n_output, (void ***)&graph.output,
               value_info(&b, "output", out_dims, 1));
        enum an_status st;
        if (!pools || b.failed)
                st = an_error_set(err, AN_E_NOMEM, "out of memory");
        else if (!graph.n_node)
                st = an_error_set(err, AN_E_UNSUPPORTED,
                                  "the network has no layer ONNX needs");
        else
                st = write_packed(&model, m, path, err);
        for (int i = 0; pools && i < m->net.arch.n_layers; i++)
                free(pools[i]);
        free(pools);
        for (size_t i = 0; i < b.n_blocks; i++)
                free(b.blocks[i]);
        free(b.blocks);
        return st;
}
