/* Opening input files: only regular files, checked before anything can
 * block (a FIFO with no writer would hang open(2) forever), and reading a
 * whole one into memory, refusing anything larger than the caller's limit
 * before allocating. */
#ifndef ALEXNET_FILE_READ_H
#define ALEXNET_FILE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"

/* A file descriptor (close it) for reading path, which must be a regular
 * file: opened without blocking, then its type checked ("is a directory",
 * "not a regular file (a pipe, socket or device)"); *size its length.
 * Errors name the problem, not the path. */
enum an_status file_open_regular(const char *path, int *fd, size_t *size,
                                 struct an_error *err);

/* *data is malloc'd (free it); errors name the problem, not the path. */
enum an_status file_read_whole(const char *path, size_t max_bytes,
                               uint8_t **data, size_t *size,
                               struct an_error *err);

#endif
