/* same_weights A B: exit 0 when the model files A and B hold bit-identical
 * parameters (metadata such as training time may differ), 1 otherwise.
 * A helper for the shell tests. */
#include <stdio.h>
#include <string.h>

#include "model/model.h"

int main(int argc, char **argv)
{
        struct model a, b;
        struct an_error err;
        if (argc != 3)
                return 2;
        if (model_open(&a, argv[1], &err) != AN_OK ||
            model_own_params(&a, &err) != AN_OK) {
                fprintf(stderr, "%s: %s\n", argv[1], err.message);
                return 2;
        }
        if (model_open(&b, argv[2], &err) != AN_OK ||
            model_own_params(&b, &err) != AN_OK) {
                fprintf(stderr, "%s: %s\n", argv[2], err.message);
                return 2;
        }
        size_t n = model_param_count(&a);
        int same = n == model_param_count(&b) &&
                   !memcmp(a.owned_params, b.owned_params, n * sizeof(float));
        if (!same)
                fprintf(stderr, "%s and %s differ\n", argv[1], argv[2]);
        model_close(&a);
        model_close(&b);
        return same ? 0 : 1;
}
