/* darknet .cfg + .weights.
 *
 * The .cfg is read section by section: [net] (or [network]) gives the
 * input, [crop] its crop size; [convolutional], [maxpool], [avgpool],
 * [connected], [dropout] and [softmax] become layers ([cost] is training
 * only).  darknet's activation "relu" adds a ReLU, "linear" nothing; other
 * activations and section types are refused by name.
 *
 * The .weights file: int32 major, minor, revision, then the images-seen
 * counter, 64-bit when major * 10 + minor >= 2 and 32-bit before; then per
 * layer, in cfg order: convolutional: biases[filters], (batch norm: scales,
 * rolling means, rolling variances), weights[filters][c/groups][size][size];
 * connected: biases[out], weights[out][in], (batch norm: scales, means,
 * variances).  Batch norm is folded into the weights and biases. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file_read.h"
#include "convert/import.h"
#include "model/model.h"

#define MAX_CFG_FILE ((size_t)1 << 20)
#define BN_EPSILON   0.000001f /* darknet's normalize_cpu */

struct section {
        char type[32];
        char keys[32][32];
        char values[32][64];
        int n;
};

/* The weights file, read as the cfg asks for its tensors: never more
 * memory than the network's parameters, whatever the file's size. */
struct reader {
        int fd;
        size_t size, pos;
};

/* n bytes at pos into out. */
static bool read_at(const struct reader *r, void *out, size_t n, size_t pos)
{
        for (size_t got = 0; got < n;) {
                ssize_t k = pread(r->fd, (char *)out + got, n - got,
                                  (off_t)(pos + got));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return false;
                got += (size_t)k;
        }
        return true;
}

static const char *get(const struct section *s, const char *key)
{
        for (int i = 0; i < s->n; i++)
                if (!strcmp(s->keys[i], key))
                        return s->values[i];
        return NULL;
}

/* An integer option, clamped to +-2^20 (anything that large is then refused
 * by the architecture's checks); text that is not a number reads as 0. */
static int get_int(const struct section *s, const char *key, int fallback)
{
        const char *v = get(s, key);
        if (!v)
                return fallback;
        long n = strtol(v, NULL, 10);
        return n > (1 << 20) ? 1 << 20 : n < -(1 << 20) ? -(1 << 20) : (int)n;
}

static char *trim(char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n && strchr(" \t\r\n", s[n - 1]))
                s[--n] = 0;
        return s;
}

/* Splits the cfg text into sections (at most max). */
static enum an_status parse_cfg(char *text, struct section *sections, int max,
                                int *count, struct an_error *err)
{
        int n = 0, line_no = 0;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                line_no++;
                char *s = trim(line);
                if (!*s || *s == '#' || *s == ';')
                        continue;
                if (*s == '[') {
                        char *end = strchr(s, ']');
                        if (!end || n == max || end - s - 1 >= 32)
                                return an_error_set(err, AN_E_FORMAT,
                                                    "cfg: bad section header "
                                                    "'%.40s'",
                                                    s);
                        memset(&sections[n], 0, sizeof sections[n]);
                        memcpy(sections[n].type, s + 1, end - s - 1);
                        n++;
                        continue;
                }
                char *eq = strchr(s, '=');
                struct section *cur = n ? &sections[n - 1] : NULL;
                if (!eq || !cur || cur->n == 32)
                        return an_error_set(err, AN_E_FORMAT,
                                            "cfg: cannot read '%.40s'", s);
                *eq = 0;
                char *key = trim(s), *value = trim(eq + 1);
                if (strlen(key) >= 32 || strlen(value) >= 64)
                        return an_error_set(err, AN_E_FORMAT,
                                            "cfg: line too long");
                strcpy(cur->keys[cur->n], key);
                strcpy(cur->values[cur->n], value);
                cur->n++;
        }
        *count = n;
        return n ? AN_OK : an_error_set(err, AN_E_FORMAT, "cfg: no sections");
}

static struct layer *add(struct arch *a, enum layer_type t, const char *base,
                         int index)
{
        char name[LAYER_NAME_MAX];
        snprintf(name, sizeof name, "%s%d", base, index);
        struct layer *l = &a->layers[a->n_layers++];
        layer_init(l, t, name);
        return l;
}

static enum an_status activation(struct arch *a, const struct section *s,
                                 int index, struct an_error *err)
{
        const char *act = get(s, "activation");
        if (!act)
                act = "logistic"; /* darknet's default */
        if (!strcmp(act, "relu")) {
                add(a, LAYER_RELU, "relu", index);
                return AN_OK;
        }
        if (!strcmp(act, "linear"))
                return AN_OK;
        return an_error_set(err, AN_E_UNSUPPORTED,
                            "cfg: [%s] activation '%s' is not supported",
                            s->type, act);
}

static bool read_floats(struct reader *r, float *out, size_t n)
{
        if (r->pos > r->size || n > (r->size - r->pos) / 4 ||
            !read_at(r, out, n * 4, r->pos))
                return false;
        r->pos += n * 4;
        return true;
}

