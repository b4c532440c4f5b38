#include "model/model.h"
#include "model/model_meta.h"
#include "base/huge_alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_FORMAT "alexnet-model/1"

/* One parameter tensor the architecture asks for. */
struct param {
        int layer;
        bool is_bias;
        char name[LAYER_NAME_MAX + 8];
        int rank;
        int64_t shape[4];
        uint64_t count;
};

/* Lists the parameter tensors of net in layer order into a new array. */
static enum an_status list_params(const struct net *net, struct param **out,
                                  size_t *n_out, struct an_error *err)
{
        struct param *list =
                calloc(2 * (size_t)net->arch.n_layers + 1, sizeof *list);
        if (!list)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        size_t n = 0;
        for (int i = 0; i < net->arch.n_layers; i++) {
                const struct layer *l = &net->arch.layers[i];
                int64_t dims[2][4];
                int ranks[2];
                int count = layer_param_tensors(l, net->shapes[i], dims, ranks);
                for (int t = 0; t < count; t++) {
                        struct param *p = &list[n++];
                        p->layer = i;
                        p->is_bias = t == 1;
                        snprintf(p->name, sizeof p->name, "%s.%s", l->name,
                                 t ? "bias" : "weight");
                        p->rank = ranks[t];
                        p->count = 1;
                        for (int d = 0; d < ranks[t]; d++) {
                                p->shape[d] = dims[t][d];
                                p->count *= (uint64_t)dims[t][d];
                        }
                }
        }
        *out = list;
        *n_out = n;
        return AN_OK;
}

static void set_param(struct net *net, const struct param *p, const float *v)
{
        if (p->is_bias)
                net->biases[p->layer] = v;
        else
                net->weights[p->layer] = v;
}

struct preprocess preprocess_torchvision(int resize)
{
        /* ImageNet statistics used by every torchvision classifier. */
        return (struct preprocess){resize,
                                   "RGB",
                                   1.0 / 255.0,
                                   {0.485, 0.456, 0.406},
                                   {0.229, 0.224, 0.225}};
}

/* Resize size for an input of side s: 256 for 224 as torchvision does,
 * scaled the same way for other sizes (the paper preset says otherwise). */
static int default_resize(struct shape in)
{
        int side = in.h > in.w ? in.h : in.w;
        return (int)lround(side * 256.0 / 224.0);
}

void model_close(struct model *m)
{
        net_free(&m->net);
        labels_free(m->labels);
        json_decref(m->provenance);
        st_close(&m->file);
        free(m->owned_params);
        memset(m, 0, sizeof *m);
}

enum an_status model_check_file(const struct model *m, struct an_error *err)
{
        return st_check(&m->file, err);
}

uint64_t model_param_count(const struct model *m)
{
        uint64_t total = 0;
        for (int i = 0; i < m->net.arch.n_layers; i++)
                total += layer_param_count(&m->net.arch.layers[i],
                                           m->net.shapes[i]);
        return total;
}

/* Moves every parameter into one new owned block in layer order: zeroed,
 * or copied from where the layers point now. */
static enum an_status place_params(struct model *m, bool copy,
                                   struct an_error *err)
{
        struct param *params;
        size_t n;
        enum an_status st = list_params(&m->net, &params, &n, err);
        if (st != AN_OK)
                return st;
        uint64_t total = model_param_count(m);
        float *block = huge_alloc((total ? total : 1) * sizeof *block, true);
        if (!block) {
                free(params);
                return an_error_set(err, AN_E_NOMEM,
                                    "out of memory for %llu parameters",
                                    (unsigned long long)total);
        }
        float *next = block;
        for (size_t i = 0; i < n; i++) {
                const struct param *p = &params[i];
                const float *src = p->is_bias ? m->net.biases[p->layer]
                                              : m->net.weights[p->layer];
                if (copy)
                        memcpy(next, src, p->count * sizeof *next);
                set_param(&m->net, p, next);
                next += p->count;
        }
        free(params);
        free(m->owned_params);
        m->owned_params = block;
        return AN_OK;
}

