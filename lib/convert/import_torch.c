/* torch.save'd state_dicts.
 *
 * Zip container (PyTorch 1.6+): entries under an arbitrary "<prefix>/":
 * data.pkl (the pickled state_dict, storages as persistent ids), data/<key>
 * (each storage's raw little-endian bytes), version, and maybe byteorder.
 *
 * Legacy stream (before 1.6): five pickles in a row (magic number,
 * protocol 1001, sys_info, the state_dict, the list of storage keys), then
 * each storage in that order as an int64 element count and its bytes.
 *
 * The tensors found are turned into an architecture by their names: the
 * torchvision layout (features.N / classifier.N) or the paper layout
 * (conv1..conv5, fc6..fc8), see arch_from_state_dict.
 *
 * Memory is bounded by what the file describes and the architecture can
 * hold, in this order: the pickle gives every tensor's shape, stride and
 * storage (each view checked to lie inside its storage and to be no larger
 * than it, so a stride-0 "expanded" view cannot multiply a few bytes into
 * gigabytes); the architecture is inferred and every tensor checked to be
 * one of its parameters with its exact shape; only then is each tensor
 * read, from the part of its storage it uses (a storage compressed in the
 * zip is inflated no further than that), one storage at a time. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "base/half.h"
#include "convert/import.h"
#include "model/model.h"
#include "formats/pickle.h"

#define MAX_TORCH_FILE ((size_t)8 << 30)
/* A state_dict's pickle names its tensors: a few kilobytes for any
 * AlexNet-family network, never this much. */
#define MAX_PICKLE ((uint64_t)16 << 20)

/* Where a storage's bytes are: in the legacy stream (data) or in a zip
 * entry (read when a tensor needs them). */
struct storage_bytes {
        const char *key;
        const uint8_t *data;
        zip_int64_t entry; /* -1 for the legacy stream */
        uint64_t size;     /* bytes */
};

struct torch_file {
        struct pickle pickle;
        struct pvalue *root;
        struct storage_bytes *storages;
        size_t n_storages;
        zip_t *zip; /* open while tensors are read; NULL for legacy */
};

static void torch_file_free(struct torch_file *tf)
{
        if (tf->zip)
                zip_discard(tf->zip);
        free(tf->storages);
        pickle_free(&tf->pickle);
}

static struct storage_bytes *find_storage(struct torch_file *tf,
                                          const char *key)
{
        for (size_t i = 0; i < tf->n_storages; i++)
                if (!strcmp(tf->storages[i].key, key))
                        return &tf->storages[i];
        return NULL;
}

static struct storage_bytes *add_storage(struct torch_file *tf, const char *key)
{
        struct storage_bytes *s = realloc(
                tf->storages, (tf->n_storages + 1) * sizeof *tf->storages);
        if (!s)
                return NULL;
        tf->storages = s;
        s = &tf->storages[tf->n_storages++];
        memset(s, 0, sizeof *s);
        s->key = key;
        s->entry = -1;
        return s;
}

/* The state_dict: the root, or root["state_dict"] for training
 * checkpoints that wrap it. */
static const struct pvalue *state_dict_of(const struct pvalue *root)
{
        if (root->type != PV_DICT)
                return NULL;
        for (size_t i = 0; i + 1 < root->n; i += 2)
                if (root->items[i]->type == PV_STR &&
                    !strcmp(root->items[i]->str, "state_dict") &&
                    root->items[i + 1]->type == PV_DICT)
                        return root->items[i + 1];
        return root;
}

/* Every storage the state_dict refers to, once each. */
static size_t list_storages(const struct pvalue *root,
                            const struct pvalue **out, size_t max)
{
        size_t n = 0;
        root = state_dict_of(root);
        if (!root)
                return 0;
        for (size_t i = 1; i < root->n; i += 2) {
                const struct pvalue *t = root->items[i];
                if (t->type != PV_TENSOR)
                        continue;
                bool seen = false;
                for (size_t j = 0; j < n; j++)
                        seen |= !strcmp(out[j]->str, t->storage->str);
                if (!seen && n < max)
                        out[n++] = t->storage;
        }
        return n;
}

/* ---- zip container ---------------------------------------------------- */