/* Reads biases and weights of a conv or linear layer, folding batch norm. */
static enum an_status read_params(struct reader *r, struct imported *im,
                                  const struct layer *l, struct shape in,
                                  bool batch_norm, struct an_error *err)
{
        int64_t dims[2][4];
        int ranks[2];
        layer_param_tensors(l, in, dims, ranks);
        char name[LAYER_NAME_MAX + 8];
        snprintf(name, sizeof name, "%s.weight", l->name);
        struct named_tensor *w =
                tensor_set_add(&im->tensors, name, ranks[0], dims[0], err);
        snprintf(name, sizeof name, "%s.bias", l->name);
        struct named_tensor *b =
                w ? tensor_set_add(&im->tensors, name, 1, dims[1], err) : NULL;
        if (!b)
                return AN_E_FORMAT;
        size_t out = (size_t)l->out, per = w->count / out;
        float *bn = calloc(3 * out, sizeof *bn);
        bool conv = l->type == LAYER_CONV, ok = bn != NULL;
        ok = ok && read_floats(r, b->data, out);
        if (conv && batch_norm)
                ok = ok && read_floats(r, bn, 3 * out);
        ok = ok && read_floats(r, w->data, w->count);
        if (!conv && batch_norm)
                ok = ok && read_floats(r, bn, 3 * out);
        if (ok && batch_norm)
                for (size_t o = 0; o < out; o++) {
                        float f = bn[o] / sqrtf(bn[2 * out + o] + BN_EPSILON);
                        for (size_t i = 0; i < per; i++)
                                w->data[o * per + i] *= f;
                        b->data[o] -= f * bn[out + o];
                }
        free(bn);
        if (!ok)
                return an_error_set(err, AN_E_FORMAT,
                                    "weights file ends before layer %s "
                                    "(shorter than its cfg needs)",
                                    l->name);
        return AN_OK;
}

/* One cfg section into layers, reading its parameters. */
static enum an_status add_section(struct imported *im, const struct section *s,
                                  int index, struct reader *r,
                                  struct an_error *err)
{
        struct arch *a = &im->arch;
        struct shape shapes[ARCH_MAX_LAYERS + 1];
        enum an_status st = arch_shapes(a, shapes, err);
        struct shape in = a->n_layers ? shapes[a->n_layers] : a->input;
        if (a->n_layers && st != AN_OK)
                return st;
        if (a->n_layers + 3 > ARCH_MAX_LAYERS)
                return an_error_set(err, AN_E_FORMAT, "cfg: too many layers");
        const char *t = s->type;
        struct layer *l;
        if (!strcmp(t, "convolutional")) {
                int size = get_int(s, "size", 1),
                    stride = get_int(s, "stride", 1);
                int pad = get_int(s, "pad", 0) ? size / 2
                                               : get_int(s, "padding", 0);
                l = add(a, LAYER_CONV, "conv", index);
                l->out = get_int(s, "filters", 1);
                l->groups = get_int(s, "groups", 1);
                l->win = (struct window){size, size, stride, stride,
                                         pad,  pad,  pad,    pad};
                if ((st = arch_shapes(a, NULL, err)) != AN_OK)
                        return st;
                st = read_params(r, im, l, in, get_int(s, "batch_normalize", 0),
                                 err);
                return st == AN_OK ? activation(a, s, index, err) : st;
        }
        if (!strcmp(t, "connected")) {
                l = add(a, LAYER_LINEAR, "fc", index);
                l->out = get_int(s, "output", 1);
                if ((st = arch_shapes(a, NULL, err)) != AN_OK)
                        return st;
                st = read_params(r, im, l, in, get_int(s, "batch_normalize", 0),
                                 err);
                return st == AN_OK ? activation(a, s, index, err) : st;
        }
        if (!strcmp(t, "maxpool")) {
                int stride = get_int(s, "stride", 1);
                int size = get_int(s, "size", stride);
                int pad = get_int(s, "padding", size - 1);
                /* darknet: out = (h + pad - size) / stride + 1, windows
                 * starting at -pad/2 */
                l = add(a, LAYER_MAXPOOL, "pool", index);
                l->win = (struct window){size,          size,         stride,
                                         stride,        pad / 2,      pad / 2,
                                         pad - pad / 2, pad - pad / 2};
                return AN_OK;
        }
        if (!strcmp(t, "avgpool")) {
                l = add(a, LAYER_ADAPTIVE_AVGPOOL, "avgpool", index);
                l->out_h = l->out_w = 1;
                return AN_OK;
        }
        if (!strcmp(t, "dropout")) {
                const char *p = get(s, "probability");
                add(a, LAYER_DROPOUT, "drop", index)->drop_p =
                        p ? atof(p) : 0.5;
                return AN_OK;
        }
        if (!strcmp(t, "softmax")) {
                if (get_int(s, "groups", 1) != 1)
                        return an_error_set(err, AN_E_UNSUPPORTED,
                                            "cfg: grouped softmax");
                add(a, LAYER_SOFTMAX, "softmax", index);
                return AN_OK;
        }
        if (!strcmp(t, "cost") || !strcmp(t, "crop"))
                return AN_OK;
        return an_error_set(err, AN_E_UNSUPPORTED,
                            "cfg: [%s] sections are not supported", t);
}

