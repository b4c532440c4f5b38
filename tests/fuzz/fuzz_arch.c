/* The architecture JSON of a model file's metadata, then the shape
 * inference and parameter/multiply-add counts that inspect prints. */
#include <jansson.h>
#include <stdlib.h>

#include "model/arch.h"
#include "fuzz.h"

static void walk_shapes(const struct arch *a)
{
        struct shape *shapes =
                malloc(sizeof *shapes * ((size_t)a->n_layers + 1));
        if (shapes && arch_shapes(a, shapes, NULL) == AN_OK)
                for (int i = 0; i < a->n_layers; i++) {
                        layer_param_count(&a->layers[i], shapes[i]);
                        layer_macs(&a->layers[i], shapes[i], shapes[i + 1]);
                }
        free(shapes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
                               NULL);
        if (!j)
                return 0;
        struct arch a;
        if (arch_from_json(&a, j, NULL) == AN_OK) {
                walk_shapes(&a);
                json_t *back = arch_to_json(&a);
                json_decref(back);
                arch_free(&a);
        }
        json_decref(j);
        return 0;
}
