/* Architectures of imported state_dicts, inferred from tensor names and
 * shapes.  Two layouts are recognised:
 *
 *   torchvision  features.N.weight (conv) and classifier.N.weight (linear),
 *                as torchvision.models.AlexNet names them.  Module indices
 *                tell what lies between two convolutions (a ReLU, or a ReLU
 *                and a max pool) and where the classifier's dropouts are;
 *                the last convolution is followed by ReLU, max pool and
 *                6x6 adaptive average pooling.  Input 224.
 *   paper        conv1..conv5 and fc6..fc8 as Caffe's bvlc_alexnet names
 *                them: LRN and max pool after relu1 and relu2, max pool
 *                after relu5, dropout after relu6 and relu7.  Input 227.
 *
 * Stride and padding are not in a state_dict; AlexNet's are implied by the
 * kernel size (11: stride 4, 5 and 3: stride 1 with "same" padding; conv1
 * pads 2 in the torchvision layout and 0 in the paper's).  Groups follow
 * from the weight shapes.  Anything else is refused with the reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/import.h"

enum { MAX_LAYERS = 64 };

static struct layer *add(struct arch *a, enum layer_type t, const char *name)
{
        struct layer *l = &a->layers[a->n_layers++];
        layer_init(l, t, name);
        return l;
}

/* A conv layer from its weight [out, in/groups, k, k]. */
static enum an_status add_conv(struct arch *a, const char *name,
                               const struct named_tensor *w, int in_c,
                               bool first_pads, struct an_error *err)
{
        if (w->rank != 4 || w->shape[2] != w->shape[3] || w->shape[1] <= 0 ||
            in_c % w->shape[1])
                return an_error_set(err, AN_E_FORMAT,
                                    "%s.weight: shape does not fit an AlexNet "
                                    "convolution",
                                    name);
        int k = (int)w->shape[2], stride, pad;
        if (k == 11) {
                stride = 4;
                pad = first_pads ? 2 : 0;
        } else if (k == 5 || k == 3) {
                stride = 1;
                pad = k / 2;
        } else {
                return an_error_set(err, AN_E_UNSUPPORTED,
                                    "%s: a %dx%d kernel is not AlexNet's; "
                                    "export the model to ONNX "
                                    "(torch.onnx.export) and convert that",
                                    name, k, k);
        }
        struct layer *l = add(a, LAYER_CONV, name);
        l->out = (int)w->shape[0];
        l->groups = in_c / (int)w->shape[1];
        l->win = (struct window){k, k, stride, stride, pad, pad, pad, pad};
        return AN_OK;
}

static void add_pool(struct arch *a, const char *name)
{
        struct layer *l = add(a, LAYER_MAXPOOL, name);
        l->win = (struct window){3, 3, 2, 2, 0, 0, 0, 0};
}

static void add_lrn(struct arch *a, const char *name)
{
        add(a, LAYER_LRN, name)->lrn = (struct lrn_params){5, 1e-4, 0.75, 2.0};
}

static const struct named_tensor *weight_of(const struct tensor_set *ts,
                                            const char *layer)
{
        char name[LAYER_NAME_MAX + 8];
        snprintf(name, sizeof name, "%s.weight", layer);
        return tensor_set_find(ts, name);
}

/* Indices N of "<prefix>.N.weight", ascending. */
static int indices(const struct tensor_set *ts, const char *prefix, int *out,
                   int max)
{
        int n = 0;
        size_t plen = strlen(prefix);
        for (size_t i = 0; i < ts->n; i++) {
                const char *name = ts->items[i].name;
                char *end;
                if (strncmp(name, prefix, plen) || name[plen] != '.')
                        continue;
                long v = strtol(name + plen + 1, &end, 10);
                if (strcmp(end, ".weight") || v < 0 || v > 999 || n >= max)
                        continue;
                int j = n++;
                while (j > 0 && out[j - 1] > v) {
                        out[j] = out[j - 1];
                        j--;
                }
                out[j] = (int)v;
        }
        return n;
}

