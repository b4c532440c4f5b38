#include "predict_confusion.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "draw/heatmap.h"

/* The outputs shown as columns: [n], in output order. */
static int *shown_outputs(const struct accuracy *t, const struct dataset *d,
                          const int *index, int *n)
{
        bool *shown = calloc((size_t)t->classes, sizeof *shown);
        int *columns = malloc((size_t)t->classes * sizeof *columns);
        if (!shown || !columns) {
                free(shown);
                free(columns);
                return NULL;
        }
        for (int c = 0; c < d->n_classes; c++) {
                shown[index[c]] = true;
                for (int p = 0; p < t->classes; p++)
                        shown[p] |= t->confusion[(size_t)index[c] * t->classes +
                                                 p] > 0;
        }
        *n = 0;
        for (int p = 0; p < t->classes; p++)
                if (shown[p])
                        columns[(*n)++] = p;
        free(shown);
        return columns;
}

bool draw_confusion(const struct accuracy *t, const struct dataset *d,
                    const int *index, char *const *labels, const char *png)
{
        int cols = 0, rows = d->n_classes;
        int *columns = shown_outputs(t, d, index, &cols);
        size_t cells = (size_t)rows * (cols ? cols : 1);
        double *share = malloc(cells * sizeof *share);
        long *counts = malloc(cells * sizeof *counts);
        char **names = calloc((size_t)(cols ? cols : 1), sizeof *names);
        char(*numbers)[16] =
                malloc((size_t)(cols ? cols : 1) * sizeof *numbers);
        bool ok = columns && share && counts && names && numbers;
        for (int k = 0; ok && k < cols; k++) {
                snprintf(numbers[k], sizeof numbers[k], "%d", columns[k]);
                names[k] = labels ? labels[columns[k]] : numbers[k];
        }
        for (int r = 0; ok && r < rows; r++) {
                const size_t *row =
                        t->confusion + (size_t)index[r] * t->classes;
                size_t total = 0;
                for (int p = 0; p < t->classes; p++)
                        total += row[p];
                for (int k = 0; k < cols; k++) {
                        counts[(size_t)r * cols + k] = (long)row[columns[k]];
                        share[(size_t)r * cols + k] =
                                total ? (double)row[columns[k]] / total : 0;
                }
        }
        struct an_error err;
        if (!ok)
                report("predict", "out of memory");
        else {
                struct matrix_chart m = {share,
                                         counts,
                                         rows,
                                         cols,
                                         d->class_names,
                                         names,
                                         "confusion matrix",
                                         "true class (folder)",
                                         "predicted"};
                ok = draw_matrix(&m, png, NULL, &err) == AN_OK;
                if (!ok)
                        report(png, "%s", err.message);
        }
        free(columns);
        free(share);
        free(counts);
        free(names);
        free(numbers);
        return ok;
}
