#define _POSIX_C_SOURCE 200809L
#include "formats/safetensors.h"

#include <stdlib.h>
#include <string.h>

#include "base/file_read.h"
#include "base/half.h"
#include "formats/sniff.h"

/* The reference implementation refuses headers over 100 MB; so do we, and
 * never more than the file holds. */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
#define ST_MAX_DIM    ((int64_t)1 << 40)

static const struct {
        const char *name;
        size_t size;
} dtypes[] = {
        [ST_F32] = {"F32", 4},         [ST_F16] = {"F16", 2},
        [ST_BF16] = {"BF16", 2},       [ST_F64] = {"F64", 8},
        [ST_I64] = {"I64", 8},         [ST_I32] = {"I32", 4},
        [ST_I16] = {"I16", 2},         [ST_I8] = {"I8", 1},
        [ST_U64] = {"U64", 8},         [ST_U32] = {"U32", 4},
        [ST_U16] = {"U16", 2},         [ST_U8] = {"U8", 1},
        [ST_BOOL] = {"BOOL", 1},       [ST_F8_E4M3] = {"F8_E4M3", 1},
        [ST_F8_E5M2] = {"F8_E5M2", 1},
};
enum { N_DTYPES = sizeof dtypes / sizeof dtypes[0] };

const char *st_dtype_name(enum st_dtype t)
{
        return (unsigned)t < N_DTYPES ? dtypes[t].name : "?";
}

size_t st_dtype_size(enum st_dtype t)
{
        return (unsigned)t < N_DTYPES ? dtypes[t].size : 0;
}