/* The first `want` bytes of entry index (inflated no further). */
static enum an_status zip_read_prefix(zip_t *za, zip_int64_t index,
                                      uint64_t want, uint8_t **out,
                                      struct an_error *err)
{
        uint8_t *buf = malloc(want ? want : 1);
        zip_file_t *f =
                buf ? zip_fopen_index(za, (zip_uint64_t)index, 0) : NULL;
        zip_int64_t got = f ? zip_fread(f, buf, want) : -1;
        if (f)
                zip_fclose(f);
        if (!buf || got < 0 || (zip_uint64_t)got != want) {
                free(buf);
                return an_error_set(err, buf ? AN_E_FORMAT : AN_E_NOMEM,
                                    "zip: cannot read entry %s (corrupt or "
                                    "truncated)",
                                    zip_get_name(za, (zip_uint64_t)index, 0));
        }
        *out = buf;
        return AN_OK;
}

/* The uncompressed size of entry index. */
static enum an_status zip_entry_size(zip_t *za, zip_int64_t index,
                                     uint64_t *size, struct an_error *err)
{
        zip_stat_t zs;
        if (zip_stat_index(za, (zip_uint64_t)index, 0, &zs) != 0 ||
            !(zs.valid & ZIP_STAT_SIZE))
                return an_error_set(err, AN_E_FORMAT, "zip: unreadable entry");
        *size = zs.size;
        return AN_OK;
}

/* A whole small entry, refused if larger than max. */
static enum an_status zip_read_entry(zip_t *za, zip_int64_t index, uint64_t max,
                                     uint8_t **out, uint64_t *size,
                                     struct an_error *err)
{
        enum an_status st = zip_entry_size(za, index, size, err);
        if (st == AN_OK && *size > max)
                st = an_error_set(err, AN_E_FORMAT,
                                  "zip: entry %s is larger than expected",
                                  zip_get_name(za, (zip_uint64_t)index, 0));
        return st == AN_OK ? zip_read_prefix(za, index, *size, out, err) : st;
}

/* The one "<prefix>/data.pkl" entry; its prefix goes to prefix. */
static zip_int64_t find_data_pkl(zip_t *za, char *prefix, size_t size)
{
        zip_int64_t n = zip_get_num_entries(za, 0), found = -1;
        for (zip_int64_t i = 0; i < n; i++) {
                const char *name = zip_get_name(za, (zip_uint64_t)i, 0);
                size_t len = name ? strlen(name) : 0;
                if (len < 9 || strcmp(name + len - 9, "/data.pkl") ||
                    len - 8 >= size)
                        continue;
                if (found >= 0)
                        return -2;
                memcpy(prefix, name, len - 8);
                prefix[len - 8] = 0; /* keeps the slash */
                found = i;
        }
        return found;
}

static enum an_status read_zip(struct torch_file *tf, const uint8_t *data,
                               size_t size, struct an_error *err)
{
        zip_error_t zerr;
        zip_error_init(&zerr);
        zip_source_t *src = zip_source_buffer_create(data, size, 0, &zerr);
        zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS,
                                               &zerr)
                        : NULL;
        if (!za) {
                an_error_set(err, AN_E_FORMAT, "zip: %s",
                             zip_error_strerror(&zerr));
                zip_error_fini(&zerr);
                if (src)
                        zip_source_free(src);
                return AN_E_FORMAT;
        }
        char prefix[512], name[1024];
        zip_int64_t pkl = find_data_pkl(za, prefix, sizeof prefix);
        enum an_status st = AN_OK;
        uint8_t *pickled = NULL;
        uint64_t pickled_size = 0;
        if (pkl < 0)
                st = an_error_set(err, AN_E_FORMAT,
                                  pkl == -1 ? "zip holds no data.pkl: not a "
                                              "torch.save file"
                                            : "zip holds several data.pkl");
        snprintf(name, sizeof name, "%sbyteorder", prefix);
        zip_int64_t order = st == AN_OK ? zip_name_locate(za, name, 0) : -1;
        if (order >= 0) {
                uint8_t *text;
                uint64_t len;
                st = zip_read_entry(za, order, 16, &text, &len, err);
                if (st == AN_OK && !(len >= 6 && !memcmp(text, "little", 6)))
                        st = an_error_set(err, AN_E_UNSUPPORTED,
                                          "big-endian tensor data");
                if (st == AN_OK)
                        free(text);
        }
        if (st == AN_OK)
                st = zip_read_entry(za, pkl, MAX_PICKLE, &pickled,
                                    &pickled_size, err);
        if (st == AN_OK)
                st = pickle_load(&tf->pickle, pickled, pickled_size, &tf->root,
                                 err);
        free(pickled);
        /* Each storage the state_dict uses, from data/<key>. */
        if (st == AN_OK && tf->root->type == PV_DICT) {
                const struct pvalue *refs[4096];
                size_t n = list_storages(tf->root, refs, 4096);
                for (size_t i = 0; st == AN_OK && i < n; i++) {
                        snprintf(name, sizeof name, "%sdata/%s", prefix,
                                 refs[i]->str);
                        zip_int64_t e = zip_name_locate(za, name, 0);
                        struct storage_bytes *s = add_storage(tf, refs[i]->str);
                        if (e < 0 || !s)
                                st = an_error_set(
                                        err, e < 0 ? AN_E_FORMAT : AN_E_NOMEM,
                                        "zip: storage %s is missing",
                                        refs[i]->str);
                        else
                                st = zip_entry_size(za, e, &s->size, err);
                        if (st == AN_OK)
                                s->entry = e;
                }
        }
        if (st == AN_OK)
                tf->zip = za; /* its storages are read later */
        else
                zip_discard(za);
        return st;
}

