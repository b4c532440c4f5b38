/* predict -o FILE: the records go to a temporary file beside FILE, which
 * replaces FILE only when the run ends without a fatal error (exit 0 or
 * 1): FILE is then complete, or as it was.  A signal that ends the run
 * removes the temporary file (remove_partial_output_on_signals). */
#ifndef ALEXNET_PREDICT_OUTPUT_H
#define ALEXNET_PREDICT_OUTPUT_H

#include <stdbool.h>

#include "base/atomic_file.h"

/* Points standard output at a new temporary file for path; false,
 * reported, if it cannot be made. */
bool output_begin(struct atomic_file *f, const char *path);
/* Flushes standard output and renames the file into place, or removes it
 * when status is EXIT_FATAL; the final exit status. */
int output_end(struct atomic_file *f, int status);

#endif
