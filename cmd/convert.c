/* alexnet convert: import weights from PyTorch, ONNX or darknet files into
 * a model file, and export model files to ONNX. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file_read.h"
#include "cli.h"
#include "convert/export_onnx.h"
#include "convert/import.h"
#include "formats/sniff.h"
#include "model/model.h"
#include "model/model_meta.h"

enum source_format {
        FROM_AUTO,
        FROM_TORCH,
        FROM_ONNX,
        FROM_DARKNET,
        FROM_MODEL
};

/* The options; choices hold an index into their names below. */
static bool softmax;
static int from_choice = -1; /* into from_names: FROM_TORCH + index */
static int preprocess_choice = -1;
static const char *labels_path;
static int dtype_choice = 0; /* into dtype_names, in st_dtype order */

static const char *const from_names[] = {"torch", "onnx", "darknet",
                                         "safetensors", NULL};
static const char *const preprocess_names[] = {"torchvision", "caffe",
                                               "darknet", NULL};
static const char *const dtype_names[] = {"f32", "f16", "bf16", NULL};

static const struct option_spec convert_options[] = {
        OPT_CHOICE(0, "from", "FORMAT",
                   "torch, onnx, darknet or safetensors (default:\n"
                   "detected from the content)",
                   &from_choice, from_names),
        OPT_CHOICE(0, "preprocess", "STYLE",
                   "torchvision, caffe or darknet: the input the\n"
                   "weights expect (default: by format)",
                   &preprocess_choice, preprocess_names),
        OPT_STRING(0, "labels", "FILE",
                   "class labels, one a line (default: the bundled\n"
                   "ImageNet labels for 1000 classes)",
                   &labels_path),
        OPT_FLAG(0, "softmax",
                 "ONNX export: end with a Softmax node, so that\n"
                 "the output is probabilities (default: logits)",
                 &softmax),
        OPT_CHOICE(0, "dtype", "TYPE",
                   "stored precision: f32 (default), f16 or bf16",
                   &dtype_choice, dtype_names),
        OPT_HELP,
        OPT_END,
};

_Static_assert(ST_F32 == 0 && ST_F16 == 1 && ST_BF16 == 2,
               "dtype_names follows enum st_dtype");

/* The importer for what a file's first bytes say it is. */
static enum source_format format_of(const unsigned char *b, size_t n)
{
        switch (file_kind_of(b, n)) {
        case KIND_TORCH_ZIP:
        case KIND_TORCH_LEGACY: return FROM_TORCH;
        case KIND_SAFETENSORS: return FROM_MODEL;
        case KIND_DARKNET_CFG: return FROM_DARKNET;
        case KIND_ONNX: return FROM_ONNX;
        default: return FROM_AUTO;
        }
}

/* The format of path from its first bytes; FROM_AUTO when they say
 * nothing.  A path that cannot be read as a regular file is an error
 * (not "unrecognised format"). */
static enum an_status detect(const char *path, enum source_format *from,
                             struct an_error *err)
{
        unsigned char b[SNIFF_BYTES] = {0};
        int fd;
        size_t size;
        enum an_status st = file_open_regular(path, &fd, &size, err);
        if (st != AN_OK)
                return st;
        ssize_t got = read(fd, b, sizeof b);
        close(fd);
        size_t n = got > 0 ? (size_t)got : 0;
        *from = format_of(b, n);
        const char *what = file_kind_description(file_kind_of(b, n));
        if (*from == FROM_AUTO && !size)
                return an_error_set(err, AN_E_FORMAT, "empty file");
        if (*from == FROM_AUTO && what)
                return an_error_set(err, AN_E_FORMAT,
                                    "%s, not a network: convert reads "
                                    "PyTorch, ONNX, darknet and alexnet "
                                    "model files",
                                    what);
        return AN_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && !strcmp(s + a - b, suffix);
}

static enum an_status apply_preprocess(struct model *m, const char *style,
                                       struct an_error *err)
{
        int resize = m->pre.resize;
        if (!strcmp(style, "torchvision")) {
                m->pre = preprocess_torchvision(resize);
        } else if (!strcmp(style, "caffe")) {
                /* bvlc_alexnet: BGR, 0..255, ImageNet mean per channel (B,
                 * G, R) from Caffe's ilsvrc_2012_mean, no std. */
                m->pre = (struct preprocess){resize,
                                             "BGR",
                                             1.0,
                                             {104.007, 116.669, 122.679},
                                             {1, 1, 1}};
        } else if (!strcmp(style, "darknet")) {
                m->pre = (struct preprocess){
                        resize, "RGB", 1.0 / 255.0, {0, 0, 0}, {1, 1, 1}};
        } else {
                return an_error_set(err, AN_E_INVALID,
                                    "unknown preprocessing '%s'", style);
        }
        return AN_OK;
}