/* ---- legacy stream ---------------------------------------------------- */

static enum an_status read_legacy(struct torch_file *tf, const uint8_t *data,
                                  size_t size, struct an_error *err)
{
        /* 0x1950a86a20f9469cfc6c, little-endian, as torch writes it */
        static const uint8_t magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                          0x20, 0x6a, 0xa8, 0x50, 0x19};
        struct pvalue *v[5];
        size_t pos = 0;
        for (int i = 0; i < 5; i++) {
                enum an_status st = pickle_load(&tf->pickle, data + pos,
                                                size - pos, &v[i], err);
                if (st != AN_OK)
                        return i ? st
                                 : an_error_set(err, AN_E_FORMAT,
                                                "not a PyTorch file (no zip "
                                                "and no legacy header)");
                pos += tf->pickle.consumed;
                if (i == 0 && (v[0]->type != PV_BIGINT || v[0]->len != 10 ||
                               memcmp(v[0]->str, magic, 10)))
                        return an_error_set(err, AN_E_FORMAT,
                                            "not a PyTorch file (wrong magic "
                                            "number)");
                if (i == 1 && (v[1]->type != PV_INT || v[1]->i != 1001))
                        return an_error_set(err, AN_E_UNSUPPORTED,
                                            "legacy protocol version is not "
                                            "1001");
        }
        tf->root = v[3];
        if (v[4]->type != PV_LIST)
                return an_error_set(err, AN_E_FORMAT,
                                    "legacy file: no storage key list");
        const struct pvalue *refs[4096];
        size_t n_refs = tf->root->type == PV_DICT
                                ? list_storages(tf->root, refs, 4096)
                                : 0;
        for (size_t k = 0; k < v[4]->n; k++) {
                const struct pvalue *key = v[4]->items[k];
                const struct pvalue *ref = NULL;
                for (size_t j = 0; key->type == PV_STR && j < n_refs; j++)
                        if (!strcmp(refs[j]->str, key->str))
                                ref = refs[j];
                if (!ref)
                        return an_error_set(err, AN_E_FORMAT,
                                            "legacy file: storage key list "
                                            "does not match the tensors");
                if (size - pos < 8)
                        return an_error_set(err, AN_E_FORMAT,
                                            "legacy file: truncated storage "
                                            "header");
                uint64_t numel = 0;
                for (int b = 7; b >= 0; b--)
                        numel = numel << 8 | data[pos + b];
                pos += 8;
                size_t esize = storage_dtype_size(ref->dtype);
                if (numel > (size - pos) / esize)
                        return an_error_set(err, AN_E_FORMAT,
                                            "legacy file: storage %s runs "
                                            "past the end (truncated)",
                                            key->str);
                struct storage_bytes *s = add_storage(tf, key->str);
                if (!s)
                        return an_error_set(err, AN_E_NOMEM, "out of memory");
                s->data = data + pos;
                s->size = numel * esize;
                pos += s->size;
        }
        return AN_OK;
}

