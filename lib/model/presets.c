/* The three AlexNet presets of the design (and their layer names).
 *
 * alexnet      Krizhevsky et al. 2012 as Caffe's bvlc_alexnet runs it:
 *              227x227 input, conv2/4/5 split into two groups, LRN
 *              (size 5, alpha 1e-4, beta 0.75, k 2) after relu1 and relu2,
 *              layer order conv-relu-lrn-pool, dropout after relu6/relu7.
 * alexnet-owt  torchvision's "one weird trick" variant (Krizhevsky 2014):
 *              64-192-384-256-256, no groups, no LRN, adaptive 6x6 average
 *              pooling; layer names equal torchvision's state_dict keys.
 * alexnet-half the owt structure at half width (48-128-192-192-128,
 *              2048-wide FC layers). */
#include "model/arch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const arch_preset_names[] = {"alexnet", "alexnet-owt",
                                         "alexnet-half", "alexnet-small", NULL};

/* Appends layers to an architecture whose layer array is large enough for
 * every preset (PRESET_MAX_LAYERS). */
struct builder {
        struct arch *a;
};

enum { PRESET_MAX_LAYERS = 32 };

static struct layer *add(struct builder *b, enum layer_type type,
                         const char *name)
{
        struct layer *l = &b->a->layers[b->a->n_layers++];
        layer_init(l, type, name);
        return l;
}

static void conv(struct builder *b, const char *name, int out, int kernel,
                 int stride, int pad, int groups)
{
        struct layer *l = add(b, LAYER_CONV, name);
        l->out = out;
        l->win = (struct window){kernel, kernel, stride, stride,
                                 pad,    pad,    pad,    pad};
        l->groups = groups;
}

static void maxpool(struct builder *b, const char *name)
{
        /* Overlapping pooling, section 3.4 of the paper: z = 3, s = 2. */
        struct layer *l = add(b, LAYER_MAXPOOL, name);
        l->win = (struct window){3, 3, 2, 2, 0, 0, 0, 0};
}

static void lrn(struct builder *b, const char *name)
{
        /* Section 3.3: k = 2, n = 5, alpha = 1e-4, beta = 0.75. */
        struct layer *l = add(b, LAYER_LRN, name);
        l->lrn = (struct lrn_params){5, 1e-4, 0.75, 2.0};
}

static void linear(struct builder *b, const char *name, int out)
{
        struct layer *l = add(b, LAYER_LINEAR, name);
        l->out = out;
}

static void dropout(struct builder *b, const char *name)
{
        add(b, LAYER_DROPOUT, name)->drop_p = 0.5;
}

static void build_paper(struct builder *b, int classes)
{
        b->a->input = (struct shape){3, 227, 227};
        conv(b, "conv1", 96, 11, 4, 0, 1);
        add(b, LAYER_RELU, "relu1");
        lrn(b, "norm1");
        maxpool(b, "pool1");
        conv(b, "conv2", 256, 5, 1, 2, 2);
        add(b, LAYER_RELU, "relu2");
        lrn(b, "norm2");
        maxpool(b, "pool2");
        conv(b, "conv3", 384, 3, 1, 1, 1);
        add(b, LAYER_RELU, "relu3");
        conv(b, "conv4", 384, 3, 1, 1, 2);
        add(b, LAYER_RELU, "relu4");
        conv(b, "conv5", 256, 3, 1, 1, 2);
        add(b, LAYER_RELU, "relu5");
        maxpool(b, "pool5");
        linear(b, "fc6", 4096);
        add(b, LAYER_RELU, "relu6");
        dropout(b, "drop6");
        linear(b, "fc7", 4096);
        add(b, LAYER_RELU, "relu7");
        dropout(b, "drop7");
        linear(b, "fc8", classes);
}

/* alexnet-small: the paper's structure for 32x32 inputs (Fashion-MNIST,
 * CIFAR): five convolutions (5x5 stride 1 first, no 11x11/4 stem on so
 * small an image), LRN after relu1 and relu2, overlapping 3x3/2 max
 * pooling after the first, second and fifth (32 -> 15 -> 7 -> 3), three
 * fully connected layers with dropout; 0.46 M parameters. */
