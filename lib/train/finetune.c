#include "train/finetune.h"

#include <string.h>

/* Layer i's weights and bias from src into m (the same shapes). */
static void copy_layer_params(struct model *m, const struct model *src, int i)
{
        const struct layer *l = &m->net.arch.layers[i];
        uint64_t n = layer_param_count(l, m->net.shapes[i]);
        uint64_t nb = l->bias ? (uint64_t)l->out : 0;
        memcpy((float *)m->net.weights[i], src->net.weights[i],
               (n - nb) * sizeof(float));
        if (nb)
                memcpy((float *)m->net.biases[i], src->net.biases[i],
                       nb * sizeof(float));
}

/* The index of the last linear layer of a, or -1. */
static int last_linear(const struct arch *a)
{
        int last = -1;
        for (int i = 0; i < a->n_layers; i++)
                if (a->layers[i].type == LAYER_LINEAR)
                        last = i;
        return last;
}

enum an_status model_finetune_from(struct model *m, const char *path,
                                   int classes, enum init_mode mode,
                                   uint64_t seed, struct an_error *err)
{
        struct model src;
        enum an_status st = model_open(&src, path, err);
        if (st != AN_OK)
                return st;
        struct arch a;
        st = arch_copy(&a, &src.net.arch, err);
        int last = st == AN_OK ? last_linear(&a) : -1;
        bool replace = last >= 0 && (int)net_outputs(&src.net) != classes;
        if (st == AN_OK && replace)
                a.layers[last].out = classes;
        if (st == AN_OK && last < 0 && (int)net_outputs(&src.net) != classes)
                st = an_error_set(err, AN_E_UNSUPPORTED,
                                  "the model has %zu outputs and no linear "
                                  "layer to replace",
                                  net_outputs(&src.net));
        if (st == AN_OK)
                st = model_from_arch(m, &a, err);
        if (st == AN_OK) {
                m->pre = src.pre;
                model_init_weights(m, mode, seed, replace ? last : a.n_layers);
                for (int i = 0; i < (replace ? last : a.n_layers); i++)
                        if (m->net.weights[i])
                                copy_layer_params(m, &src, i);
        }
        arch_free(&a); /* arch_copy leaves no layers when it fails */
        model_close(&src);
        return st;
}

int model_frozen_layers(const struct model *m, bool freeze)
{
        for (int i = 0; freeze && i < m->net.arch.n_layers; i++)
                if (m->net.arch.layers[i].type == LAYER_LINEAR)
                        return i;
        return 0;
}
