#define _POSIX_C_SOURCE 200809L
#include "data/dataset.h"
#include "image/image.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct names {
        char **items;
        size_t n, cap;
};

static int compare(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool push(struct names *list, const char *s)
{
        if (list->n == list->cap) {
                size_t cap = list->cap ? 2 * list->cap : 64;
                char **items = realloc(list->items, cap * sizeof *items);
                if (!items)
                        return false;
                list->items = items;
                list->cap = cap;
        }
        return (list->items[list->n++] = strdup(s)) != NULL;
}

static void names_free(struct names *list)
{
        for (size_t i = 0; i < list->n; i++)
                free(list->items[i]);
        free(list->items);
}

/* Sorted entries of dir that are directories (want_dirs) or image files.
 * Errors name the class folder `class`, or nothing for the top folder
 * (whose path the caller gives). */
static enum an_status list_dir(const char *dir, const char *class,
                               bool want_dirs, struct names *out,
                               struct an_error *err)
{
        DIR *d = opendir(dir);
        if (!d)
                return class ? an_error_set(err, AN_E_IO, "class folder %s: %s",
                                            class, strerror(errno))
                             : an_error_set(err, AN_E_IO, "%s",
                                            strerror(errno));
        struct dirent *e;
        char path[4096];
        enum an_status st = AN_OK;
        while (st == AN_OK && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                struct stat sb;
                if (stat(path, &sb) != 0)
                        continue;
                bool wanted = want_dirs ? S_ISDIR(sb.st_mode)
                                        : S_ISREG(sb.st_mode) &&
                                                  image_file_name(e->d_name);
                if (wanted && !push(out, e->d_name))
                        st = an_error_set(err, AN_E_NOMEM, "out of memory");
        }
        closedir(d);
        qsort(out->items, out->n, sizeof *out->items, compare);
        return st;
}

void dataset_free(struct dataset *d)
{
        for (int c = 0; c < d->n_classes; c++)
                free(d->class_names[c]);
        for (size_t i = 0; i < d->n; i++)
                free(d->paths[i]);
        free(d->class_names);
        free(d->paths);
        free(d->labels);
        memset(d, 0, sizeof *d);
}

enum an_status dataset_scan(struct dataset *d, const char *dir,
                            struct an_error *err)
{
        memset(d, 0, sizeof *d);
        struct names classes = {0}, paths = {0};
        enum an_status st = list_dir(dir, NULL, true, &classes, err);
        if (st == AN_OK && classes.n < 1)
                st = an_error_set(err, AN_E_INVALID,
                                  "no class folders (images go in one "
                                  "folder per class)");
        int *labels = NULL;
        size_t cap = 0;
        for (size_t c = 0; st == AN_OK && c < classes.n; c++) {
                char sub[4096];
                snprintf(sub, sizeof sub, "%s/%s", dir, classes.items[c]);
                struct names files = {0};
                st = list_dir(sub, classes.items[c], false, &files, err);
                for (size_t i = 0; st == AN_OK && i < files.n; i++) {
                        char path[8192];
                        snprintf(path, sizeof path, "%s/%s", sub,
                                 files.items[i]);
                        if (paths.n == cap) {
                                cap = cap ? 2 * cap : 1024;
                                int *grown =
                                        realloc(labels, cap * sizeof *grown);
                                if (!grown) {
                                        st = an_error_set(err, AN_E_NOMEM,
                                                          "out of memory");
                                        break;
                                }
                                labels = grown;
                        }
                        labels[paths.n] = (int)c;
                        if (!push(&paths, path))
                                st = an_error_set(err, AN_E_NOMEM,
                                                  "out of memory");
                }
                names_free(&files);
        }
        if (st == AN_OK && paths.n == 0)
                st = an_error_set(err, AN_E_INVALID,
                                  "no .jpg or .png images in its class "
                                  "folders");
        if (st != AN_OK) {
                names_free(&classes);
                names_free(&paths);
                free(labels);
                return st;
        }
        d->n_classes = (int)classes.n;
        d->class_names = classes.items;
        d->n = paths.n;
        d->paths = paths.items;
        d->labels = labels;
        return AN_OK;
}
