/* A PyTorch .pth file as `alexnet convert` reads it: the zip container
 * (libzip) or the legacy tar-less format, the pickle, the storages and
 * the inference of the architecture from the state_dict. */
#include "fuzz.h"
#include "convert/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *path = fuzz_file(0, data, size);
        struct imported im;
        if (path && import_torch(&im, path, NULL) == AN_OK)
                imported_free(&im);
        return 0;
}
