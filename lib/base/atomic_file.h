/* Files that appear complete or not at all.
 *
 * Data goes to a temporary file beside the destination; commit flushes it to
 * disk (fsync), renames it over the destination and syncs the directory, so a
 * crash, a full disk or a kill at any moment leaves either the old file or the
 * new one under the final name, never a truncated one.  abort removes the
 * temporary file.  A destination that is a device or a pipe (/dev/stdout)
 * is written in place, since there is no file to replace; a directory or
 * socket is refused. */
#ifndef ALEXNET_ATOMIC_FILE_H
#define ALEXNET_ATOMIC_FILE_H

#include <stddef.h>

#include "base/errors.h"

struct atomic_file {
        int fd;
        char *path;      /* the destination */
        char *temp_path; /* where the data goes until commit; NULL when
                          * writing a device or pipe in place */
};

enum an_status atomic_file_create(struct atomic_file *f, const char *path,
                                  struct an_error *err);
/* Whether path could be written now (its folder exists and takes a new
 * file): a temporary file is made beside it and removed.  For a long job
 * that writes at the end, to fail at the start instead. */
enum an_status atomic_file_probe(const char *path, struct an_error *err);
enum an_status atomic_file_write(struct atomic_file *f, const void *buf,
                                 size_t n, struct an_error *err);
enum an_status atomic_file_commit(struct atomic_file *f, struct an_error *err);
/* Discards the temporary file; safe after a failed write or commit. */
void atomic_file_abort(struct atomic_file *f);
/* Removes the temporary file of the write in progress, if any.  Only
 * async-signal-safe calls: meant for a SIGINT/SIGTERM handler that then
 * ends the process. */
void atomic_file_remove_partial(void);

#endif
