/* alexnet inspect: the layer table, totals and metadata of a model file or a
 * preset, for people (a table) or machines (--json). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model/model.h"
#include "model/model_meta.h"
#include "model/net.h"
#include "train/init.h"
#include "train/trainer.h"
#include "inspect_pictures.h"

static bool json_output;
static int classes = 1000;
static const char *filters_layer, *curves_log, *picture_path;
static int max_filters;

static const struct option_spec inspect_options[] = {
        OPT_FLAG(0, "json", "print one JSON document instead of the table",
                 &json_output),
        OPT_INT('c', "classes", "N",
                "outputs of a preset's last layer (default 1000)", &classes, 1,
                1 << 24),
        OPT_STRING(0, "filters", "LAYER",
                   "draw the kernels of a convolution layer\n"
                   "(conv1: the paper's Figure 3) into -o FILE",
                   &filters_layer),
        OPT_INT(0, "max-filters", "N",
                "--filters: only the first N kernels (default all)",
                &max_filters, 1, 1 << 24),
        OPT_STRING(0, "curves", "LOG",
                   "draw a training log (train --log) as curves\n"
                   "into -o FILE; takes no MODEL",
                   &curves_log),
        OPT_STRING('o', "output", "FILE",
                   "the picture --filters or --curves writes:\n"
                   "PNG, or SVG or PDF by the name's ending",
                   &picture_path),
        OPT_HELP,
        OPT_END,
};

struct layer_row {
        const struct layer *l;
        struct shape in, out;
        uint64_t params, macs;
        bool flat; /* after the flatten: [-1, N] */
};

/* As torchsummary shows shapes: [-1, C, H, W], or [-1, N] once flat. */
static void format_shape(struct shape s, bool flat, char *buf, size_t size)
{
        if (flat)
                snprintf(buf, size, "[-1, %zu]", shape_count(s));
        else
                snprintf(buf, size, "[-1, %d, %d, %d]", s.c, s.h, s.w);
}

/* Layers from the first fully connected one on work on flat vectors: a
 * flatten row goes before it (torchvision's torch.flatten). */
static int first_linear(const struct net *net)
{
        for (int i = 0; i < net->arch.n_layers; i++)
                if (net->arch.layers[i].type == LAYER_LINEAR)
                        return i;
        return net->arch.n_layers;
}

/* 12345678 -> "12,345,678" */
static const char *grouped(uint64_t v, char buf[32])
{
        char digits[24];
        int n = snprintf(digits, sizeof digits, "%" PRIu64, v), o = 0;
        for (int i = 0; i < n; i++) {
                if (i && (n - i) % 3 == 0)
                        buf[o++] = ',';
                buf[o++] = digits[i];
        }
        buf[o] = 0;
        return buf;
}

static struct layer_row row_of(const struct net *net, int i)
{
        struct layer_row r = {
                &net->arch.layers[i],  net->shapes[i], net->shapes[i + 1], 0, 0,
                i >= first_linear(net)};
        r.params = layer_param_count(r.l, r.in);
        r.macs = layer_macs(r.l, r.in, r.out);
        return r;
}

static bool windowed(const struct layer *l)
{
        return l->type == LAYER_CONV || l->type == LAYER_MAXPOOL;
}

static void format_pad(const struct window *w, char *buf, size_t size)
{
        if (w->pad_top == w->pad_bottom && w->pad_left == w->pad_right &&
            w->pad_top == w->pad_left)
                snprintf(buf, size, "%d", w->pad_top);
        else
                snprintf(buf, size, "%d,%d,%d,%d", w->pad_top, w->pad_left,
                         w->pad_bottom, w->pad_right);
}

static void format_details(const struct layer *l, char *buf, size_t size)
{
        switch (l->type) {
        case LAYER_LRN:
                snprintf(buf, size, "size %d, alpha %g, beta %g, k %g",
                         l->lrn.size, l->lrn.alpha, l->lrn.beta, l->lrn.k);
                break;
        case LAYER_DROPOUT: snprintf(buf, size, "p %g", l->drop_p); break;
        case LAYER_CONV:
        case LAYER_LINEAR:
                snprintf(buf, size, "%s", l->bias ? "" : "no bias");
                break;
        default: buf[0] = 0;
        }
}

