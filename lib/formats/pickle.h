/* A restricted unpickler for PyTorch state_dicts.
 *
 * It understands the opcodes torch.save emits for a state_dict (protocols
 * 2-5) and builds plain values: None, bools, ints, floats, strings,
 * tuples/lists, dicts, persistent storage references and tensors.  It never
 * imports or calls anything: the only globals it accepts are
 * collections.OrderedDict, torch._utils._rebuild_tensor(_v2) and the
 * torch.*Storage types, and REDUCE on them is interpreted here (an
 * OrderedDict becomes a dict, a tensor rebuild becomes a tensor
 * description).  Any other global, opcode or construct is refused with a
 * message naming it, so a hostile pickle cannot run code. */
#ifndef ALEXNET_PICKLE_H
#define ALEXNET_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"

enum pv_type {
        PV_NONE,
        PV_BOOL,
        PV_INT,
        PV_BIGINT, /* LONG1/LONG4 wider than 64 bits: raw bytes in str */
        PV_FLOAT,
        PV_STR, /* text or bytes */
        PV_TUPLE,
        PV_LIST,
        PV_DICT,    /* items are key, value, key, value, ... */
        PV_GLOBAL,  /* an accepted global, str holds "module.name" */
        PV_STORAGE, /* a persistent storage reference */
        PV_TENSOR,
        PV_MARK,
};

enum storage_dtype { SD_F32, SD_F16, SD_BF16, SD_F64, SD_I64 };

struct pvalue {
        enum pv_type type;
        int64_t i;
        double f;
        char *str;
        size_t len;
        struct pvalue **items;
        size_t n, cap;
        /* PV_STORAGE: dtype, key (in str), numel (in i) */
        enum storage_dtype dtype;
        /* PV_TENSOR: its storage, offset, sizes and strides */
        struct pvalue *storage;
        int64_t offset;
        int rank;
        int64_t size[8], stride[8];
};

struct pickle {
        struct pvalue **all; /* every value made, freed together */
        size_t n_all, cap_all;
        size_t consumed; /* bytes read by the last pickle_load */
};

/* Unpickles one object from data[0..size); *out points into p's values. */
enum an_status pickle_load(struct pickle *p, const uint8_t *data, size_t size,
                           struct pvalue **out, struct an_error *err);
void pickle_free(struct pickle *p);

size_t storage_dtype_size(enum storage_dtype d);

#endif
