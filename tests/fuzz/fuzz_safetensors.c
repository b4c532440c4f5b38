/* The safetensors container: header JSON, dtypes, shapes, offsets; then
 * every float tensor widened to float32. */
#include <stdlib.h>

#include "fuzz.h"
#include "formats/safetensors.h"

static void widen_all(const struct st_file *f)
{
        for (size_t i = 0; i < f->n_tensors; i++) {
                const struct st_tensor *t = &f->tensors[i];
                if (t->count > (1u << 20))
                        continue;
                float *out = malloc(sizeof(float) * (t->count ? t->count : 1));
                if (out)
                        st_tensor_to_f32(t, out, NULL);
                free(out);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct st_file f;
        if (st_parse(&f, data, size, NULL) != AN_OK)
                return 0;
        widen_all(&f);
        st_metadata(&f, "architecture");
        st_close(&f);
        return 0;
}
