/* Architectures to and from JSON, the form a model file's metadata records.
 *
 *   {"name": "alexnet-owt", "input": [3, 224, 224], "layers": [
 *     {"name": "features.0", "type": "conv", "out": 64, "kernel": [11, 11],
 *      "stride": [4, 4], "pad": [2, 2, 2, 2], "groups": 1, "bias": true},
 *     {"name": "features.2", "type": "maxpool", "kernel": [3, 3], ...},
 *     {"name": "norm1", "type": "lrn", "size": 5, "alpha": 0.0001,
 *      "beta": 0.75, "k": 2},
 *     {"name": "avgpool", "type": "adaptive_avgpool", "out": [6, 6]},
 *     {"name": "classifier.1", "type": "linear", "out": 4096, "bias": true},
 *     {"name": "classifier.0", "type": "dropout", "p": 0.5},
 *     {"name": "relu", "type": "relu"}, {"name": "prob", "type": "softmax"}]}
 *
 * "pad" is [top, left, bottom, right]; on reading, "kernel", "stride" and
 * "pad" may also be one number, and "pad" a pair [h, w].  Keys a layer type
 * does not use are refused, so that a file meant for a richer tool (say with
 * dilation) is not silently run with a different meaning. */
#include "model/arch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *int_pair(int a, int b)
{
        return json_pack("[ii]", a, b);
}

static json_t *layer_to_json(const struct layer *l)
{
        json_t *j = json_pack("{ssss}", "name", l->name, "type",
                              layer_type_name(l->type));
        if (!j)
                return NULL;
        const struct window *w = &l->win;
        switch (l->type) {
        case LAYER_CONV:
                json_object_set_new(j, "out", json_integer(l->out));
                /* fall through */
        case LAYER_MAXPOOL:
                json_object_set_new(j, "kernel",
                                    int_pair(w->kernel_h, w->kernel_w));
                json_object_set_new(j, "stride",
                                    int_pair(w->stride_h, w->stride_w));
                json_object_set_new(j, "pad",
                                    json_pack("[iiii]", w->pad_top, w->pad_left,
                                              w->pad_bottom, w->pad_right));
                if (l->type == LAYER_CONV) {
                        json_object_set_new(j, "groups",
                                            json_integer(l->groups));
                        json_object_set_new(j, "bias", json_boolean(l->bias));
                }
                break;
        case LAYER_LRN:
                json_object_set_new(j, "size", json_integer(l->lrn.size));
                json_object_set_new(j, "alpha", json_real(l->lrn.alpha));
                json_object_set_new(j, "beta", json_real(l->lrn.beta));
                json_object_set_new(j, "k", json_real(l->lrn.k));
                break;
        case LAYER_ADAPTIVE_AVGPOOL:
                json_object_set_new(j, "out", int_pair(l->out_h, l->out_w));
                break;
        case LAYER_LINEAR:
                json_object_set_new(j, "out", json_integer(l->out));
                json_object_set_new(j, "bias", json_boolean(l->bias));
                break;
        case LAYER_DROPOUT:
                json_object_set_new(j, "p", json_real(l->drop_p));
                break;
        case LAYER_RELU:
        case LAYER_SOFTMAX: break;
        }
        return j;
}

json_t *arch_to_json(const struct arch *a)
{
        json_t *layers = json_array();
        json_t *j =
                json_pack("{sss[iii]so}", "name", a->name, "input", a->input.c,
                          a->input.h, a->input.w, "layers", layers);
        if (!j)
                return NULL;
        for (int i = 0; i < a->n_layers; i++) {
                json_t *l = layer_to_json(&a->layers[i]);
                if (!l || json_array_append_new(layers, l)) {
                        json_decref(j);
                        return NULL;
                }
        }
        return j;
}

/* ---- reading ---- */

struct reader {
        const char *layer; /* name for messages */
        struct an_error *err;
};

static enum an_status bad(struct reader *r, const char *key, const char *what)
{
        return an_error_set(r->err, AN_E_FORMAT,
                            "architecture: layer %s: \"%s\" %s", r->layer, key,
                            what);
}