static uint64_t read_le64(const uint8_t *p)
{
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

static enum an_status parse_dtype(const json_t *v, enum st_dtype *out)
{
        const char *s = json_string_value(v);
        for (int i = 0; s && i < N_DTYPES; i++)
                if (!strcmp(s, dtypes[i].name)) {
                        *out = (enum st_dtype)i;
                        return AN_OK;
                }
        return AN_E_FORMAT;
}

static enum an_status parse_shape(struct st_tensor *t, const json_t *shape,
                                  struct an_error *err)
{
        size_t rank = json_array_size(shape);
        if (!json_is_array(shape) || rank > ST_MAX_RANK)
                return an_error_set(err, AN_E_FORMAT,
                                    "tensor %s: shape must be an array of at "
                                    "most %d sizes",
                                    t->name, ST_MAX_RANK);
        t->rank = (int)rank;
        t->count = 1;
        for (size_t d = 0; d < rank; d++) {
                const json_t *v = json_array_get(shape, d);
                json_int_t n = json_integer_value(v);
                if (!json_is_integer(v) || n < 0 || n > ST_MAX_DIM)
                        return an_error_set(err, AN_E_FORMAT,
                                            "tensor %s: shape has an invalid "
                                            "size",
                                            t->name);
                t->shape[d] = n;
                if (n && t->count > UINT64_MAX / 16 / (uint64_t)n)
                        return an_error_set(err, AN_E_FORMAT,
                                            "tensor %s: shape is too large",
                                            t->name);
                t->count *= (uint64_t)n;
        }
        return AN_OK;
}

/* Fills t from its header entry; the byte range is checked against the
 * buffer size here and for tiling by the caller. */
static enum an_status parse_tensor(struct st_tensor *t, const char *name,
                                   const json_t *entry, const uint8_t *data,
                                   uint64_t data_size, struct an_error *err)
{
        t->name = name;
        const json_t *offsets = json_object_get(entry, "data_offsets");
        if (!json_is_object(entry) || json_object_size(entry) != 3 ||
            !json_object_get(entry, "shape") || json_array_size(offsets) != 2)
                return an_error_set(err, AN_E_FORMAT,
                                    "tensor %s: entry needs exactly dtype, "
                                    "shape and data_offsets",
                                    name);
        if (parse_dtype(json_object_get(entry, "dtype"), &t->dtype) != AN_OK)
                return an_error_set(err, AN_E_FORMAT,
                                    "tensor %s: unknown dtype", name);
        enum an_status st =
                parse_shape(t, json_object_get(entry, "shape"), err);
        if (st != AN_OK)
                return st;
        const json_t *b = json_array_get(offsets, 0);
        const json_t *e = json_array_get(offsets, 1);
        json_int_t begin = json_integer_value(b), end = json_integer_value(e);
        if (!json_is_integer(b) || !json_is_integer(e) || begin < 0 ||
            end < begin || (uint64_t)end > data_size)
                return an_error_set(err, AN_E_FORMAT,
                                    "tensor %s: data_offsets [%lld, %lld] "
                                    "outside the %llu-byte data buffer",
                                    name, (long long)begin, (long long)end,
                                    (unsigned long long)data_size);
        t->nbytes = (uint64_t)(end - begin);
        if (t->nbytes != t->count * st_dtype_size(t->dtype))
                return an_error_set(err, AN_E_FORMAT,
                                    "tensor %s: %llu bytes do not hold its "
                                    "shape (%llu elements of %s)",
                                    name, (unsigned long long)t->nbytes,
                                    (unsigned long long)t->count,
                                    st_dtype_name(t->dtype));
        t->data = data + begin;
        return AN_OK;
}

static int by_offset(const void *a, const void *b)
{
        const struct st_tensor *x = a, *y = b;
        if (x->data != y->data)
                return x->data < y->data ? -1 : 1;
        return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* The format requires the tensors to cover the data buffer exactly. */
static enum an_status check_tiling(const struct st_file *f, const uint8_t *data,
                                   uint64_t data_size, struct an_error *err)
{
        const uint8_t *pos = data;
        for (size_t i = 0; i < f->n_tensors; i++) {
                const struct st_tensor *t = &f->tensors[i];
                if (t->data < pos)
                        return an_error_set(err, AN_E_FORMAT,
                                            "tensor %s overlaps another "
                                            "tensor",
                                            t->name);
                if (t->data > pos)
                        return an_error_set(
                                err, AN_E_FORMAT,
                                "no tensor in the header for the %llu bytes "
                                "before tensor %s: one is missing from the "
                                "header, or the offsets are corrupt",
                                (unsigned long long)(t->data - pos), t->name);
                pos += t->nbytes;
        }
        if ((uint64_t)(pos - data) != data_size)
                return an_error_set(
                        err, AN_E_FORMAT, "%llu bytes after the last tensor",
                        (unsigned long long)(data_size -
                                             (uint64_t)(pos - data)));
        return AN_OK;
}

static enum an_status parse_metadata(struct st_file *f, json_t *meta,
                                     struct an_error *err)
{
        const char *key;
        json_t *v;
        if (!json_is_object(meta))
                return an_error_set(err, AN_E_FORMAT,
                                    "__metadata__ is not an object");
        json_object_foreach(meta, key, v) if (
                !json_is_string(v)) return an_error_set(err, AN_E_FORMAT,
                                                        "__metadata__ value %s "
                                                        "is not a "
                                                        "string",
                                                        key);
        f->metadata = meta;
        return AN_OK;
}

static enum an_status parse_header(struct st_file *f, const uint8_t *buf,
                                   size_t size, struct an_error *err)
{
        if (size < 8)
                return an_error_set(err, AN_E_FORMAT,
                                    "too short for a safetensors file (%zu "
                                    "bytes)",
                                    size);
        uint64_t header_len = read_le64(buf);
        if (header_len > size - 8)
                return an_error_set(err, AN_E_FORMAT,
                                    "header length %llu runs past the end of "
                                    "the %zu-byte file (truncated, or not "
                                    "safetensors)",
                                    (unsigned long long)header_len, size);
        if (header_len > ST_MAX_HEADER)
                return an_error_set(err, AN_E_FORMAT,
                                    "header length %llu exceeds the 100 MB "
                                    "limit",
                                    (unsigned long long)header_len);
        json_error_t jerr;
        f->header = json_loadb((const char *)buf + 8, header_len,
                               JSON_REJECT_DUPLICATES, &jerr);
        if (!f->header)
                return an_error_set(err, AN_E_FORMAT,
                                    "header is not valid JSON (at byte %d: "
                                    "%s)",
                                    jerr.position, jerr.text);
        if (!json_is_object(f->header))
                return an_error_set(err, AN_E_FORMAT,
                                    "header is not a JSON object");
        const uint8_t *data = buf + 8 + header_len;
        uint64_t data_size = size - 8 - header_len;
        size_t n = json_object_size(f->header);
        f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
        if (!f->tensors)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        const char *key;
        json_t *v;
        json_object_foreach(f->header, key, v)
        {
                enum an_status st;
                if (!strcmp(key, "__metadata__"))
                        st = parse_metadata(f, v, err);
                else
                        st = parse_tensor(&f->tensors[f->n_tensors++], key, v,
                                          data, data_size, err);
                if (st != AN_OK)
                        return st;
        }
        qsort(f->tensors, f->n_tensors, sizeof *f->tensors, by_offset);
        return check_tiling(f, data, data_size, err);
}

enum an_status st_parse(struct st_file *f, const uint8_t *buf, size_t size,
                        struct an_error *err)
{
        memset(f, 0, sizeof *f);
        enum an_status st = parse_header(f, buf, size, err);
        if (st != AN_OK) {
                st_close(f);
                /* a file of another kind is named as that, not by how it
                 * fails to parse ("header length 727905341920923785"); one
                 * whose header length fits is a damaged safetensors file */
                bool fits = size >= 8 && read_le64(buf) <= size - 8;
                enum file_kind kind = file_kind_of(
                        buf, size < SNIFF_BYTES ? size : SNIFF_BYTES);
                if (!fits && kind != KIND_UNKNOWN && kind != KIND_SAFETENSORS)
                        an_error_set(err, AN_E_FORMAT,
                                     "%s, not a safetensors model%s",
                                     file_kind_description(kind),
                                     kind == KIND_PNG || kind == KIND_JPEG
                                             ? ""
                                             : " (alexnet convert makes "
                                               "one of it)");
        }
        return st;
}

enum an_status st_open(struct st_file *f, const char *path,
                       struct an_error *err)
{
        memset(f, 0, sizeof *f);
        struct mapped_file map;
        enum an_status st = mapped_file_open(&map, path, err);
        if (st != AN_OK)
                return st;
        st = st_parse(f, map.data, map.size, err);
        if (st != AN_OK) {
                /* a header that changed while being parsed is reported as
                 * that, not as whatever it then looked like */
                mapped_file_check(&map, err);
                mapped_file_close(&map);
                return st;
        }
        f->map = map;
        st = st_check(f, err);
        if (st != AN_OK)
                st_close(f);
        return st;
}

enum an_status st_check(const struct st_file *f, struct an_error *err)
{
        return mapped_file_check(&f->map, err);
}

void st_close(struct st_file *f)
{
        json_decref(f->header);
        free(f->tensors);
        mapped_file_close(&f->map);
        memset(f, 0, sizeof *f);
}

const struct st_tensor *st_find(const struct st_file *f, const char *name)
{
        for (size_t i = 0; i < f->n_tensors; i++)
                if (!strcmp(f->tensors[i].name, name))
                        return &f->tensors[i];
        return NULL;
}

const char *st_metadata(const struct st_file *f, const char *key)
{
        return json_string_value(json_object_get(f->metadata, key));
}

enum an_status st_tensor_to_f32(const struct st_tensor *t, float *out,
                                struct an_error *err)
{
        const uint8_t *p = t->data;
        switch (t->dtype) {
        case ST_F32: memcpy(out, p, t->count * sizeof *out); return AN_OK;
        case ST_F16: f16_to_f32_array(p, out, t->count); return AN_OK;
        case ST_BF16:
                for (uint64_t i = 0; i < t->count; i++)
                        out[i] = bf16_to_f32(
                                (uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
                return AN_OK;
        default:
                return an_error_set(err, AN_E_UNSUPPORTED,
                                    "tensor %s: dtype %s is not a float "
                                    "type (F32, F16 or BF16)",
                                    t->name, st_dtype_name(t->dtype));
        }
}
