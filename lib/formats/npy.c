#include "formats/npy.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MAGIC[6] = "\x93NUMPY";

void npy_header(char *buf, size_t rows, size_t cols)
{
        enum { PREAMBLE = 10 };
        char dict[NPY_HEADER_BYTES];
        int n = snprintf(dict, sizeof dict,
                         "{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (%zu, %zu), }",
                         rows, cols);
        memcpy(buf, MAGIC, sizeof MAGIC);
        buf[6] = 1; /* version 1.0 */
        buf[7] = 0;
        size_t length = NPY_HEADER_BYTES - PREAMBLE;
        buf[8] = (char)(length & 0xff);
        buf[9] = (char)(length >> 8);
        memset(buf + PREAMBLE, ' ', length);
        memcpy(buf + PREAMBLE, dict, (size_t)n);
        buf[NPY_HEADER_BYTES - 1] = '\n';
}

/* The value after 'key': in the dict text (NULL if absent). */
static const char *value_of(const char *dict, const char *key)
{
        char quoted[32];
        snprintf(quoted, sizeof quoted, "'%s'", key);
        const char *p = strstr(dict, quoted);
        if (!p)
                return NULL;
        p += strlen(quoted);
        while (isspace((unsigned char)*p))
                p++;
        if (*p++ != ':')
                return NULL;
        while (isspace((unsigned char)*p))
                p++;
        return p;
}

/* "(R, C)", "(R,)" or "(R, C,)" into dims; the number of dimensions, or
 * -1. */
static int parse_shape(const char *p, size_t dims[2])
{
        if (!p || *p++ != '(')
                return -1;
        int n = 0;
        for (;;) {
                while (isspace((unsigned char)*p))
                        p++;
                if (*p == ')')
                        return n;
                if (!isdigit((unsigned char)*p) || n == 2)
                        return -1;
                errno = 0;
                char *end;
                unsigned long long v = strtoull(p, &end, 10);
                if (errno || v > SIZE_MAX)
                        return -1;
                dims[n++] = (size_t)v;
                p = end;
                while (isspace((unsigned char)*p))
                        p++;
                if (*p == ',')
                        p++;
                else if (*p != ')')
                        return -1;
        }
}

static enum an_status parse_header(struct npy_matrix *m, const uint8_t *d,
                                   size_t size, struct an_error *err)
{
        if (size < 10 || memcmp(d, MAGIC, sizeof MAGIC))
                return an_error_set(err, AN_E_FORMAT, "not a NumPy .npy file");
        int major = d[6];
        size_t length, start;
        if (major == 1) {
                length = d[8] | (size_t)d[9] << 8;
                start = 10;
        } else if ((major == 2 || major == 3) && size >= 12) {
                length = d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 |
                         (size_t)d[11] << 24;
                start = 12;
        } else
                return an_error_set(err, AN_E_UNSUPPORTED,
                                    ".npy version %d is not supported", major);
        if (length > size - start || length > 65536)
                return an_error_set(err, AN_E_FORMAT,
                                    "its header runs past the end");
        char *dict = strndup((const char *)d + start, length);
        if (!dict)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        const char *descr = value_of(dict, "descr");
        const char *order = value_of(dict, "fortran_order");
        size_t dims[2] = {0, 1};
        int n = parse_shape(value_of(dict, "shape"), dims);
        enum an_status st = AN_OK;
        if (!descr || strncmp(descr, "'<f4'", 5))
                st = an_error_set(err, AN_E_UNSUPPORTED,
                                  "holds no float32 values (little-endian "
                                  "'<f4' is the one type read)");
        else if (!order || strncmp(order, "False", 5))
                st = an_error_set(err, AN_E_UNSUPPORTED,
                                  "is in Fortran order (save it with "
                                  "np.ascontiguousarray)");
        else if (n < 1)
                st = an_error_set(err, AN_E_FORMAT,
                                  "its shape is not a matrix of rows");
        free(dict);
        if (st != AN_OK)
                return st;
        if (n == 1) /* one vector */
                dims[1] = dims[0], dims[0] = 1;
        size_t data = size - start - length;
        if (dims[1] == 0 || dims[0] > data / dims[1] / sizeof(float) ||
            dims[0] * dims[1] * sizeof(float) != data)
                return an_error_set(err, AN_E_FORMAT,
                                    "holds %zu bytes of data, not the %zu x "
                                    "%zu floats its header gives",
                                    data, dims[0], dims[1]);
        if ((start + length) % sizeof(float))
                return an_error_set(err, AN_E_FORMAT,
                                    "its data is not aligned");
        m->rows = dims[0];
        m->cols = dims[1];
        m->data = (const float *)(d + start + length);
        return AN_OK;
}

enum an_status npy_open(struct npy_matrix *m, const char *path,
                        struct an_error *err)
{
        memset(m, 0, sizeof *m);
        enum an_status st = mapped_file_open(&m->map, path, err);
        if (st != AN_OK)
                return st;
        st = parse_header(m, m->map.data, m->map.size, err);
        if (st != AN_OK)
                npy_close(m);
        return st;
}

void npy_close(struct npy_matrix *m)
{
        mapped_file_close(&m->map);
        memset(m, 0, sizeof *m);
}
