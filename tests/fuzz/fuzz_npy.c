/* NumPy .npy matrices (predict --index): magic, versions, the header's
 * dict, shape against the data; then the rows' lengths and a search of
 * the first row among them, as predict does. */
#include <stdlib.h>

#include "formats/npy.h"
#include "fuzz.h"
#include "search/neighbours.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *path = fuzz_file(0, data, size);
        struct npy_matrix m;
        if (!path || npy_open(&m, path, NULL) != AN_OK)
                return 0;
        struct vector_set s;
        if (m.rows && m.rows * m.cols <= (1u << 20) &&
            vector_set_init(&s, m.data, m.rows, m.cols, NULL) == AN_OK) {
                struct neighbour best[3];
                nearest(&s, m.data, 1, METRIC_COSINE, 3, best, NULL);
                vector_set_free(&s);
        }
        npy_close(&m);
        return 0;
}
