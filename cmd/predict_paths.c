#define _POSIX_C_SOURCE 200809L
#include "predict_paths.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void path_source_init(struct path_source *s, char **args, int n_args,
                      bool nul_separated, long shard, long shards)
{
        static char *dash[] = {"-"};
        memset(s, 0, sizeof *s);
        s->args = n_args ? args : dash;
        s->n_args = n_args ? n_args : 1;
        s->nul_separated = nul_separated;
        s->shard = shard;
        s->shards = shards;
}

/* Bytes of a line kept: more than any path may have (PATH_MAX, 4096), so
 * a longer line still fails as a path ("File name too long"), but a
 * stream without line ends (predict - </dev/zero) cannot take memory
 * without bound: the rest of such a line is read and dropped. */
enum { LINE_KEPT = 8192 };

/* Reads one line of at most LINE_KEPT bytes into s->line (the rest
 * dropped); its length, or -1 at the end of input. */
static ssize_t read_line(struct path_source *s, int delim)
{
        if (!s->line && !(s->line = malloc(LINE_KEPT + 1))) {
                errno = ENOMEM;
                return -1;
        }
        size_t n = 0;
        int c;
        while ((c = getc_unlocked(s->stream)) != EOF && c != delim)
                if (n < LINE_KEPT)
                        s->line[n++] = (char)c;
        s->line[n] = 0;
        return c == EOF && n == 0 ? -1 : (ssize_t)n;
}

/* The next line of stdin without its terminator, skipping empty lines;
 * NULL at the end. */
static const char *next_line(struct path_source *s)
{
        int delim = s->nul_separated ? '\0' : '\n';
        for (;;) {
                errno = 0;
                ssize_t n = read_line(s, delim);
                if (n < 0) {
                        if (ferror(s->stream) || errno == ENOMEM)
                                s->read_errno = errno ? errno : EIO;
                        s->stream = NULL;
                        return NULL;
                }
                if (!s->nul_separated && n > 0 && s->line[n - 1] == '\r')
                        s->line[--n] = 0;
                if (n > 0)
                        return s->line;
        }
}

/* The next operand or line, before directories are walked. */
static const char *next_given(struct path_source *s)
{
        for (;;) {
                if (s->stream) {
                        const char *line = next_line(s);
                        if (line || s->read_errno)
                                return line;
                }
                if (s->next_arg >= s->n_args)
                        return NULL;
                const char *arg = s->args[s->next_arg++];
                if (strcmp(arg, "-"))
                        return arg;
                s->stream = stdin;
        }
}

static bool is_directory(const char *path)
{
        struct stat sb;
        return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void end_walk(struct path_source *s)
{
        s->walk_problems += s->walk.problems;
        dir_walk_free(&s->walk);
        s->walking = false;
}

/* The next input of any shard: with -r, a directory given is replaced by
 * the images under it. */
static const char *next_input(struct path_source *s)
{
        for (;;) {
                if (s->walking) {
                        const char *path = dir_walk_next(&s->walk);
                        if (path)
                                return path;
                        end_walk(s);
                }
                const char *path = next_given(s);
                if (!path || !s->recursive || !is_directory(path))
                        return path;
                s->walking = dir_walk_start(&s->walk, path);
                if (!s->walking)
                        end_walk(s);
        }
}

const char *path_source_next(struct path_source *s)
{
        const char *path;
        while ((path = next_input(s))) {
                long position = s->position++;
                if (position % s->shards != s->shard)
                        continue;
                if (s->done && done_set_has(s->done, path)) {
                        s->skipped++;
                        continue;
                }
                return path;
        }
        return NULL;
}

void path_source_free(struct path_source *s)
{
        if (s->walking)
                dir_walk_free(&s->walk);
        s->walking = false;
        free(s->line);
        s->line = NULL;
}
