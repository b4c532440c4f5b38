/* Network architectures: an input shape and an ordered list of layers.
 *
 * An architecture is pure description (no weights).  It comes from a preset
 * (arch_from_preset) or from a model file's metadata (arch_from_json), is
 * checked and shaped by arch_shapes, and can be written back as JSON
 * (arch_to_json) so that any layer list round-trips through a model file.
 *
 * Layers with parameters own two tensors, "<name>.weight" and "<name>.bias",
 * with PyTorch's layouts (conv OIHW, linear [out, in]).  The presets name
 * their layers so that alexnet-owt matches torchvision's state_dict keys
 * (features.0 ... classifier.6). */
#ifndef ALEXNET_ARCH_H
#define ALEXNET_ARCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/errors.h"
#include "layers/lrn.h"
#include "base/shape.h"

enum layer_type {
        LAYER_CONV,
        LAYER_RELU,
        LAYER_MAXPOOL,
        LAYER_LRN,
        LAYER_ADAPTIVE_AVGPOOL,
        LAYER_LINEAR,
        LAYER_DROPOUT,
        LAYER_SOFTMAX,
};

enum { LAYER_NAME_MAX = 64, ARCH_MAX_LAYERS = 256, ARCH_NAME_MAX = 64 };

struct layer {
        enum layer_type type;
        char name[LAYER_NAME_MAX];
        int out;           /* conv: output channels; linear: features */
        struct window win; /* conv and maxpool */
        int groups;        /* conv */
        bool bias;         /* conv and linear */
        struct lrn_params lrn;
        int out_h, out_w; /* adaptive average pooling */
        double drop_p;    /* dropout probability (training only) */
};

struct arch {
        char name[ARCH_NAME_MAX]; /* preset name, or "custom" */
        struct shape input;
        int n_layers;
        struct layer *layers;
};

/* A layer of the given type with every parameter at its default (kernel,
 * stride 1, no padding, one group, bias, PyTorch's LRN constants, dropout
 * 0.5): the starting point of presets and of layers read from JSON. */
void layer_init(struct layer *l, enum layer_type type, const char *name);

/* The preset names, NULL-terminated. */
extern const char *const arch_preset_names[];

/* Fills a with the preset `name` for `classes` outputs. */
enum an_status arch_from_preset(struct arch *a, const char *name, int classes,
                                struct an_error *err);

void arch_free(struct arch *a);
enum an_status arch_copy(struct arch *dst, const struct arch *src,
                         struct an_error *err);

/* Validates every layer against its input and fills shapes[0..n_layers] with
 * the input shape and each layer's output shape (shapes may be NULL to only
 * validate).  Fails with a message naming the layer at fault. */
enum an_status arch_shapes(const struct arch *a, struct shape *shapes,
                           struct an_error *err);

/* The parameter tensors of layer l given its input shape: returns how many
 * (0 or 2: weight then bias, or 1 without bias); dims[t] gets each tensor's
 * shape and ndims[t] its rank. */
int layer_param_tensors(const struct layer *l, struct shape in,
                        int64_t dims[2][4], int ndims[2]);
uint64_t layer_param_count(const struct layer *l, struct shape in);
/* Multiply-adds of conv and linear layers per sample (0 for the rest). */
uint64_t layer_macs(const struct layer *l, struct shape in, struct shape out);

const char *layer_type_name(enum layer_type t);

/* The index of the layer called name, or -1.  When no layer has that name
 * (a converted model's are "features.0", "classifier.1", ...), the
 * paper's names still find one: "convN" is the N-th convolution, "fcN" the
 * fully connected layer numbered on after them (after five convolutions,
 * fc6 is the first), "reluN" the ReLU right after layer N,
 * "poolN" the max pooling after convolution N. */
int arch_find_layer(const struct arch *a, const char *name);

/* JSON form: {"name":..., "input":[C,H,W], "layers":[{...}, ...]}. */
json_t *arch_to_json(const struct arch *a);
enum an_status arch_from_json(struct arch *a, const json_t *j,
                              struct an_error *err);

#endif