static enum an_status torchvision_layout(struct arch *a,
                                         const struct tensor_set *ts,
                                         struct an_error *err)
{
        int conv[16], fc[16];
        int nc = indices(ts, "features", conv, 16);
        int nf = indices(ts, "classifier", fc, 16);
        char name[LAYER_NAME_MAX];
        int in_c = 3;
        a->input = (struct shape){3, 224, 224};
        for (int i = 0; i < nc; i++) {
                snprintf(name, sizeof name, "features.%d", conv[i]);
                /* the index was read from a name the table need not
                 * spell the same way (e.g. "features.01") */
                const struct named_tensor *w = weight_of(ts, name);
                if (!w)
                        return an_error_set(err, AN_E_UNSUPPORTED,
                                            "no tensor %s.weight", name);
                enum an_status st = add_conv(a, name, w, in_c, true, err);
                if (st != AN_OK)
                        return st;
                in_c = (int)w->shape[0];
                int gap = i + 1 < nc ? conv[i + 1] - conv[i] - 1 : 2;
                if (gap < 1 || gap > 2)
                        return an_error_set(
                                err, AN_E_UNSUPPORTED,
                                "cannot tell which layers follow "
                                "%s; export the model to ONNX "
                                "(torch.onnx.export) and convert that",
                                name);
                snprintf(name, sizeof name, "features.%d", conv[i] + 1);
                add(a, LAYER_RELU, name);
                if (gap == 2) {
                        snprintf(name, sizeof name, "features.%d", conv[i] + 2);
                        add_pool(a, name);
                }
        }
        struct layer *avg = add(a, LAYER_ADAPTIVE_AVGPOOL, "avgpool");
        avg->out_h = avg->out_w = 6;
        for (int i = 0; i < nf; i++) {
                int prev = i ? fc[i - 1] : -1;
                int gap = fc[i] - prev - 1;
                if (gap < 0 || gap > 2 || (i && gap < 1))
                        return an_error_set(
                                err, AN_E_UNSUPPORTED,
                                "cannot tell the layers before "
                                "classifier.%d; export the model to ONNX "
                                "(torch.onnx.export) and convert that",
                                fc[i]);
                if (i) {
                        snprintf(name, sizeof name, "classifier.%d", prev + 1);
                        add(a, LAYER_RELU, name);
                }
                if (gap == 2 || (!i && gap == 1)) {
                        snprintf(name, sizeof name, "classifier.%d", fc[i] - 1);
                        add(a, LAYER_DROPOUT, name);
                }
                snprintf(name, sizeof name, "classifier.%d", fc[i]);
                /* the index was read from a name the table need not
                 * spell the same way (e.g. "classifier.01") */
                const struct named_tensor *w = weight_of(ts, name);
                if (!w)
                        return an_error_set(
                                err, AN_E_UNSUPPORTED,
                                "no tensor %s.weight; export the model to ONNX "
                                "(torch.onnx.export) and convert that",
                                name);
                add(a, LAYER_LINEAR, name)->out = (int)w->shape[0];
        }
        return AN_OK;
}

static enum an_status paper_layout(struct arch *a, const struct tensor_set *ts,
                                   struct an_error *err)
{
        char name[LAYER_NAME_MAX];
        int in_c = 3;
        a->input = (struct shape){3, 227, 227};
        for (int i = 1; i <= 5; i++) {
                snprintf(name, sizeof name, "conv%d", i);
                const struct named_tensor *w = weight_of(ts, name);
                if (!w)
                        return an_error_set(err, AN_E_FORMAT,
                                            "%s.weight is missing", name);
                enum an_status st = add_conv(a, name, w, in_c, false, err);
                if (st != AN_OK)
                        return st;
                in_c = (int)w->shape[0];
                snprintf(name, sizeof name, "relu%d", i);
                add(a, LAYER_RELU, name);
                if (i <= 2) {
                        snprintf(name, sizeof name, "norm%d", i);
                        add_lrn(a, name);
                }
                if (i <= 2 || i == 5) {
                        snprintf(name, sizeof name, "pool%d", i);
                        add_pool(a, name);
                }
        }
        for (int i = 6; i <= 8; i++) {
                snprintf(name, sizeof name, "fc%d", i);
                const struct named_tensor *w = weight_of(ts, name);
                if (!w || w->rank != 2)
                        return an_error_set(err, AN_E_FORMAT,
                                            "%s.weight is missing", name);
                add(a, LAYER_LINEAR, name)->out = (int)w->shape[0];
                if (i == 8)
                        break;
                snprintf(name, sizeof name, "relu%d", i);
                add(a, LAYER_RELU, name);
                snprintf(name, sizeof name, "drop%d", i);
                add(a, LAYER_DROPOUT, name);
        }
        return AN_OK;
}

/* Names the architecture after the preset it equals, if any. */
static void match_preset(struct arch *a)
{
        for (int p = 0; arch_preset_names[p]; p++) {
                struct arch preset;
                int classes = a->layers[a->n_layers - 1].out;
                if (arch_from_preset(&preset, arch_preset_names[p], classes,
                                     NULL) != AN_OK)
                        continue;
                bool same =
                        preset.n_layers == a->n_layers &&
                        !memcmp(&preset.input, &a->input, sizeof a->input) &&
                        !memcmp(preset.layers, a->layers,
                                a->n_layers * sizeof *a->layers);
                arch_free(&preset);
                if (same) {
                        snprintf(a->name, sizeof a->name, "%s",
                                 arch_preset_names[p]);
                        return;
                }
        }
        snprintf(a->name, sizeof a->name, "custom");
}

enum an_status arch_from_state_dict(struct arch *a, const struct tensor_set *ts,
                                    struct an_error *err)
{
        memset(a, 0, sizeof *a);
        a->layers = calloc(MAX_LAYERS, sizeof *a->layers);
        if (!a->layers)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        int conv[16], fc[16];
        enum an_status st;
        if (indices(ts, "features", conv, 16) &&
            indices(ts, "classifier", fc, 16))
                st = torchvision_layout(a, ts, err);
        else if (tensor_set_find(ts, "conv1.weight"))
                st = paper_layout(a, ts, err);
        else
                st = an_error_set(
                        err, AN_E_UNSUPPORTED,
                        "tensor names match neither torchvision's "
                        "AlexNet (features.N, classifier.N) nor "
                        "the paper's (conv1..fc8); export the model to ONNX "
                        "(torch.onnx.export) and convert that");
        if (st == AN_OK && a->n_layers)
                match_preset(a);
        if (st == AN_OK)
                st = arch_shapes(a, NULL, err);
        if (st != AN_OK)
                arch_free(a);
        return st;
}
