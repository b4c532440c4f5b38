/* A whole model file as `alexnet predict -m` opens it: the safetensors
 * container plus the metadata (format, architecture JSON, preprocessing,
 * labels) and the check of every parameter tensor against the layers. */
#include "fuzz.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *path = fuzz_file(0, data, size);
        struct model m;
        if (path && model_open(&m, path, NULL) == AN_OK)
                model_close(&m);
        return 0;
}
