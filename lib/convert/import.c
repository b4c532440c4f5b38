#include "convert/import.h"

#include <stdbool.h>
#include "model/model.h"
#include "model/model_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct named_tensor *tensor_set_declare(struct tensor_set *ts, const char *name,
                                        int rank, const int64_t *shape,
                                        struct an_error *err)
{
        if (tensor_set_find(ts, name)) {
                an_error_set(err, AN_E_FORMAT, "tensor %s appears twice", name);
                return NULL;
        }
        if (strlen(name) >= sizeof ts->items->name || rank < 0 || rank > 8) {
                an_error_set(err, AN_E_FORMAT, "tensor name or rank too large");
                return NULL;
        }
        size_t count = 1;
        for (int d = 0; d < rank; d++) {
                if (shape[d] < 0 || shape[d] > (1 << 30) ||
                    (shape[d] &&
                     count > ((size_t)1 << 32) / (size_t)shape[d])) {
                        an_error_set(err, AN_E_FORMAT,
                                     "tensor %s has an invalid shape", name);
                        return NULL;
                }
                count *= (size_t)shape[d];
        }
        if (ts->n == ts->cap) {
                size_t cap = ts->cap ? 2 * ts->cap : 16;
                struct named_tensor *items =
                        realloc(ts->items, cap * sizeof *items);
                if (!items) {
                        an_error_set(err, AN_E_NOMEM, "out of memory");
                        return NULL;
                }
                ts->items = items;
                ts->cap = cap;
        }
        struct named_tensor *t = &ts->items[ts->n];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        t->rank = rank;
        memcpy(t->shape, shape, rank * sizeof *shape);
        t->count = count;
        ts->n++;
        return t;
}

enum an_status named_tensor_alloc(struct named_tensor *t, struct an_error *err)
{
        if (!t->data)
                t->data = calloc(t->count ? t->count : 1, sizeof *t->data);
        return t->data ? AN_OK
                       : an_error_set(err, AN_E_NOMEM, "out of memory for %s",
                                      t->name);
}

struct named_tensor *tensor_set_add(struct tensor_set *ts, const char *name,
                                    int rank, const int64_t *shape,
                                    struct an_error *err)
{
        struct named_tensor *t = tensor_set_declare(ts, name, rank, shape, err);
        return t && named_tensor_alloc(t, err) == AN_OK ? t : NULL;
}

const struct named_tensor *tensor_set_find(const struct tensor_set *ts,
                                           const char *name)
{
        for (size_t i = 0; i < ts->n; i++)
                if (!strcmp(ts->items[i].name, name))
                        return &ts->items[i];
        return NULL;
}

void tensor_set_free(struct tensor_set *ts)
{
        for (size_t i = 0; i < ts->n; i++)
                free(ts->items[i].data);
        free(ts->items);
        memset(ts, 0, sizeof *ts);
}

void imported_free(struct imported *im)
{
        arch_free(&im->arch);
        tensor_set_free(&im->tensors);
        labels_free(im->labels);
        im->labels = NULL;
}

/* The tensor of ts for parameter `name` of the given shape; marks it
 * taken. */
static const struct named_tensor *take_tensor(const struct tensor_set *ts,
                                              bool *taken, const char *name,
                                              int rank, const int64_t *shape,
                                              struct an_error *err)
{
        const struct named_tensor *t = tensor_set_find(ts, name);
        if (!t) {
                an_error_set(err, AN_E_FORMAT, "tensor %s is missing", name);
                return NULL;
        }
        bool same = t->rank == rank;
        for (int d = 0; same && d < rank; d++)
                same = t->shape[d] == shape[d];
        if (!same) {
                an_error_set(err, AN_E_FORMAT,
                             "tensor %s does not have the shape its layer "
                             "needs",
                             name);
                return NULL;
        }
        taken[t - ts->items] = true;
        return t;
}

/* Matches every parameter of the network (layers of a, input shapes
 * shapes) with its tensor in ts, copied into net when net is given; every
 * tensor must be taken. */
static enum an_status match_params(const struct arch *a,
                                   const struct shape *shapes,
                                   const struct tensor_set *ts, struct net *net,
                                   struct an_error *err)
{
        bool *taken = calloc(ts->n + 1, sizeof *taken);
        if (!taken)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        enum an_status st = AN_OK;
        for (int i = 0; st == AN_OK && i < a->n_layers; i++) {
                const struct layer *l = &a->layers[i];
                int64_t dims[2][4];
                int ranks[2];
                int n = layer_param_tensors(l, shapes[i], dims, ranks);
                for (int t = 0; st == AN_OK && t < n; t++) {
                        char name[LAYER_NAME_MAX + 8];
                        snprintf(name, sizeof name, "%s.%s", l->name,
                                 t ? "bias" : "weight");
                        const struct named_tensor *found = take_tensor(
                                ts, taken, name, ranks[t], dims[t], err);
                        if (!found)
                                st = err ? err->code : AN_E_FORMAT;
                        else if (net)
                                /* the model's own parameter block */
                                memcpy((float *)(t ? net->biases[i]
                                                   : net->weights[i]),
                                       found->data,
                                       found->count * sizeof(float));
                }
        }
        for (size_t i = 0; st == AN_OK && i < ts->n; i++)
                if (!taken[i])
                        st = an_error_set(err, AN_E_FORMAT,
                                          "tensor %s is not part of the "
                                          "architecture",
                                          ts->items[i].name);
        free(taken);
        return st;
}

enum an_status imported_check_shapes(const struct arch *a,
                                     const struct tensor_set *ts,
                                     struct an_error *err)
{
        struct shape *shapes = calloc(a->n_layers + 1, sizeof *shapes);
        if (!shapes)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        enum an_status st = arch_shapes(a, shapes, err);
        if (st == AN_OK)
                st = match_params(a, shapes, ts, NULL, err);
        free(shapes);
        return st;
}

enum an_status model_from_imported(struct model *m, const struct imported *im,
                                   struct an_error *err)
{
        enum an_status st = model_from_arch(m, &im->arch, err);
        if (st != AN_OK)
                return st;
        m->pre = im->pre;
        if (im->labels) {
                size_t n = 0;
                while (im->labels[n])
                        n++;
                json_t *j = labels_to_json(im->labels);
                /* they came from the same file: a count that does not fit
                 * the network leaves the model without them */
                if (j && n == net_outputs(&m->net) &&
                    labels_from_json(&m->labels, j, n, NULL) != AN_OK)
                        m->labels = NULL;
                json_decref(j);
        }
        st = match_params(&m->net.arch, m->net.shapes, &im->tensors, &m->net,
                          err);
        if (st != AN_OK)
                model_close(m);
        return st;
}
