/* Reading a whole regular file into memory, refusing directories, special
 * files and anything larger than the caller's limit before allocating. */
#ifndef ALEXNET_FILE_READ_H
#define ALEXNET_FILE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"

/* *data is malloc'd (free it); errors name the problem, not the path. */
enum an_status file_read_whole(const char *path, size_t max_bytes,
                               uint8_t **data, size_t *size,
                               struct an_error *err);

#endif