/* ---- tensors ---------------------------------------------------------- */

static float element(const uint8_t *p, enum storage_dtype d)
{
        switch (d) {
        case SD_F32: {
                float f;
                memcpy(&f, p, 4);
                return f;
        }
        case SD_F16: return f16_to_f32((uint16_t)(p[0] | p[1] << 8));
        case SD_BF16: return bf16_to_f32((uint16_t)(p[0] | p[1] << 8));
        case SD_F64: {
                double f;
                memcpy(&f, p, 8);
                return (float)f;
        }
        default: return 0.0f;
        }
}

static uint64_t saturate(unsigned __int128 v)
{
        return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/* Checks that view t of its storage lies inside the storage and is no
 * larger than it; *used is the number of storage elements it reaches
 * (0 for an empty view). */
static enum an_status check_view(const struct storage_bytes *s,
                                 const char *name, const struct pvalue *t,
                                 uint64_t *used, struct an_error *err)
{
        size_t esize = storage_dtype_size(t->storage->dtype);
        uint64_t numel = s->size / esize;
        /* the largest element index the view touches; 128-bit so that no
         * crafted size, stride or offset can wrap around */
        unsigned __int128 last = (unsigned __int128)t->offset, count = 1;
        if (t->offset < 0 || t->offset > ((int64_t)1 << 40))
                return an_error_set(err, AN_E_FORMAT,
                                    "tensor %s: invalid storage offset", name);
        for (int d = 0; d < t->rank; d++) {
                if (t->size[d] < 0 || t->stride[d] < 0 ||
                    t->size[d] > (1 << 30) || t->stride[d] > ((int64_t)1 << 40))
                        return an_error_set(err, AN_E_FORMAT,
                                            "tensor %s: invalid size or "
                                            "stride",
                                            name);
                count *= (uint64_t)t->size[d];
                if (t->size[d])
                        last += (unsigned __int128)(t->size[d] - 1) *
                                (uint64_t)t->stride[d];
        }
        *used = 0;
        if (!count)
                return AN_OK;
        if (last >= numel)
                return an_error_set(err, AN_E_FORMAT,
                                    "tensor %s: needs element %llu of a "
                                    "%llu-element storage (truncated?)",
                                    name, (unsigned long long)saturate(last),
                                    (unsigned long long)numel);
        if (count > numel)
                return an_error_set(err, AN_E_FORMAT,
                                    "tensor %s: a view of %llu elements "
                                    "repeating a %llu-element storage (an "
                                    "expanded tensor, not a parameter)",
                                    name, (unsigned long long)saturate(count),
                                    (unsigned long long)numel);
        *used = (uint64_t)last + 1;
        return AN_OK;
}

/* The first `used` elements of storage s: in the stream, or inflated from
 * the zip into *owned (free it). */
static enum an_status storage_prefix(struct torch_file *tf,
                                     const struct storage_bytes *s,
                                     uint64_t bytes, const uint8_t **data,
                                     uint8_t **owned, struct an_error *err)
{
        *owned = NULL;
        if (s->entry < 0) {
                *data = s->data;
                return AN_OK;
        }
        enum an_status st =
                zip_read_prefix(tf->zip, s->entry, bytes, owned, err);
        *data = *owned;
        return st;
}

/* Row-major with no gaps: every parameter torch.save writes from a
 * model (the element loop then needs no index arithmetic). */
static bool is_contiguous(const struct pvalue *t)
{
        int64_t expect = 1;
        for (int d = t->rank - 1; d >= 0; d--) {
                if (t->size[d] != 1 && t->stride[d] != expect)
                        return false;
                expect *= t->size[d];
        }
        return true;
}

/* Fills tensor out from view t of storage s. */
static enum an_status read_view(struct torch_file *tf,
                                const struct storage_bytes *s,
                                const struct pvalue *t, uint64_t used,
                                struct named_tensor *out, struct an_error *err)
{
        size_t esize = storage_dtype_size(t->storage->dtype);
        const uint8_t *data = NULL;
        uint8_t *owned = NULL;
        enum an_status st = named_tensor_alloc(out, err);
        if (st == AN_OK && used)
                st = storage_prefix(tf, s, used * esize, &data, &owned, err);
        if (st != AN_OK || !used)
                return st;
        if (is_contiguous(t)) {
                const uint8_t *p = data + (uint64_t)t->offset * esize;
                for (size_t i = 0; i < out->count; i++)
                        out->data[i] =
                                element(p + i * esize, t->storage->dtype);
        } else {
                for (size_t i = 0; i < out->count; i++) {
                        size_t rest = i;
                        uint64_t index = (uint64_t)t->offset;
                        for (int d = t->rank - 1; d >= 0; d--) {
                                index += rest % t->size[d] * t->stride[d];
                                rest /= t->size[d];
                        }
                        out->data[i] = element(data + index * esize,
                                               t->storage->dtype);
                }
        }
        free(owned);
        return AN_OK;
}

/* The state_dict's tensors other than integer counters (such as
 * num_batches_tracked), in order; NULL with err set if it is not one. */
static const struct pvalue *float_entries(const struct torch_file *tf,
                                          struct an_error *err)
{
        const struct pvalue *sd = state_dict_of(tf->root);
        if (!sd) {
                an_error_set(err, AN_E_FORMAT,
                             "the pickled object is not a state_dict");
                return NULL;
        }
        for (size_t i = 0; i + 1 < sd->n; i += 2)
                if (sd->items[i]->type != PV_STR ||
                    sd->items[i + 1]->type != PV_TENSOR) {
                        an_error_set(err, AN_E_FORMAT,
                                     "state_dict entry is not a named tensor");
                        return NULL;
                }
        return sd;
}

static bool is_counter(const struct pvalue *t)
{
        return t->storage->dtype == SD_I64;
}

/* Declares every tensor (shape only), infers the architecture, checks the
 * tensors against it, and only then reads them. */
static enum an_status collect_tensors(struct torch_file *tf,
                                      struct imported *im, struct an_error *err)
{
        const struct pvalue *sd = float_entries(tf, err);
        if (!sd)
                return err ? err->code : AN_E_FORMAT;
        size_t n = sd->n / 2;
        uint64_t *used = calloc(n + 1, sizeof *used);
        if (!used)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        enum an_status st = AN_OK;
        for (size_t i = 0; st == AN_OK && i < n; i++) {
                const struct pvalue *k = sd->items[2 * i],
                                    *t = sd->items[2 * i + 1];
                if (is_counter(t))
                        continue;
                const struct storage_bytes *s =
                        find_storage(tf, t->storage->str);
                st = s ? check_view(s, k->str, t, &used[i], err)
                       : an_error_set(err, AN_E_FORMAT,
                                      "tensor %s: storage missing", k->str);
                if (st == AN_OK && !tensor_set_declare(&im->tensors, k->str,
                                                       t->rank, t->size, err))
                        st = err ? err->code : AN_E_FORMAT;
        }
        if (st == AN_OK)
                st = arch_from_state_dict(&im->arch, &im->tensors, err);
        if (st == AN_OK)
                st = imported_check_shapes(&im->arch, &im->tensors, err);
        for (size_t i = 0, j = 0; st == AN_OK && i < n; i++) {
                const struct pvalue *t = sd->items[2 * i + 1];
                if (!is_counter(t))
                        st = read_view(tf, find_storage(tf, t->storage->str), t,
                                       used[i], &im->tensors.items[j++], err);
        }
        free(used);
        return st;
}

enum an_status import_torch(struct imported *im, const char *path,
                            struct an_error *err)
{
        uint8_t *data;
        size_t size;
        memset(im, 0, sizeof *im);
        enum an_status st =
                file_read_whole(path, MAX_TORCH_FILE, &data, &size, err);
        if (st != AN_OK)
                return st;
        struct torch_file tf = {0};
        if (size >= 4 && !memcmp(data, "PK\3\4", 4))
                st = read_zip(&tf, data, size, err);
        else
                st = read_legacy(&tf, data, size, err);
        if (st == AN_OK)
                st = collect_tensors(&tf, im, err);
        torch_file_free(&tf);
        free(data);
        im->pre = preprocess_torchvision(256);
        snprintf(im->source, sizeof im->source, "torch");
        if (st != AN_OK)
                imported_free(im);
        return st;
}