static enum an_status read_header(struct reader *r, struct an_error *err)
{
        if (r->size < 16)
                return an_error_set(err, AN_E_FORMAT,
                                    "weights file is too short for its "
                                    "header");
        int32_t v[3];
        if (!read_at(r, v, sizeof v, 0))
                return an_error_set(err, AN_E_IO, "weights file: read failed");
        if (v[0] < 0 || v[1] < 0 || v[0] > 1000 || v[1] > 1000)
                return an_error_set(err, AN_E_UNSUPPORTED,
                                    "unsupported weights header (version "
                                    "%d.%d): not a darknet .weights file, or "
                                    "transposed weights",
                                    v[0], v[1]);
        /* The images-seen counter grew to 64 bits in format 0.2. */
        r->pos = 12 + (v[0] * 10 + v[1] >= 2 ? 8 : 4);
        if (r->pos > r->size) /* a 64-bit counter needs 20 bytes */
                return an_error_set(err, AN_E_FORMAT,
                                    "weights file is too short for its "
                                    "header");
        return AN_OK;
}

static enum an_status build(struct imported *im, struct section *sections,
                            int n, struct reader *r, struct an_error *err)
{
        const struct section *net = &sections[0];
        if (strcmp(net->type, "net") && strcmp(net->type, "network"))
                return an_error_set(err, AN_E_FORMAT,
                                    "cfg: the first section must be [net]");
        im->arch.input = (struct shape){get_int(net, "channels", 3),
                                        get_int(net, "height", 0),
                                        get_int(net, "width", 0)};
        for (int i = 1; i < n; i++)
                if (!strcmp(sections[i].type, "crop")) {
                        im->arch.input.h = get_int(&sections[i], "crop_height",
                                                   im->arch.input.h);
                        im->arch.input.w = get_int(&sections[i], "crop_width",
                                                   im->arch.input.w);
                }
        enum an_status st = read_header(r, err);
        for (int i = 1; st == AN_OK && i < n; i++)
                st = add_section(im, &sections[i], i, r, err);
        if (st == AN_OK && r->pos != r->size)
                st = an_error_set(err, AN_E_FORMAT,
                                  "weights file has %zu bytes more than its "
                                  "cfg uses",
                                  r->size - r->pos);
        return st;
}

enum an_status import_darknet(struct imported *im, const char *cfg_path,
                              const char *weights_path, struct an_error *err)
{
        memset(im, 0, sizeof *im);
        uint8_t *cfg = NULL;
        size_t cfg_size, weights_size = 0;
        int weights_fd = -1;
        struct section *sections = calloc(ARCH_MAX_LAYERS, sizeof *sections);
        im->arch.layers = calloc(ARCH_MAX_LAYERS, sizeof *im->arch.layers);
        enum an_status st = sections && im->arch.layers
                                    ? AN_OK
                                    : an_error_set(err, AN_E_NOMEM, "oom");
        if (st == AN_OK)
                st = file_read_whole(cfg_path, MAX_CFG_FILE, &cfg, &cfg_size,
                                     err);
        if (st == AN_OK)
                st = file_open_regular(weights_path, &weights_fd, &weights_size,
                                       err);
        int n = 0;
        if (st == AN_OK) {
                char *text = realloc(cfg, cfg_size + 1);
                if (text) {
                        cfg = (uint8_t *)text;
                        text[cfg_size] = 0;
                        st = parse_cfg(text, sections, ARCH_MAX_LAYERS, &n,
                                       err);
                } else {
                        st = an_error_set(err, AN_E_NOMEM, "oom");
                }
        }
        struct reader r = {weights_fd, weights_size, 0};
        if (st == AN_OK)
                st = build(im, sections, n, &r, err);
        if (st == AN_OK)
                st = arch_shapes(&im->arch, NULL, err);
        free(cfg);
        if (weights_fd >= 0)
                close(weights_fd);
        free(sections);
        snprintf(im->arch.name, sizeof im->arch.name, "custom");
        /* darknet feeds RGB in 0..1, without mean or std */
        im->pre = (struct preprocess){
                256, "RGB", 1.0 / 255.0, {0, 0, 0}, {1, 1, 1}};
        int side = im->arch.input.h > im->arch.input.w ? im->arch.input.h
                                                       : im->arch.input.w;
        if (side > im->pre.resize)
                im->pre.resize = side;
        snprintf(im->source, sizeof im->source, "darknet");
        if (st != AN_OK)
                imported_free(im);
        return st;
}