static void build_small(struct builder *b, int classes)
{
        b->a->input = (struct shape){3, 32, 32};
        conv(b, "conv1", 32, 5, 1, 2, 1);
        add(b, LAYER_RELU, "relu1");
        lrn(b, "norm1");
        maxpool(b, "pool1");
        conv(b, "conv2", 64, 5, 1, 2, 1);
        add(b, LAYER_RELU, "relu2");
        lrn(b, "norm2");
        maxpool(b, "pool2");
        conv(b, "conv3", 96, 3, 1, 1, 1);
        add(b, LAYER_RELU, "relu3");
        conv(b, "conv4", 96, 3, 1, 1, 1);
        add(b, LAYER_RELU, "relu4");
        conv(b, "conv5", 64, 3, 1, 1, 1);
        add(b, LAYER_RELU, "relu5");
        maxpool(b, "pool5");
        dropout(b, "drop5");
        linear(b, "fc6", 256);
        add(b, LAYER_RELU, "relu6");
        dropout(b, "drop6");
        linear(b, "fc7", 256);
        add(b, LAYER_RELU, "relu7");
        linear(b, "fc8", classes);
}

/* The widths that tell alexnet-owt and alexnet-half apart. */
struct owt_widths {
        int conv[5];
        int fc;
};

/* torchvision.models.AlexNet's structure with the given widths. */
static void build_owt(struct builder *b, int classes,
                      const struct owt_widths *w)
{
        b->a->input = (struct shape){3, 224, 224};
        conv(b, "features.0", w->conv[0], 11, 4, 2, 1);
        add(b, LAYER_RELU, "features.1");
        maxpool(b, "features.2");
        conv(b, "features.3", w->conv[1], 5, 1, 2, 1);
        add(b, LAYER_RELU, "features.4");
        maxpool(b, "features.5");
        conv(b, "features.6", w->conv[2], 3, 1, 1, 1);
        add(b, LAYER_RELU, "features.7");
        conv(b, "features.8", w->conv[3], 3, 1, 1, 1);
        add(b, LAYER_RELU, "features.9");
        conv(b, "features.10", w->conv[4], 3, 1, 1, 1);
        add(b, LAYER_RELU, "features.11");
        maxpool(b, "features.12");
        struct layer *pool = add(b, LAYER_ADAPTIVE_AVGPOOL, "avgpool");
        pool->out_h = pool->out_w = 6;
        dropout(b, "classifier.0");
        linear(b, "classifier.1", w->fc);
        add(b, LAYER_RELU, "classifier.2");
        dropout(b, "classifier.3");
        linear(b, "classifier.4", w->fc);
        add(b, LAYER_RELU, "classifier.5");
        linear(b, "classifier.6", classes);
}

enum an_status arch_from_preset(struct arch *a, const char *name, int classes,
                                struct an_error *err)
{
        static const struct owt_widths owt = {{64, 192, 384, 256, 256}, 4096};
        static const struct owt_widths half = {{48, 128, 192, 192, 128}, 2048};
        memset(a, 0, sizeof *a);
        if (classes < 1)
                return an_error_set(err, AN_E_INVALID,
                                    "a network needs at least one class");
        a->layers = calloc(PRESET_MAX_LAYERS, sizeof *a->layers);
        if (!a->layers)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        struct builder b = {a};
        if (!strcmp(name, "alexnet"))
                build_paper(&b, classes);
        else if (!strcmp(name, "alexnet-owt"))
                build_owt(&b, classes, &owt);
        else if (!strcmp(name, "alexnet-half"))
                build_owt(&b, classes, &half);
        else if (!strcmp(name, "alexnet-small"))
                build_small(&b, classes);
        else {
                arch_free(a);
                return an_error_set(err, AN_E_INVALID,
                                    "unknown preset '%s' (presets: alexnet, "
                                    "alexnet-owt, alexnet-half, "
                                    "alexnet-small)",
                                    name);
        }
        snprintf(a->name, sizeof a->name, "%s", name);
        return arch_shapes(a, NULL, err);
}
