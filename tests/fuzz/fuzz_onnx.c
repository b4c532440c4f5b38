/* An ONNX model (protobuf-c) as `alexnet convert` reads it: the graph,
 * initializers and the mapping of nodes onto layers. */
#include "fuzz.h"
#include "convert/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *path = fuzz_file(0, data, size);
        struct imported im;
        if (path && import_onnx(&im, path, NULL) == AN_OK)
                imported_free(&im);
        return 0;
}
