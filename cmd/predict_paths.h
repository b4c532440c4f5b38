/* Where predict's image paths come from: the command line, and standard
 * input (for no IMAGE or "-"), one a line or NUL-separated, streamed so a
 * million paths cost no more memory than one; with -r, each directory
 * given walked for its images (dir_walk.h); with sharding applied. */
#ifndef ALEXNET_PATHS_H
#define ALEXNET_PATHS_H

#include <stdbool.h>
#include <stdio.h>

#include "dir_walk.h"
#include "done_set.h"

struct path_source {
        char **args; /* IMAGE operands ("-" reads stdin there) */
        int n_args, next_arg;
        FILE *stream; /* stdin while it is being read, else NULL */
        bool nul_separated;
        char *line;         /* the line read last, at most 8192 bytes kept */
        long position;      /* inputs seen so far, for sharding */
        long shard, shards; /* keep inputs whose position % shards == shard */
        int read_errno;     /* set when reading stdin failed */
        bool recursive;     /* -r: directories are walked */
        bool walking;
        struct dir_walk walk;
        size_t walk_problems;        /* folders reported and skipped */
        const struct done_set *done; /* --skip-done, or NULL */
        size_t skipped;              /* paths done already */
};

void path_source_init(struct path_source *s, char **args, int n_args,
                      bool nul_separated, long shard, long shards);
/* The next path of this shard, valid until the next call; NULL at the end
 * or on a read error (then read_errno is set). */
const char *path_source_next(struct path_source *s);
void path_source_free(struct path_source *s);

#endif
