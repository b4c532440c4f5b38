/* predict -r: the JPEG and PNG files under a directory, depth first, each
 * directory's entries in byte order (the same order on every run and
 * machine).  Only the directories on the current path are held, so a tree
 * of a million images costs no more memory than its deepest branch.
 * Symbolic links are followed; a link back to a directory being walked
 * (a loop) and a folder that cannot be read are reported and skipped. */
#ifndef ALEXNET_DIR_WALK_H
#define ALEXNET_DIR_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct walk_level {
        char *path;
        char **names; /* sorted entries */
        size_t n, next;
        dev_t dev;
        ino_t ino;
};

struct dir_walk {
        struct walk_level *levels;
        size_t depth, cap;
        char *current;   /* the path returned last */
        size_t problems; /* folders reported and skipped */
};

/* Starts at directory root; false (reported) if it cannot be read. */
bool dir_walk_start(struct dir_walk *w, const char *root);
/* The next image file's path (valid until the next call), or NULL. */
const char *dir_walk_next(struct dir_walk *w);
void dir_walk_free(struct dir_walk *w);

#endif