static enum an_status alloc_params(struct model *m, struct an_error *err)
{
        return place_params(m, false, err);
}

enum an_status model_from_arch(struct model *m, const struct arch *a,
                               struct an_error *err)
{
        memset(m, 0, sizeof *m);
        enum an_status st = net_init(&m->net, a, err);
        /* Caffe's bvlc_alexnet, like the paper, crops 227 from 256. */
        int resize =
                strcmp(a->name, "alexnet") ? default_resize(a->input) : 256;
        m->pre = preprocess_torchvision(resize);
        m->provenance = json_object();
        if (st == AN_OK && !m->provenance)
                st = an_error_set(err, AN_E_NOMEM, "out of memory");
        if (st == AN_OK)
                st = alloc_params(m, err);
        if (st != AN_OK)
                model_close(m);
        return st;
}

enum an_status model_from_preset(struct model *m, const char *preset,
                                 int classes, struct an_error *err)
{
        struct arch a;
        memset(m, 0, sizeof *m);
        enum an_status st = arch_from_preset(&a, preset, classes, err);
        if (st != AN_OK)
                return st;
        st = model_from_arch(m, &a, err);
        arch_free(&a);
        return st;
}

/* Parses a metadata value that holds a JSON document. */
static json_t *meta_json(const struct st_file *f, const char *key,
                         struct an_error *err)
{
        const char *text = st_metadata(f, key);
        if (!text) {
                an_error_set(err, AN_E_FORMAT, "metadata has no \"%s\"", key);
                return NULL;
        }
        json_error_t jerr;
        json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                an_error_set(err, AN_E_FORMAT,
                             "metadata \"%s\" is not valid JSON: %s", key,
                             jerr.text);
        return j;
}

static enum an_status read_metadata(struct model *m, struct an_error *err)
{
        const struct st_file *f = &m->file;
        const char *format = st_metadata(f, "format");
        if (!st_metadata(f, "architecture"))
                return an_error_set(err, AN_E_FORMAT,
                                    "not an alexnet model (no architecture "
                                    "in its metadata; `alexnet convert` "
                                    "imports other files)");
        if (format && strcmp(format, MODEL_FORMAT))
                return an_error_set(err, AN_E_UNSUPPORTED,
                                    "model format \"%s\" is not %s", format,
                                    MODEL_FORMAT);
        json_t *j = meta_json(f, "architecture", err);
        if (!j)
                return AN_E_FORMAT;
        struct arch a;
        enum an_status st = arch_from_json(&a, j, err);
        json_decref(j);
        if (st != AN_OK)
                return st;
        st = net_init(&m->net, &a, err);
        arch_free(&a);
        if (st != AN_OK)
                return st;

        struct shape input = m->net.shapes[0];
        m->pre = preprocess_torchvision(default_resize(input));
        if (st_metadata(f, "preprocess")) {
                if (!(j = meta_json(f, "preprocess", err)))
                        return AN_E_FORMAT;
                st = preprocess_from_json(&m->pre, j, input, err);
                json_decref(j);
                if (st != AN_OK)
                        return st;
        }
        if (st_metadata(f, "labels")) {
                if (!(j = meta_json(f, "labels", err)))
                        return AN_E_FORMAT;
                st = labels_from_json(&m->labels, j, net_outputs(&m->net), err);
                json_decref(j);
                if (st != AN_OK)
                        return st;
        }
        m->provenance = st_metadata(f, "provenance")
                                ? meta_json(f, "provenance", err)
                                : json_object();
        if (!json_is_object(m->provenance))
                return an_error_set(err, AN_E_FORMAT,
                                    "metadata \"provenance\" is not a JSON "
                                    "object");
        return AN_OK;
}

static bool same_shape(const struct st_tensor *t, const struct param *p)
{
        if (t->rank != p->rank)
                return false;
        for (int d = 0; d < p->rank; d++)
                if (t->shape[d] != p->shape[d])
                        return false;
        return true;
}

