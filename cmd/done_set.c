#define _POSIX_C_SOURCE 200809L
#include "done_set.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "escape.h"

static uint64_t fnv1a(const char *s)
{
        uint64_t h = 1469598103934665603ull;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ull;
        return h;
}

static bool grow(struct done_set *s)
{
        size_t cap = s->cap ? 2 * s->cap : 1024;
        char **slots = calloc(cap, sizeof *slots);
        if (!slots)
                return false;
        for (size_t i = 0; i < s->cap; i++) {
                if (!s->slots[i])
                        continue;
                size_t j = fnv1a(s->slots[i]) & (cap - 1);
                while (slots[j])
                        j = (j + 1) & (cap - 1);
                slots[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
        return true;
}

/* Adds an escaped path (copied); false when out of memory. */
static bool add(struct done_set *s, const char *escaped)
{
        if (2 * (s->n + 1) > s->cap && !grow(s))
                return false;
        size_t j = fnv1a(escaped) & (s->cap - 1);
        for (; s->slots[j]; j = (j + 1) & (s->cap - 1))
                if (!strcmp(s->slots[j], escaped))
                        return true;
        if (!(s->slots[j] = strdup(escaped)))
                return false;
        s->n++;
        return true;
}

static bool lookup(const struct done_set *s, const char *escaped)
{
        if (!s->cap)
                return false;
        size_t j = fnv1a(escaped) & (s->cap - 1);
        for (; s->slots[j]; j = (j + 1) & (s->cap - 1))
                if (!strcmp(s->slots[j], escaped))
                        return true;
        return false;
}

/* The exact path of a JSON record: "file_hex" when the path was not valid
 * UTF-8, else "file"; NULL for an error record. */
static char *json_record_path(const char *line)
{
        json_t *j = json_loads(line, 0, NULL);
        const char *file = json_string_value(json_object_get(j, "file"));
        const char *hex = json_string_value(json_object_get(j, "file_hex"));
        char *path = NULL;
        if (file && json_object_get(j, "top") && hex) {
                size_t n = strlen(hex) / 2;
                path = malloc(n + 1);
                for (size_t i = 0; path && i < n; i++) {
                        unsigned v;
                        sscanf(hex + 2 * i, "%2x", &v);
                        path[i] = (char)v;
                }
                if (path)
                        path[n] = '\0';
        } else if (file && json_object_get(j, "top")) {
                path = strdup(file);
        }
        json_decref(j);
        return path;
}

/* Adds the path of one output line; false if the line is neither TSV nor
 * JSON. */
static bool add_line(struct done_set *s, char *line, bool *oom)
{
        if (line[0] == '{') {
                char *path = json_record_path(line);
                size_t cap = path ? 4 * strlen(path) + 1 : 0;
                char *escaped = path ? malloc(cap) : NULL;
                if (escaped)
                        *oom |= !add(s, escape_into(escaped, cap, path));
                free(escaped);
                free(path);
                return true;
        }
        char *tab = strchr(line, '\t');
        if (!tab)
                return false;
        *tab = '\0';
        if (strcmp(line, "path")) /* the header */
                *oom |= !add(s, line);
        return true;
}

bool done_set_load(struct done_set *s, const char *path)
{
        memset(s, 0, sizeof *s);
        FILE *f = fopen(path, "r");
        if (!f) {
                /* the first run of a cron job has no output yet */
                if (errno == ENOENT)
                        return true;
                report(path, "%s", strerror(errno));
                return false;
        }
        char *line = NULL;
        size_t cap = 0;
        bool oom = false, ok = true;
        for (ssize_t n; ok && !oom && (n = getline(&line, &cap, f)) >= 0;) {
                if (n && line[n - 1] == '\n')
                        line[--n] = '\0';
                if (n)
                        ok = add_line(s, line, &oom);
        }
        free(line);
        fclose(f);
        if (!ok)
                report(path, "not tsv or json output of alexnet predict "
                             "(--skip-done reads those)");
        else if (oom)
                report(path, "out of memory");
        if (!ok || oom)
                done_set_free(s);
        return ok && !oom;
}

bool done_set_has(const struct done_set *s, const char *image_path)
{
        char shown[16384];
        return s->n && lookup(s, escape_into(shown, sizeof shown, image_path));
}

void done_set_free(struct done_set *s)
{
        for (size_t i = 0; i < s->cap; i++)
                free(s->slots[i]);
        free(s->slots);
        memset(s, 0, sizeof *s);
}