static enum an_status get_int(struct reader *r, const json_t *v,
                              const char *key, int *out)
{
        if (!json_is_integer(v))
                return bad(r, key, "must be an integer");
        json_int_t x = json_integer_value(v);
        if (x < -(1 << 30) || x > (1 << 30))
                return bad(r, key, "is out of range");
        *out = (int)x;
        return AN_OK;
}

/* Reads a number, an n-element array, or (for pads) a 2-element [h, w]
 * array expanded to [h, w, h, w]. */
static enum an_status get_ints(struct reader *r, const json_t *v,
                               const char *key, int n, int *out)
{
        if (json_is_integer(v)) {
                enum an_status st = get_int(r, v, key, &out[0]);
                for (int i = 1; i < n; i++)
                        out[i] = out[0];
                return st;
        }
        size_t len = json_array_size(v);
        if (!json_is_array(v) || !(len == (size_t)n || (n == 4 && len == 2)))
                return bad(r, key,
                           n == 4 ? "must be a number or an array of "
                                    "2 or 4 integers"
                                  : "must be a number or an array of "
                                    "2 integers");
        for (size_t i = 0; i < len; i++)
                if (get_int(r, json_array_get(v, i), key, &out[i]) != AN_OK)
                        return r->err ? r->err->code : AN_E_FORMAT;
        if (len == 2 && n == 4) {
                out[2] = out[0];
                out[3] = out[1];
        }
        return AN_OK;
}

static enum an_status get_number(struct reader *r, const json_t *v,
                                 const char *key, double *out)
{
        if (!json_is_number(v))
                return bad(r, key, "must be a number");
        *out = json_number_value(v);
        return AN_OK;
}

static enum an_status get_bool(struct reader *r, const json_t *v,
                               const char *key, bool *out)
{
        if (!json_is_boolean(v))
                return bad(r, key, "must be true or false");
        *out = json_is_true(v);
        return AN_OK;
}

static enum an_status parse_type(const char *s, enum layer_type *t)
{
        for (int i = LAYER_CONV; i <= LAYER_SOFTMAX; i++)
                if (!strcmp(s, layer_type_name((enum layer_type)i))) {
                        *t = (enum layer_type)i;
                        return AN_OK;
                }
        return AN_E_FORMAT;
}

/* Sets one field of l from key/value; refuses keys l's type does not use. */
static enum an_status read_key(struct reader *r, struct layer *l,
                               const char *key, const json_t *v)
{
        enum layer_type t = l->type;
        bool windowed = t == LAYER_CONV || t == LAYER_MAXPOOL;
        int pair[2], pads[4];
        enum an_status st;
        double d = 0;

        if (!strcmp(key, "name") || !strcmp(key, "type"))
                return AN_OK;
        if (!strcmp(key, "out") && (t == LAYER_CONV || t == LAYER_LINEAR))
                return get_int(r, v, key, &l->out);
        if (!strcmp(key, "out") && t == LAYER_ADAPTIVE_AVGPOOL) {
                if ((st = get_ints(r, v, key, 2, pair)) == AN_OK) {
                        l->out_h = pair[0];
                        l->out_w = pair[1];
                }
                return st;
        }
        if (!strcmp(key, "kernel") && windowed) {
                if ((st = get_ints(r, v, key, 2, pair)) == AN_OK) {
                        l->win.kernel_h = pair[0];
                        l->win.kernel_w = pair[1];
                }
                return st;
        }
        if (!strcmp(key, "stride") && windowed) {
                if ((st = get_ints(r, v, key, 2, pair)) == AN_OK) {
                        l->win.stride_h = pair[0];
                        l->win.stride_w = pair[1];
                }
                return st;
        }
        if (!strcmp(key, "pad") && windowed) {
                if ((st = get_ints(r, v, key, 4, pads)) == AN_OK) {
                        l->win.pad_top = pads[0];
                        l->win.pad_left = pads[1];
                        l->win.pad_bottom = pads[2];
                        l->win.pad_right = pads[3];
                }
                return st;
        }
        if (!strcmp(key, "groups") && t == LAYER_CONV)
                return get_int(r, v, key, &l->groups);
        if (!strcmp(key, "bias") && (t == LAYER_CONV || t == LAYER_LINEAR))
                return get_bool(r, v, key, &l->bias);
        if (t == LAYER_LRN) {
                if (!strcmp(key, "size"))
                        return get_int(r, v, key, &l->lrn.size);
                if (!strcmp(key, "alpha"))
                        return get_number(r, v, key, &l->lrn.alpha);
                if (!strcmp(key, "beta"))
                        return get_number(r, v, key, &l->lrn.beta);
                if (!strcmp(key, "k"))
                        return get_number(r, v, key, &l->lrn.k);
        }
        if (!strcmp(key, "p") && t == LAYER_DROPOUT) {
                if ((st = get_number(r, v, key, &d)) == AN_OK)
                        l->drop_p = d;
                return st;
        }
        return bad(r, key, "is not a parameter of this layer type");
}

