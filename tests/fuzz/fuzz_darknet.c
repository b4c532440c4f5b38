/* darknet's .cfg and .weights together.  The input is the cfg text, a NUL
 * byte, then the weights (no NUL: all of it is cfg and no weights). */
#include <string.h>

#include "fuzz.h"
#include "convert/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *nul = memchr(data, 0, size);
        size_t cfg_size = nul ? (size_t)(nul - data) : size;
        size_t weights_at = nul ? cfg_size + 1 : size;
        const char *cfg = fuzz_file(0, data, cfg_size);
        const char *weights =
                fuzz_file(1, data + weights_at, size - weights_at);
        struct imported im;
        if (cfg && weights && import_darknet(&im, cfg, weights, NULL) == AN_OK)
                imported_free(&im);
        return 0;
}
