/* Writing safetensors files; see safetensors.h for the layout. */
#include <stdlib.h>
#include <string.h>

#include "base/atomic_file.h"
#include "base/half.h"
#include "formats/safetensors.h"

static uint64_t element_count(const struct st_write_tensor *t)
{
        uint64_t n = 1;
        for (int d = 0; d < t->rank; d++)
                n *= (uint64_t)t->shape[d];
        return n;
}

/* The JSON header, padded with spaces so the data starts 8-byte aligned. */
static char *build_header(const json_t *metadata,
                          const struct st_write_tensor *tensors, size_t n,
                          size_t *len, struct an_error *err)
{
        json_t *h = json_object();
        if (metadata)
                json_object_set(h, "__metadata__", (json_t *)metadata);
        uint64_t offset = 0;
        for (size_t i = 0; i < n; i++) {
                const struct st_write_tensor *t = &tensors[i];
                json_t *shape = json_array();
                for (int d = 0; d < t->rank; d++)
                        json_array_append_new(shape, json_integer(t->shape[d]));
                uint64_t end =
                        offset + element_count(t) * st_dtype_size(t->dtype);
                json_object_set_new(h, t->name,
                                    json_pack("{sssos[II]}", "dtype",
                                              st_dtype_name(t->dtype), "shape",
                                              shape, "data_offsets",
                                              (json_int_t)offset,
                                              (json_int_t)end));
                offset = end;
        }
        char *text = json_dumps(h, JSON_COMPACT);
        json_decref(h);
        if (!text) {
                an_error_set(err, AN_E_NOMEM, "out of memory");
                return NULL;
        }
        size_t raw = strlen(text);
        size_t padded = (raw + 8 + 7) / 8 * 8 - 8;
        char *out = realloc(text, padded + 1);
        if (!out) {
                free(text);
                an_error_set(err, AN_E_NOMEM, "out of memory");
                return NULL;
        }
        memset(out + raw, ' ', padded - raw);
        out[padded] = 0;
        *len = padded;
        return out;
}

/* Converts and writes one tensor in chunks of at most CHUNK elements. */
static enum an_status write_tensor(struct atomic_file *f,
                                   const struct st_write_tensor *t,
                                   uint8_t *chunk, size_t chunk_elems,
                                   struct an_error *err)
{
        uint64_t count = element_count(t);
        size_t esize = st_dtype_size(t->dtype);
        for (uint64_t start = 0; start < count; start += chunk_elems) {
                size_t m = count - start < chunk_elems ? count - start
                                                       : chunk_elems;
                const float *src = t->data + start;
                for (size_t i = 0; i < m; i++) {
                        uint16_t h;
                        if (t->dtype == ST_F32) {
                                memcpy(chunk + 4 * i, &src[i], 4);
                                continue;
                        }
                        h = t->dtype == ST_F16 ? f32_to_f16(src[i])
                                               : f32_to_bf16(src[i]);
                        chunk[2 * i] = (uint8_t)h;
                        chunk[2 * i + 1] = (uint8_t)(h >> 8);
                }
                enum an_status st = atomic_file_write(f, chunk, m * esize, err);
                if (st != AN_OK)
                        return st;
        }
        return AN_OK;
}

enum an_status st_write(const char *path, const json_t *metadata,
                        const struct st_write_tensor *tensors, size_t n,
                        struct an_error *err)
{
        return st_write_checked(path, metadata, tensors, n, NULL, err);
}

enum an_status st_write_checked(const char *path, const json_t *metadata,
                                const struct st_write_tensor *tensors, size_t n,
                                const struct st_file *source,
                                struct an_error *err)
{
        enum { CHUNK = 1 << 16 };
        for (size_t i = 0; i < n; i++)
                if (tensors[i].dtype != ST_F32 && tensors[i].dtype != ST_F16 &&
                    tensors[i].dtype != ST_BF16)
                        return an_error_set(err, AN_E_INVALID,
                                            "tensor %s: can only write F32, "
                                            "F16 or BF16",
                                            tensors[i].name);
        size_t header_len;
        char *header = build_header(metadata, tensors, n, &header_len, err);
        if (!header)
                return AN_E_NOMEM;
        uint8_t *chunk = malloc(CHUNK * 4);
        struct atomic_file f;
        enum an_status st =
                chunk ? atomic_file_create(&f, path, err)
                      : an_error_set(err, AN_E_NOMEM, "out of memory");
        if (st == AN_OK) {
                uint8_t len[8];
                for (int i = 0; i < 8; i++)
                        len[i] = (uint8_t)((uint64_t)header_len >> (8 * i));
                st = atomic_file_write(&f, len, 8, err);
                if (st == AN_OK)
                        st = atomic_file_write(&f, header, header_len, err);
                for (size_t i = 0; st == AN_OK && i < n; i++)
                        st = write_tensor(&f, &tensors[i], chunk, CHUNK, err);
                if (st == AN_OK && source)
                        st = st_check(source, err);
                if (st == AN_OK)
                        st = atomic_file_commit(&f, err);
                else
                        atomic_file_abort(&f);
        }
        free(chunk);
        free(header);
        return st;
}