static enum an_status layer_from_json(struct layer *l, int index,
                                      const json_t *j, struct an_error *err)
{
        char fallback[LAYER_NAME_MAX];
        snprintf(fallback, sizeof fallback, "#%d", index);
        struct reader r = {fallback, err};
        if (!json_is_object(j))
                return an_error_set(err, AN_E_FORMAT,
                                    "architecture: layer %d is not an object",
                                    index);
        const char *type = json_string_value(json_object_get(j, "type"));
        enum layer_type t;
        if (!type || parse_type(type, &t) != AN_OK)
                return an_error_set(err, AN_E_FORMAT,
                                    "architecture: layer %d: unknown type "
                                    "'%s'",
                                    index, type ? type : "(none)");
        layer_init(l, t, "");
        const json_t *name = json_object_get(j, "name");
        if (name && (!json_is_string(name) ||
                     strlen(json_string_value(name)) >= LAYER_NAME_MAX))
                return an_error_set(err, AN_E_FORMAT,
                                    "architecture: layer %d: name must be a "
                                    "string under %d bytes",
                                    index, LAYER_NAME_MAX);
        if (name)
                snprintf(l->name, sizeof l->name, "%s",
                         json_string_value(name));
        else
                snprintf(l->name, sizeof l->name, "%s%d", type, index);
        r.layer = l->name;
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)j, key, v)
        {
                enum an_status st = read_key(&r, l, key, v);
                if (st != AN_OK)
                        return st;
        }
        return AN_OK;
}

enum an_status arch_from_json(struct arch *a, const json_t *j,
                              struct an_error *err)
{
        memset(a, 0, sizeof *a);
        const json_t *input = json_object_get(j, "input");
        const json_t *layers = json_object_get(j, "layers");
        const char *name = json_string_value(json_object_get(j, "name"));
        int dims[3];
        struct reader r = {"(input)", err};
        if (!json_is_object(j) || !json_is_array(layers) ||
            json_array_size(input) != 3)
                return an_error_set(err, AN_E_FORMAT,
                                    "architecture: needs \"input\" [C, H, W] "
                                    "and a \"layers\" array");
        for (int i = 0; i < 3; i++)
                if (get_int(&r, json_array_get(input, i), "input", &dims[i]) !=
                    AN_OK)
                        return AN_E_FORMAT;
        size_t n = json_array_size(layers);
        if (n < 1 || n > ARCH_MAX_LAYERS)
                return an_error_set(err, AN_E_FORMAT,
                                    "architecture: needs 1 to %d layers, has "
                                    "%zu",
                                    ARCH_MAX_LAYERS, n);
        a->layers = calloc(n, sizeof *a->layers);
        if (!a->layers)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        a->n_layers = (int)n;
        a->input = (struct shape){dims[0], dims[1], dims[2]};
        snprintf(a->name, sizeof a->name, "%s", name ? name : "custom");
        for (size_t i = 0; i < n; i++) {
                enum an_status st = layer_from_json(
                        &a->layers[i], (int)i, json_array_get(layers, i), err);
                if (st != AN_OK) {
                        arch_free(a);
                        return st;
                }
        }
        enum an_status st = arch_shapes(a, NULL, err);
        if (st != AN_OK)
                arch_free(a);
        return st;
}
