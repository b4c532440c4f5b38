#include "convert/import.h"

#include <stdbool.h>
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct named_tensor *tensor_set_add(struct tensor_set *ts, const char *name,
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
        t->data = calloc(count ? count : 1, sizeof *t->data);
        if (!t->data) {
                an_error_set(err, AN_E_NOMEM, "out of memory for %s", name);
                return NULL;
        }
        ts->n++;
        return t;
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
}

/* Copies tensor `name` of ts into dst after checking its shape, and marks
 * it taken. */
static enum an_status take_tensor(const struct tensor_set *ts, bool *taken,
                                  const char *name, int rank,
                                  const int64_t *shape, float *dst,
                                  struct an_error *err)
{
        const struct named_tensor *t = tensor_set_find(ts, name);
        if (!t)
                return an_error_set(err, AN_E_FORMAT, "tensor %s is missing",
                                    name);
        bool same = t->rank == rank;
        for (int d = 0; same && d < rank; d++)
                same = t->shape[d] == shape[d];
        if (!same)
                return an_error_set(err, AN_E_FORMAT,
                                    "tensor %s does not have the shape its "
                                    "layer needs",
                                    name);
        memcpy(dst, t->data, t->count * sizeof *dst);
        taken[t - ts->items] = true;
        return AN_OK;
}

static enum an_status fill_params(struct model *m, const struct tensor_set *ts,
                                  bool *taken, struct an_error *err)
{
        for (int i = 0; i < m->net.arch.n_layers; i++) {
                const struct layer *l = &m->net.arch.layers[i];
                int64_t dims[2][4];
                int ranks[2];
                int n = layer_param_tensors(l, m->net.shapes[i], dims, ranks);
                for (int t = 0; t < n; t++) {
                        char name[LAYER_NAME_MAX + 8];
                        snprintf(name, sizeof name, "%s.%s", l->name,
                                 t ? "bias" : "weight");
                        float *dst = (float *)(t ? m->net.biases[i]
                                                 : m->net.weights[i]);
                        enum an_status st = take_tensor(
                                ts, taken, name, ranks[t], dims[t], dst, err);
                        if (st != AN_OK)
                                return st;
                }
        }
        for (size_t i = 0; i < ts->n; i++)
                if (!taken[i])
                        return an_error_set(err, AN_E_FORMAT,
                                            "tensor %s is not part of the "
                                            "architecture",
                                            ts->items[i].name);
        return AN_OK;
}

enum an_status model_from_imported(struct model *m, const struct imported *im,
                                   struct an_error *err)
{
        enum an_status st = model_from_arch(m, &im->arch, err);
        if (st != AN_OK)
                return st;
        m->pre = im->pre;
        bool *taken = calloc(im->tensors.n + 1, sizeof *taken);
        st = taken ? fill_params(m, &im->tensors, taken, err)
                   : an_error_set(err, AN_E_NOMEM, "out of memory");
        free(taken);
        if (st != AN_OK)
                model_close(m);
        return st;
}