static void format_shape(char *buf, size_t size, int rank, const int64_t *shape)
{
        int used = snprintf(buf, size, "[");
        for (int d = 0; d < rank && used > 0 && (size_t)used < size; d++)
                used += snprintf(buf + used, size - used, "%s%lld",
                                 d ? ", " : "", (long long)shape[d]);
        if (used > 0 && (size_t)used < size)
                snprintf(buf + used, size - used, "]");
}

/* Checks each listed tensor's presence, dtype and shape. */
static enum an_status check_tensors(const struct st_file *f,
                                    const struct param *params, size_t n,
                                    struct an_error *err)
{
        for (size_t i = 0; i < n; i++) {
                const struct st_tensor *t = st_find(f, params[i].name);
                char want[96], have[160];
                if (!t)
                        return an_error_set(err, AN_E_FORMAT,
                                            "tensor %s is missing",
                                            params[i].name);
                if (t->dtype != ST_F32 && t->dtype != ST_F16 &&
                    t->dtype != ST_BF16)
                        return an_error_set(err, AN_E_FORMAT,
                                            "tensor %s has dtype %s (F32, "
                                            "F16 or BF16 needed)",
                                            t->name, st_dtype_name(t->dtype));
                if (!same_shape(t, &params[i])) {
                        format_shape(want, sizeof want, params[i].rank,
                                     params[i].shape);
                        format_shape(have, sizeof have, t->rank, t->shape);
                        return an_error_set(err, AN_E_FORMAT,
                                            "tensor %s has shape %s, the "
                                            "architecture needs %s",
                                            t->name, have, want);
                }
        }
        if (f->n_tensors != n) {
                for (size_t i = 0; i < f->n_tensors; i++) {
                        size_t j = 0;
                        while (j < n &&
                               strcmp(params[j].name, f->tensors[i].name))
                                j++;
                        /* a checkpoint's optimiser state rides along */
                        if (j == n && strncmp(f->tensors[i].name, "train.", 6))
                                return an_error_set(
                                        err, AN_E_FORMAT,
                                        "tensor %s is not part of the "
                                        "architecture",
                                        f->tensors[i].name);
                }
        }
        return AN_OK;
}

/* Points each layer at its tensor: F32 data in place when aligned, anything
 * else widened into owned memory. */
static enum an_status bind_tensors(struct model *m, const struct param *params,
                                   size_t n, struct an_error *err)
{
        uint64_t copied = 0;
        for (size_t i = 0; i < n; i++) {
                const struct st_tensor *t = st_find(&m->file, params[i].name);
                if (t->dtype != ST_F32 || (uintptr_t)t->data % sizeof(float))
                        copied += t->count;
        }
        if (copied &&
            !(m->owned_params = huge_alloc(copied * sizeof(float), false)))
                return an_error_set(err, AN_E_NOMEM,
                                    "out of memory widening %llu parameters",
                                    (unsigned long long)copied);
        float *next = m->owned_params;
        for (size_t i = 0; i < n; i++) {
                const struct st_tensor *t = st_find(&m->file, params[i].name);
                if (t->dtype == ST_F32 &&
                    (uintptr_t)t->data % sizeof(float) == 0) {
                        set_param(&m->net, &params[i], (const float *)t->data);
                        continue;
                }
                enum an_status st = st_tensor_to_f32(t, next, err);
                if (st != AN_OK)
                        return st;
                set_param(&m->net, &params[i], next);
                next += t->count;
        }
        return AN_OK;
}

enum an_status model_open(struct model *m, const char *path,
                          struct an_error *err)
{
        memset(m, 0, sizeof *m);
        enum an_status st = st_open(&m->file, path, err);
        if (st != AN_OK)
                return st;
        struct param *params = NULL;
        size_t n = 0;
        st = read_metadata(m, err);
        if (st == AN_OK)
                st = list_params(&m->net, &params, &n, err);
        if (st == AN_OK)
                st = check_tensors(&m->file, params, n, err);
        if (st == AN_OK)
                st = bind_tensors(m, params, n, err);
        if (st == AN_OK)
                st = st_check(&m->file, err);
        free(params);
        if (st != AN_OK)
                model_close(m);
        return st;
}

