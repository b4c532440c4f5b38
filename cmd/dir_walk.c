#define _POSIX_C_SOURCE 200809L
#include "dir_walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "image/image.h"

static int by_bytes(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name)
{
        size_t a = strlen(dir), b = strlen(name);
        char *p = malloc(a + b + 2);
        if (p) {
                memcpy(p, dir, a);
                p[a] = '/';
                memcpy(p + a + 1, name, b + 1);
        }
        return p;
}

static void free_level(struct walk_level *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->names[i]);
        free(l->names);
        free(l->path);
}

/* Reads directory path into a new level; false, reported, when it cannot
 * be read or is already on the path (a loop). */
static bool push_level(struct dir_walk *w, const char *path,
                       const struct stat *sb)
{
        for (size_t i = 0; i < w->depth; i++)
                if (w->levels[i].dev == sb->st_dev &&
                    w->levels[i].ino == sb->st_ino) {
                        report(path, "a link back to %s (a loop): skipped",
                               w->levels[i].path);
                        w->problems++;
                        return false;
                }
        DIR *d = opendir(path);
        if (!d) {
                report(path, "%s: skipped", strerror(errno));
                w->problems++;
                return false;
        }
        struct walk_level l = {strdup(path), NULL,      0, 0,
                               sb->st_dev,   sb->st_ino};
        size_t cap = 0;
        bool ok = l.path != NULL;
        for (struct dirent *e; ok && (e = readdir(d));) {
                if (e->d_name[0] == '.')
                        continue; /* ., .. and hidden files */
                if (l.n == cap) {
                        cap = cap ? 2 * cap : 64;
                        char **grown = realloc(l.names, cap * sizeof *grown);
                        ok = grown != NULL;
                        if (ok)
                                l.names = grown;
                }
                if (ok)
                        ok = (l.names[l.n++] = strdup(e->d_name)) != NULL;
        }
        closedir(d);
        if (ok && w->depth == w->cap) {
                size_t grown_cap = w->cap ? 2 * w->cap : 8;
                struct walk_level *grown =
                        realloc(w->levels, grown_cap * sizeof *grown);
                ok = grown != NULL;
                if (ok) {
                        w->levels = grown;
                        w->cap = grown_cap;
                }
        }
        if (!ok) {
                report(path, "out of memory: skipped");
                w->problems++;
                free_level(&l);
                return false;
        }
        if (l.n)
                qsort(l.names, l.n, sizeof *l.names, by_bytes);
        w->levels[w->depth++] = l;
        return true;
}

bool dir_walk_start(struct dir_walk *w, const char *root)
{
        memset(w, 0, sizeof *w);
        struct stat sb;
        if (stat(root, &sb) != 0) {
                report(root, "%s", strerror(errno));
                w->problems++;
                return false;
        }
        return push_level(w, root, &sb);
}

const char *dir_walk_next(struct dir_walk *w)
{
        free(w->current);
        w->current = NULL;
        while (w->depth) {
                struct walk_level *top = &w->levels[w->depth - 1];
                if (top->next == top->n) {
                        free_level(top);
                        w->depth--;
                        continue;
                }
                char *path = join(top->path, top->names[top->next++]);
                struct stat sb;
                if (!path) {
                        report(top->path, "out of memory");
                        w->problems++;
                        continue;
                }
                if (stat(path, &sb) != 0) {
                        /* a dangling link: an image name is still tried */
                        if (image_file_name(path))
                                return w->current = path;
                        free(path);
                        continue;
                }
                if (S_ISDIR(sb.st_mode)) {
                        push_level(w, path, &sb);
                        free(path);
                        continue;
                }
                if (image_file_name(path))
                        return w->current = path;
                free(path);
        }
        return NULL;
}

void dir_walk_free(struct dir_walk *w)
{
        while (w->depth)
                free_level(&w->levels[--w->depth]);
        free(w->levels);
        free(w->current);
        memset(w, 0, sizeof *w);
}