static void print_row(const struct layer_row *r)
{
        const struct layer *l = r->l;
        char kernel[32] = "-", stride[32] = "-", pad[48] = "-",
             groups[16] = "-";
        char out[48], params[32], macs[32], details[96];
        if (windowed(l)) {
                snprintf(kernel, sizeof kernel, "%dx%d", l->win.kernel_h,
                         l->win.kernel_w);
                snprintf(stride, sizeof stride, "%dx%d", l->win.stride_h,
                         l->win.stride_w);
                format_pad(&l->win, pad, sizeof pad);
        }
        if (l->type == LAYER_CONV)
                snprintf(groups, sizeof groups, "%d", l->groups);
        format_shape(r->out, r->flat, out, sizeof out);
        format_details(l, details, sizeof details);
        printf("%-14s %-16s %-7s %-6s %-8s %-6s %-18s %12s %13s%s%s\n", l->name,
               layer_type_name(l->type), kernel, stride, pad, groups, out,
               grouped(r->params, params), grouped(r->macs, macs),
               details[0] ? "  " : "", details);
}

static void print_labels(char *const *labels, size_t outputs)
{
        if (!labels) {
                printf("labels:        none (outputs are numbered 0..%zu)\n",
                       outputs - 1);
                return;
        }
        printf("labels:        %zu:", outputs);
        for (size_t i = 0; i < outputs && i < 5; i++)
                printf("%s %s", i ? "," : "", labels[i]);
        printf("%s\n", outputs > 5 ? ", ..." : "");
}

static void print_provenance(const json_t *prov)
{
        const char *key;
        json_t *v;
        int width = 0;
        if (!json_object_size(prov))
                return;
        json_object_foreach((json_t *)prov, key, v)
        {
                int n = (int)strlen(key);
                width = n > width ? n : width;
        }
        printf("provenance:\n");
        json_object_foreach((json_t *)prov, key, v)
        {
                /* numbers as people read them (the JSON keeps every digit) */
                char number[32];
                if (json_is_real(v))
                        snprintf(number, sizeof number, "%.6g",
                                 json_real_value(v));
                char *text =
                        json_is_string(v) ? strdup(json_string_value(v))
                        : json_is_real(v)
                                ? strdup(number)
                                : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                printf("  %-*s  %s\n", width, key, text ? text : "?");
                free(text);
        }
}

/* Memory a batch needs per image, for the budgets in alexnet-predict(1)
 * and alexnet-train(1): measured over a batch of 64 (buffers sized by the
 * largest layer make a batch of one slightly dearer per image). */
enum { MEMORY_BATCH = 64 };

static size_t predict_bytes_per_image(const struct net *net)
{
        return net_arena_bytes(net, MEMORY_BATCH) / MEMORY_BATCH;
}

static size_t train_bytes_per_image(const struct net *net, uint64_t params)
{
        return (trainer_bytes(net, params, MEMORY_BATCH) -
                trainer_bytes(net, params, 0)) /
               MEMORY_BATCH;
}

/* Whether the model's last training run froze the convolutions
 * (train --freeze features records it). */
static bool frozen_features(const struct model *m)
{
        return json_is_true(json_object_get(m->provenance, "frozen_features"));
}

/* The parameters of the layers a training run froze. */
static uint64_t frozen_params(const struct model *m)
{
        uint64_t frozen = 0;
        int flatten = first_linear(&m->net);
        for (int i = 0; frozen_features(m) && i < flatten; i++)
                frozen += row_of(&m->net, i).params;
        return frozen;
}

/* The parameters' bytes and dtype in the model file; float32 in memory for
 * a preset. */
static void stored(const struct model *m, uint64_t params, uint64_t *bytes,
                   const char **dtype)
{
        *bytes = 0;
        *dtype = NULL;
        for (size_t i = 0; i < m->file.n_tensors; i++) {
                const struct st_tensor *t = &m->file.tensors[i];
                const char *name = st_dtype_name(t->dtype);
                if (!strncmp(t->name, "train.", 6))
                        continue; /* a checkpoint's optimiser state */
                *bytes += t->nbytes;
                *dtype = !*dtype || !strcmp(*dtype, name) ? name : "mixed";
        }
        if (!*dtype) {
                *bytes = params * 4;
                *dtype = "F32";
        }
}

