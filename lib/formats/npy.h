/* NumPy's .npy format for a matrix of float32 rows (feature vectors):
 * a 6-byte magic "\x93NUMPY", a version, a little-endian header length,
 * a Python dict literal {'descr': '<f4', 'fortran_order': False,
 * 'shape': (rows, cols), } padded with spaces to a multiple of 64 bytes,
 * then the rows.  np.load() reads what npy_header writes; npy_open reads
 * what NumPy writes for such a matrix (versions 1 to 3), mapped in place.
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html */
#ifndef ALEXNET_NPY_H
#define ALEXNET_NPY_H

#include <stddef.h>

#include "base/errors.h"
#include "base/mapped_file.h"

/* The header npy_header writes is always this long, whatever the shape, so
 * that a writer can put a placeholder first and the real shape over it
 * once it knows the number of rows. */
enum { NPY_HEADER_BYTES = 128 };

/* Writes the header of a rows x cols float32 matrix into
 * buf[NPY_HEADER_BYTES]. */
void npy_header(char *buf, size_t rows, size_t cols);

struct npy_matrix {
        struct mapped_file map;
        const float *data; /* rows x cols, row-major, in the mapping */
        size_t rows, cols;
};

/* Maps path and checks its header: a 2-D (or 1-D: one row) little-endian
 * float32 array in C order whose data fits the file exactly. */
enum an_status npy_open(struct npy_matrix *m, const char *path,
                        struct an_error *err);
void npy_close(struct npy_matrix *m);

#endif
