#include "inspect_pictures.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "draw/filters.h"
#include "train/train_log.h"

/* The conv layers' names, for a message: "conv1, conv2, ...". */
static void conv_names(const struct arch *a, char *buf, size_t size)
{
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; i < a->n_layers && used < size; i++)
                if (a->layers[i].type == LAYER_CONV)
                        used += (size_t)snprintf(buf + used, size - used,
                                                 "%s%s", used ? ", " : "",
                                                 a->layers[i].name);
}

int draw_layer_filters(const struct model *m, const char *what,
                       const char *layer, int most, const char *path)
{
        const struct net *net = &m->net;
        int i = arch_find_layer(&net->arch, layer);
        if (i < 0 || net->arch.layers[i].type != LAYER_CONV) {
                char names[512];
                conv_names(&net->arch, names, sizeof names);
                report(what,
                       "%s is not a convolution layer of this network "
                       "(its convolutions: %s)",
                       layer, *names ? names : "none");
                return EXIT_FATAL;
        }
        const struct layer *l = &net->arch.layers[i];
        int filters = l->out;
        int channels = net->shapes[i].c / l->groups;
        char title[160];
        snprintf(title, sizeof title, "%s: %d kernels of %dx%dx%d%s", l->name,
                 filters, channels, l->win.kernel_h, l->win.kernel_w,
                 channels == 3 ? "" : ", one grey tile a channel");
        struct filter_grid g = {
                .weights = net->weights[i],
                .filters = most > 0 && most < filters ? most : filters,
                .channels = channels,
                .kh = l->win.kernel_h,
                .kw = l->win.kernel_w,
                .colour = channels == 3,
                .bgr = !strcmp(m->pre.channels, "BGR"),
                .title = title,
        };
        struct an_error err;
        if (draw_filters(&g, path, &err) != AN_OK) {
                report(path, "%s%s", err.message,
                       err.code == AN_E_INVALID && !most
                               ? " (--max-filters N draws the first N)"
                               : "");
                return EXIT_FATAL;
        }
        return EXIT_ALL_DONE;
}

int draw_log_curves(const char *log_path, const char *path)
{
        struct an_error err;
        struct train_log log;
        if (train_log_read(&log, log_path, &err) != AN_OK) {
                report(log_path, "%s", err.message);
                return EXIT_FATAL;
        }
        enum an_status st = train_log_draw(&log, path, NULL, &err);
        train_log_free(&log);
        if (st != AN_OK) {
                report(path, "%s", err.message);
                return EXIT_FATAL;
        }
        return EXIT_ALL_DONE;
}