/* Serialises a JSON document into metadata under key. */
static int set_meta(json_t *meta, const char *key, json_t *doc)
{
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        if (!text)
                return -1;
        int rc = json_object_set_new(meta, key, json_string(text));
        free(text);
        return rc;
}

/* What a reader would refuse is not written: the labels and the
 * preprocessing by the rules they are read with. */
static enum an_status check_readable(const struct model *m,
                                     struct an_error *err)
{
        for (size_t i = 0; m->labels && m->labels[i]; i++) {
                struct an_error why;
                if (label_check(m->labels[i], &why) != AN_OK)
                        return an_error_set(err, AN_E_INVALID,
                                            "label %zu cannot be written: %s",
                                            i, why.message);
        }
        json_t *pre = preprocess_to_json(&m->pre, m->net.shapes[0]);
        struct preprocess back;
        enum an_status st =
                pre ? preprocess_from_json(&back, pre, m->net.shapes[0], err)
                    : an_error_set(err, AN_E_NOMEM, "out of memory");
        json_decref(pre);
        return st;
}

static json_t *build_metadata(const struct model *m)
{
        json_t *meta = json_object();
        if (!meta ||
            json_object_set_new(meta, "format", json_string(MODEL_FORMAT)) ||
            set_meta(meta, "architecture", arch_to_json(&m->net.arch)) ||
            set_meta(meta, "preprocess",
                     preprocess_to_json(&m->pre, m->net.shapes[0])) ||
            (m->labels &&
             set_meta(meta, "labels", labels_to_json(m->labels))) ||
            set_meta(meta, "provenance",
                     json_incref(m->provenance ? m->provenance
                                               : json_object()))) {
                json_decref(meta);
                return NULL;
        }
        return meta;
}

enum an_status model_own_params(struct model *m, struct an_error *err)
{
        enum an_status st = place_params(m, true, err);
        /* the copy is only as good as the file was while it was made */
        return st == AN_OK ? st_check(&m->file, err) : st;
}

enum an_status model_save(const struct model *m, const char *path,
                          enum st_dtype dtype, struct an_error *err)
{
        return model_save_with(m, path, dtype, NULL, 0, NULL, err);
}

enum an_status model_save_with(const struct model *m, const char *path,
                               enum st_dtype dtype,
                               const struct st_write_tensor *extra,
                               size_t n_extra, const json_t *extra_meta,
                               struct an_error *err)
{
        struct param *params;
        size_t n;
        enum an_status st = check_readable(m, err);
        if (st == AN_OK)
                st = list_params(&m->net, &params, &n, err);
        if (st != AN_OK)
                return st;
        struct st_write_tensor *tensors =
                calloc(n + n_extra + 1, sizeof *tensors);
        json_t *meta = build_metadata(m);
        if (meta && extra_meta)
                json_object_update(meta, (json_t *)extra_meta);
        if (!tensors || !meta) {
                st = an_error_set(err, AN_E_NOMEM, "out of memory");
        } else {
                for (size_t i = 0; i < n; i++) {
                        const struct param *p = &params[i];
                        tensors[i].name = p->name;
                        tensors[i].dtype = dtype;
                        tensors[i].rank = p->rank;
                        memcpy(tensors[i].shape, p->shape, sizeof p->shape);
                        tensors[i].data = p->is_bias ? m->net.biases[p->layer]
                                                     : m->net.weights[p->layer];
                }
                for (size_t i = 0; i < n_extra; i++)
                        tensors[n + i] = extra[i];
                st = st_write_checked(path, meta, tensors, n + n_extra,
                                      &m->file, err);
        }
        json_decref(meta);
        free(tensors);
        free(params);
        return st;
}