/* "233.1 MiB as stored (F16)" */
static const char *stored_size(const struct model *m, uint64_t params,
                               char *buf, size_t size)
{
        uint64_t bytes;
        const char *dtype;
        stored(m, params, &bytes, &dtype);
        snprintf(buf, size, "%.1f MiB as %s (%s)", bytes / 1048576.0,
                 m->file.n_tensors ? "stored" : "float32 in memory", dtype);
        return buf;
}

static void print_table(const struct model *m, const char *source)
{
        const struct net *net = &m->net;
        struct shape in = net->shapes[0];
        uint64_t total_params = 0, total_macs = 0;
        char a[32], b[32], frozen_text[32];
        printf("%s: %s, input %dx%dx%d, %zu outputs\n\n", source,
               net->arch.name, in.c, in.h, in.w, net_outputs(net));
        printf("%-14s %-16s %-7s %-6s %-8s %-6s %-18s %12s %13s\n", "layer",
               "type", "kernel", "stride", "pad", "groups", "output", "params",
               "mult-adds");
        int flatten = first_linear(net);
        uint64_t frozen = 0;
        for (int i = 0; i < net->arch.n_layers; i++) {
                struct layer_row r = row_of(net, i);
                if (i == flatten) {
                        char shape[48];
                        format_shape(r.in, true, shape, sizeof shape);
                        printf("%-14s %-16s %-7s %-6s %-8s %-6s %-18s %12s "
                               "%13s\n",
                               "(flatten)", "flatten", "-", "-", "-", "-",
                               shape, "0", "0");
                }
                print_row(&r);
                total_params += r.params;
                total_macs += r.macs;
        }
        frozen = frozen_params(m);
        printf("%-81s %12s %13s\n\n", "total", grouped(total_params, a),
               grouped(total_macs, b));
        char stored[64];
        printf("parameters:    %s: trainable %s, frozen %s; %s\n",
               grouped(total_params, a), grouped(total_params - frozen, b),
               grouped(frozen, frozen_text),
               stored_size(m, total_params, stored, sizeof stored));
        printf("multiply-adds: %.1f M per image (%.2f GFLOP)\n",
               total_macs / 1e6, total_macs * 2 / 1e9);
        printf("memory:        predict %.2f MiB per image of a batch; train "
               "%.2f MiB per image plus 3 x 4 bytes per parameter\n",
               predict_bytes_per_image(net) / 1048576.0,
               train_bytes_per_image(net, total_params) / 1048576.0);
        const struct preprocess *p = &m->pre;
        printf("preprocess:    resize %d, centre crop %dx%d, %s, scale %g, "
               "mean %g %g %g, std %g %g %g\n",
               p->resize, in.h, in.w, p->channels, p->scale, p->mean[0],
               p->mean[1], p->mean[2], p->std[0], p->std[1], p->std[2]);
        print_labels(m->labels, net_outputs(net));
        print_provenance(m->provenance);
}

static json_t *layers_json(const struct net *net, uint64_t *params,
                           uint64_t *macs)
{
        json_t *arch = arch_to_json(&net->arch);
        json_t *layers = json_incref(json_object_get(arch, "layers"));
        json_decref(arch);
        *params = *macs = 0;
        for (int i = 0; layers && i < net->arch.n_layers; i++) {
                struct layer_row r = row_of(net, i);
                json_t *l = json_array_get(layers, i);
                json_object_set_new(
                        l, "output",
                        json_pack("[iii]", r.out.c, r.out.h, r.out.w));
                json_object_set_new(l, "params", json_integer(r.params));
                json_object_set_new(l, "macs", json_integer(r.macs));
                *params += r.params;
                *macs += r.macs;
        }
        return layers;
}

static bool is_preset(const char *name)
{
        for (int i = 0; arch_preset_names[i]; i++)
                if (!strcmp(arch_preset_names[i], name))
                        return true;
        return false;
}

