/* predict --skip-done FILE: the paths an earlier run's output (TSV or
 * JSON Lines) already holds a result for, so that a cron job or a run cut
 * short goes on with the rest.  Paths are kept as the records write them
 * (escaped, cmd/escape.h), in a hash set; a JSON error record is not a
 * result, so a failed image is tried again. */
#ifndef ALEXNET_DONE_SET_H
#define ALEXNET_DONE_SET_H

#include <stdbool.h>
#include <stddef.h>

struct done_set {
        char **slots; /* open addressing; NULL is empty */
        size_t cap, n;
};

/* Reads path; false, reported, if it cannot be read or is not TSV or
 * JSON Lines output of predict. */
bool done_set_load(struct done_set *s, const char *path);
bool done_set_has(const struct done_set *s, const char *image_path);
void done_set_free(struct done_set *s);

#endif
