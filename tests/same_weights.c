/* same_weights [-t TOL] A B: exit 0 when the model files A and B hold the
 * same parameters (metadata such as training time may differ), 1
 * otherwise: bit for bit, or with -t each within TOL * max(1, |a|) (the
 * largest difference is printed).  A helper for the shell tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

static bool open_owned(struct model *m, const char *path)
{
        struct an_error err;
        if (model_open(m, path, &err) != AN_OK)
                return fprintf(stderr, "%s: %s\n", path, err.message), false;
        if (model_own_params(m, &err) != AN_OK) {
                fprintf(stderr, "%s: %s\n", path, err.message);
                model_close(m);
                return false;
        }
        return true;
}

/* Whether every a[i] is within tol of b[i]; prints the largest gap. */
static bool within(const float *a, const float *b, size_t n, double tol)
{
        double worst = 0;
        bool ok = true;
        for (size_t i = 0; i < n; i++) {
                double gap = fabs((double)a[i] - b[i]);
                double scale = fabs(a[i]) > 1 ? fabs(a[i]) : 1;
                worst = gap / scale > worst ? gap / scale : worst;
                ok = ok && gap <= tol * scale;
        }
        printf("largest difference %.3g\n", worst);
        return ok;
}

int main(int argc, char **argv)
{
        double tol = -1;
        if (argc == 5 && !strcmp(argv[1], "-t")) {
                tol = atof(argv[2]);
                argv += 2;
                argc -= 2;
        }
        if (argc != 3)
                return 2;
        struct model a, b;
        if (!open_owned(&a, argv[1]))
                return 2;
        if (!open_owned(&b, argv[2])) {
                model_close(&a);
                return 2;
        }
        size_t n = model_param_count(&a);
        bool same = n == model_param_count(&b);
        if (same && tol >= 0)
                same = within(a.owned_params, b.owned_params, n, tol);
        else if (same)
                same = !memcmp(a.owned_params, b.owned_params,
                               n * sizeof(float));
        if (!same)
                fprintf(stderr, "%s and %s differ\n", argv[1], argv[2]);
        model_close(&a);
        model_close(&b);
        return same ? 0 : 1;
}
