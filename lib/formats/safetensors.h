/* The safetensors container (https://github.com/huggingface/safetensors):
 *
 *     u64 little-endian N | N bytes of JSON header | data buffer
 *
 * The header maps each tensor name to {"dtype", "shape", "data_offsets":
 * [begin, end]} (offsets relative to the data buffer) and may hold a
 * "__metadata__" object of string values.  The reader maps the file and
 * validates everything before any tensor is touched: the header length
 * against the file, the JSON, each dtype, each shape (and that its byte size
 * equals end - begin), every range inside the buffer, and that the ranges
 * tile the buffer exactly (no gaps, no overlaps), as the format requires.
 *
 * This layer knows nothing of networks; lib/model.c gives tensors meaning. */
#ifndef ALEXNET_SAFETENSORS_H
#define ALEXNET_SAFETENSORS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "base/mapped_file.h"

enum st_dtype {
        ST_F32,
        ST_F16,
        ST_BF16,
        ST_F64,
        ST_I64,
        ST_I32,
        ST_I16,
        ST_I8,
        ST_U64,
        ST_U32,
        ST_U16,
        ST_U8,
        ST_BOOL,
        ST_F8_E4M3,
        ST_F8_E5M2,
};

enum { ST_MAX_RANK = 8 };

struct st_tensor {
        const char *name; /* points into the parsed header */
        enum st_dtype dtype;
        int rank;
        int64_t shape[ST_MAX_RANK];
        uint64_t count;      /* elements */
        const uint8_t *data; /* inside the mapped file */
        uint64_t nbytes;
};

struct st_file {
        struct mapped_file map; /* by st_open; unused by st_parse */
        json_t *header;         /* the parsed header, owns the names */
        json_t *metadata;       /* the "__metadata__" object, or NULL */
        size_t n_tensors;
        struct st_tensor *tensors; /* in data_offsets order */
};

/* Maps and validates path.  Tensor data stays in the mapping: after
 * using it, st_check() tells whether the file changed meanwhile (see
 * base/mapped_file.h). */
enum an_status st_open(struct st_file *f, const char *path,
                       struct an_error *err);
/* AN_OK while an opened file is as it was opened (always for st_parse). */
enum an_status st_check(const struct st_file *f, struct an_error *err);
/* Validates a file image already in memory (kept by reference). */
enum an_status st_parse(struct st_file *f, const uint8_t *buf, size_t size,
                        struct an_error *err);
void st_close(struct st_file *f);

const struct st_tensor *st_find(const struct st_file *f, const char *name);
/* The string value of metadata key, or NULL. */
const char *st_metadata(const struct st_file *f, const char *key);

const char *st_dtype_name(enum st_dtype t);
size_t st_dtype_size(enum st_dtype t);

/* Widens an F32, F16 or BF16 tensor into out[t->count]. */
enum an_status st_tensor_to_f32(const struct st_tensor *t, float *out,
                                struct an_error *err);

/* ---- writing ---- */

struct st_write_tensor {
        const char *name;
        enum st_dtype dtype; /* F32, F16 or BF16: how it is stored */
        int rank;
        int64_t shape[ST_MAX_RANK];
        const float *data; /* always given as float32 */
};

/* Writes a safetensors file atomically (temporary file, fsync, rename).
 * metadata is an object of strings (or NULL); tensors are stored in the
 * order given.  The header is padded with spaces to a multiple of 8 bytes so
 * that every F32 tensor is aligned when the file is mapped. */
enum an_status st_write(const char *path, const json_t *metadata,
                        const struct st_write_tensor *tensors, size_t n,
                        struct an_error *err);
/* The same for tensors read from the mapped file source: if it changed
 * while they were written (st_check), nothing is written. */
enum an_status st_write_checked(const char *path, const json_t *metadata,
                                const struct st_write_tensor *tensors, size_t n,
                                const struct st_file *source,
                                struct an_error *err);

#endif