static int print_json(const struct model *m, const char *file,
                      const char *preset)
{
        const struct net *net = &m->net;
        struct shape in = net->shapes[0];
        uint64_t params, macs;
        json_t *layers = layers_json(net, &params, &macs);
        uint64_t bytes;
        const char *dtype;
        stored(m, params, &bytes, &dtype);
        /* a file of a preset's architecture names it, as the text does */
        if (!preset && is_preset(net->arch.name))
                preset = net->arch.name;
        json_t *doc = json_pack(
                "{s:s?,s:s?,s:s,s:[iii],s:o,s:I,s:I,s:I,s:{s:I,s:s},s:I,s:I,"
                "s:{s:I,s:I},s:o,s:o,s:O}",
                "file", file, "preset", preset, "architecture", net->arch.name,
                "input", in.c, in.h, in.w, "layers", layers, "params",
                (json_int_t)params, "trainable_params",
                (json_int_t)(params - frozen_params(m)), "frozen_params",
                (json_int_t)frozen_params(m), "stored", "bytes",
                (json_int_t)bytes, "dtype", dtype, "macs", (json_int_t)macs,
                "outputs", (json_int_t)net_outputs(net), "memory",
                "predict_per_image", (json_int_t)predict_bytes_per_image(net),
                "train_per_image",
                (json_int_t)train_bytes_per_image(net, params), "preprocess",
                preprocess_to_json(&m->pre, in), "labels",
                m->labels ? labels_to_json(m->labels) : json_null(),
                "provenance", m->provenance);
        if (!doc) {
                report("inspect", "out of memory");
                return EXIT_FATAL;
        }
        if (json_dumpf(doc, stdout, JSON_INDENT(2)) != 0) {
                /* a write error: finish_output reports it, once */
                json_decref(doc);
                return EXIT_FATAL;
        }
        putchar('\n');
        json_decref(doc);
        return EXIT_ALL_DONE;
}

static int run_inspect(int argc, char **argv)
{
        int operands = options_parse(&inspect_command, argc, argv, NULL);
        if (operands < 0)
                return operands == -1 ? EXIT_ALL_DONE : EXIT_FATAL;
        if ((filters_layer || curves_log) != (picture_path != NULL))
                return usage_error(&inspect_command,
                                   picture_path ? "-o goes with --filters or "
                                                  "--curves"
                                                : "--filters and --curves "
                                                  "need -o FILE.png");
        if (curves_log && (operands || filters_layer || json_output))
                return usage_error(&inspect_command,
                                   "--curves takes no MODEL, --filters or "
                                   "--json");
        if (curves_log)
                return draw_log_curves(curves_log, picture_path);
        if (operands != 1)
                return usage_error(&inspect_command,
                                   "expected one MODEL or PRESET");
        const char *target = argv[1];
        struct model m;
        struct an_error err;
        bool preset = is_preset(target);
        enum an_status st =
                preset ? model_from_preset(&m, target, classes, &err)
                       : model_open(&m, target, &err);
        if (st != AN_OK) {
                report(target, "%s", err.message);
                return EXIT_FATAL;
        }
        int status = EXIT_ALL_DONE;
        if (filters_layer) {
                /* a preset's kernels as training starts them */
                if (preset)
                        model_init_weights(&m, INIT_HE, 1, 0);
                status = draw_layer_filters(&m, target, filters_layer,
                                            max_filters, picture_path);
                model_close(&m);
                return status;
        }
        if (json_output)
                status = print_json(&m, preset ? NULL : target,
                                    preset ? target : NULL);
        else
                print_table(&m, preset ? "preset" : target);
        model_close(&m);
        return finish_output(status);
}

const struct command inspect_command = {
        "inspect",
        run_inspect,
        "show a model's layers, sizes, preprocessing and provenance",
        "usage: alexnet inspect [--json] [--classes N] MODEL|PRESET\n"
        "       alexnet inspect --filters LAYER [--max-filters N] -o FILE.png\n"
        "                       MODEL|PRESET\n"
        "       alexnet inspect --curves LOG.csv -o FILE.png\n",
        "Show a network's layers (type, kernel, stride, padding, groups,\n"
        "output shape, parameters, multiply-adds), its totals, and a model\n"
        "file's preprocessing, labels and provenance.  With --filters or\n"
        "--curves, draw a layer's kernels or a training log into a PNG.\n"
        "\n"
        "  MODEL                       a model file (.safetensors)\n"
        "  PRESET                      alexnet, alexnet-owt, alexnet-half or\n"
        "                              alexnet-small\n",
        inspect_options,
        NULL,
};
