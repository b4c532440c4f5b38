/* The restricted unpickler on its own (PyTorch's data.pkl). */
#include "fuzz.h"
#include "formats/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct pickle p = {0};
        struct pvalue *v;
        pickle_load(&p, data, size, &v, NULL);
        pickle_free(&p);
        return 0;
}
