#include "predict_heatmap.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "draw/heatmap.h"
#include "escape.h"
#include "model/classify.h"
#include "model/explain.h"
#include "predict_records.h"

/* The class --class names: a label, else an index; -1, reported. */
static int class_named(const struct model *m, const char *name, int classes)
{
        for (int i = 0; m->labels && i < classes; i++)
                if (!strcmp(m->labels[i], name))
                        return i;
        char *end;
        errno = 0;
        long v = strtol(name, &end, 10);
        if (*name && !*end && !errno && v >= 0 && v < classes)
                return (int)v;
        report(name,
               "is neither a label of the model nor a class index "
               "from 0 to %d",
               classes - 1);
        return -1;
}

/* The picture the network saw, back from its input tensor (three
 * planes): the preprocessing undone (scale, mean, std, channel order). */
static void tensor_to_rgb(const float *x, struct shape s,
                          const struct preprocess *pre, unsigned char *rgb)
{
        bool bgr = !strcmp(pre->channels, "BGR");
        size_t plane = (size_t)s.h * s.w;
        for (int c = 0; c < 3; c++) {
                int to = bgr ? 2 - c : c;
                for (size_t i = 0; i < plane; i++) {
                        double v = (x[c * plane + i] * pre->std[c] +
                                    pre->mean[c]) /
                                   pre->scale;
                        rgb[3 * i + to] = (unsigned char)(v < 0     ? 0
                                                          : v > 255 ? 255
                                                                    : lrint(v));
                }
        }
}

static void put_record(const struct model *m, const char *path, int cls,
                       float prob, const char *png, const char *layer,
                       const float *map, struct shape s, int format)
{
        char number[16], *text;
        size_t length;
        snprintf(number, sizeof number, "%d", cls);
        const char *label = m->labels ? m->labels[cls] : number;
        FILE *out = record_open(&text, &length);
        if (out && format == FORMAT_JSON) {
                put_json_file(out, path);
                fprintf(out, ",\"index\":%d,\"label\":", cls);
                put_json_string(out, label);
                fprintf(out, ",\"prob\":%.9g,\"heatmap\":", prob);
                put_json_string(out, png);
                fputs(",\"layer\":", out);
                put_json_string(out, layer);
                fputs(",\"map\":[", out);
                for (int y = 0; y < s.h; y++) {
                        fputs(y ? ",[" : "[", out);
                        for (int x = 0; x < s.w; x++)
                                fprintf(out, "%s%.6g", x ? "," : "",
                                        map[y * s.w + x]);
                        fputc(']', out);
                }
                fputs("]}\n", out);
        } else if (out) {
                put_escaped(out, path);
                fprintf(out, "\t%d\t%.8f\t", cls, prob);
                put_escaped(out, label);
                fputc('\t', out);
                put_escaped(out, png);
                fputc('\n', out);
        }
        record_close(out, &text, &length);
}

/* The map drawn over the picture; false, reported. */
static bool draw_map(const struct model *m, const float *input,
                     const float *map, struct shape at, const char *title,
                     const char *png)
{
        struct shape in = m->net.shapes[0];
        size_t plane = (size_t)in.h * in.w;
        float *heat = malloc(plane * sizeof *heat);
        unsigned char *rgb = malloc(3 * plane);
        struct an_error err;
        enum an_status st = AN_E_NOMEM;
        if (heat && rgb) {
                map_resize(map, at.h, at.w, heat, in.h, in.w);
                tensor_to_rgb(input, in, &m->pre, rgb);
                struct overlay o = {rgb, in.w, in.h, heat, 0.5, title};
                st = draw_overlay(&o, png, NULL, &err);
        } else
                an_error_set(&err, st, "out of memory");
        free(heat);
        free(rgb);
        if (st != AN_OK)
                report(png, "%s", err.message);
        return st == AN_OK;
}

static int explain_decoded(struct model *m, const char *path,
                           const float *input, const struct heatmap_options *o)
{
        struct net *net = &m->net;
        int classes = (int)net_outputs(net);
        int layer = o->layer ? arch_find_layer(&net->arch, o->layer)
                             : gradcam_default_layer(&net->arch);
        if (layer < 0) {
                report(o->layer ? o->layer : path,
                       o->layer ? "no such layer in the model"
                                : "the model has no convolution to explain");
                return EXIT_FATAL;
        }
        if (net->shapes[0].c != 3) {
                report(path,
                       "the model reads %d input channels; --heatmap "
                       "draws pictures of three",
                       net->shapes[0].c);
                return EXIT_FATAL;
        }
        int cls = o->class ? class_named(m, o->class, classes) : -1;
        if (o->class && cls < 0)
                return EXIT_FATAL;
        struct an_error err;
        float *probs = malloc((size_t)classes * sizeof *probs);
        struct shape at = net->shapes[layer + 1];
        float *map = malloc(((size_t)at.h * at.w + 1) * sizeof *map);
        enum an_status st =
                probs && map ? classify_batch(net, input, 1, 1, probs, &err)
                             : an_error_set(&err, AN_E_NOMEM, "out of memory");
        struct prediction best;
        if (st == AN_OK && cls < 0)
                cls = top_k(probs, classes, 1, &best) ? best.index : 0;
        if (st == AN_OK)
                st = gradcam(net, input, layer, cls, map, NULL, &err);
        int status = EXIT_FATAL;
        if (st != AN_OK)
                report(path, "%s", err.message);
        else {
                map_normalise(map, (size_t)at.h * at.w);
                char title[256], number[16];
                snprintf(number, sizeof number, "%d", cls);
                snprintf(title, sizeof title, "%s %.1f%%, Grad-CAM at %s",
                         m->labels ? m->labels[cls] : number,
                         100.0 * probs[cls], net->arch.layers[layer].name);
                if (draw_map(m, input, map, at, title, o->path)) {
                        put_record(m, path, cls, probs[cls], o->path,
                                   net->arch.layers[layer].name, map, at,
                                   o->format);
                        status = EXIT_ALL_DONE;
                }
        }
        free(probs);
        free(map);
        return status;
}

int explain_image(struct model *m, struct pipeline *p,
                  const struct heatmap_options *o)
{
        struct batch *b = pipeline_next(p);
        if (b->n != 1 || !b->last) {
                report("predict", "--heatmap explains one image: give one");
                return EXIT_FATAL;
        }
        if (b->slot[0] < 0) {
                record_input_failure(b->paths[0], b->errors[0], o->format,
                                     false);
                return EXIT_SOME_FAILED;
        }
        return explain_decoded(m, b->paths[0], b->input, o);
}