/* Reads one label a line; exactly `count` are required. */
static enum an_status read_labels(struct model *m, const char *path,
                                  size_t count, struct an_error *err)
{
        int fd;
        size_t size;
        struct an_error why;
        if (file_open_regular(path, &fd, &size, &why) != AN_OK)
                return an_error_set(err, AN_E_IO, "%s: %s", path, why.message);
        FILE *f = fdopen(fd, "r");
        if (!f) {
                close(fd);
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        }
        char **labels = calloc(count + 1, sizeof *labels);
        char line[1100];
        size_t n = 0;
        enum an_status st =
                labels ? AN_OK : an_error_set(err, AN_E_NOMEM, "oom");
        while (st == AN_OK && fgets(line, sizeof line, f)) {
                bool whole = strchr(line, '\n') || feof(f);
                line[strcspn(line, "\r\n")] = 0;
                if (n == count) {
                        n++;
                        break;
                }
                /* refused now, by the rule the model will be read with */
                if (!whole || label_check(line, &why) != AN_OK)
                        st = an_error_set(err, AN_E_INVALID, "%s: line %zu: %s",
                                          path, n + 1,
                                          whole ? why.message
                                                : "longer than 1024 bytes");
                else if (!(labels[n++] = strdup(line)))
                        st = an_error_set(err, AN_E_NOMEM, "out of memory");
        }
        fclose(f);
        if (st == AN_OK && n != count)
                st = an_error_set(err, AN_E_INVALID,
                                  "%s: %s labels, the model has %zu classes",
                                  path, n > count ? "more" : "fewer", count);
        if (st != AN_OK) {
                labels_free(labels);
                return st;
        }
        m->labels = labels;
        return AN_OK;
}

static void record_provenance(struct model *m, const char *in,
                              const char *format)
{
        const char *base = strrchr(in, '/') ? strrchr(in, '/') + 1 : in;
        json_object_set_new(m->provenance, "converted_from", json_string(base));
        json_object_set_new(m->provenance, "source_format",
                            json_string(format));
        provenance_stamp(m->provenance, "converted_at");
}

/* Fills m from the source file(s). */
static enum an_status load_source(struct model *m, enum source_format from,
                                  const char *in, const char *weights,
                                  struct an_error *err)
{
        if (from == FROM_MODEL)
                return model_open(m, in, err);
        struct imported im;
        enum an_status st;
        switch (from) {
        case FROM_TORCH: st = import_torch(&im, in, err); break;
        case FROM_ONNX: st = import_onnx(&im, in, err); break;
        case FROM_DARKNET:
                if (!weights)
                        return an_error_set(err, AN_E_INVALID,
                                            "darknet needs the .cfg and the "
                                            ".weights file");
                st = import_darknet(&im, in, weights, err);
                break;
        default:
                return an_error_set(err, AN_E_FORMAT,
                                    "unrecognised format: not PyTorch, "
                                    "ONNX, darknet or an alexnet model "
                                    "(name it with --from)");
        }
        if (st != AN_OK)
                return st;
        st = model_from_imported(m, &im, err);
        if (st == AN_OK)
                record_provenance(m, in, im.source);
        imported_free(&im);
        return st;
}

/* Labels: --labels, else the bundled ImageNet list for 1000 classes when
 * the source had none. */
static enum an_status set_labels(struct model *m, const char *labels,
                                 struct an_error *err)
{
        size_t classes = net_outputs(&m->net);
        if (labels) {
                labels_free(m->labels);
                m->labels = NULL;
                return read_labels(m, labels, classes, err);
        }
        const char *bundled = data_file_path("imagenet_classes.txt");
        if (!m->labels && classes == 1000 && bundled)
                return read_labels(m, bundled, classes, err);
        return AN_OK;
}

static int run_convert(int argc, char **argv)
{
        int operands = options_parse(&convert_command, argc, argv, NULL);
        if (operands < 0)
                return operands == -1 ? EXIT_ALL_DONE : EXIT_FATAL;
        if (operands != 2 && operands != 3)
                return usage_error(&convert_command, "expected IN [WEIGHTS] "
                                                     "OUT");
        const char *in = argv[1];
        const char *weights = operands == 3 ? argv[2] : NULL;
        const char *out = argv[operands];
        /* Both inputs checked first: a FIFO or a directory would block or
         * mislead the importers. */
        struct an_error err;
        enum source_format from = FROM_AUTO;
        const char *unreadable = NULL;
        if (detect(in, &from, &err) != AN_OK)
                unreadable = in;
        else if (weights &&
                 detect(weights, &(enum source_format){0}, &err) != AN_OK)
                unreadable = weights;
        if (unreadable) {
                report(unreadable, "%s", err.message);
                return EXIT_FATAL;
        }
        if (from_choice >= 0)
                from = (enum source_format)(FROM_TORCH + from_choice);
        remove_partial_output_on_signals();

        struct model m;
        enum an_status st = load_source(&m, from, in, weights, &err);
        if (st != AN_OK) {
                /* darknet: the weights file is at fault when it is short */
                report(weights && strstr(err.message, "weights") ? weights : in,
                       "%s", err.message);
                return EXIT_FATAL;
        }
        if (preprocess_choice >= 0)
                st = apply_preprocess(&m, preprocess_names[preprocess_choice],
                                      &err);
        if (st == AN_OK)
                st = set_labels(&m, labels_path, &err);
        if (st != AN_OK) {
                report(in, "%s", err.message);
                model_close(&m);
                return EXIT_FATAL;
        }
        st = ends_with(out, ".onnx")
                     ? model_export_onnx(&m, out, softmax, &err)
                     : model_save(&m, out, (enum st_dtype)dtype_choice, &err);
        model_close(&m);
        if (st != AN_OK) {
                report(out, "%s", err.message);
                return EXIT_FATAL;
        }
        return EXIT_ALL_DONE;
}

const struct command convert_command = {
        "convert",
        run_convert,
        "import PyTorch, ONNX or darknet weights; export to ONNX",
        "usage: alexnet convert [--from FORMAT] [--preprocess STYLE]\n"
        "       [--labels FILE] [--dtype f32|f16|bf16] [--softmax]\n"
        "       IN [WEIGHTS] OUT\n",
        "Convert IN to the model file OUT, or, when OUT ends in .onnx, export\n"
        "the model IN to ONNX.  For darknet, IN is the .cfg and WEIGHTS the\n"
        ".weights file.\n",
        convert_options,
        NULL,
};
