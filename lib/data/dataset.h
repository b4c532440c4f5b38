/* Labelled image folders (the ImageFolder layout): DIR/CLASS/IMAGE, one
 * sub-folder per class, class indices from the sorted folder names, images
 * (.jpg, .jpeg, .png, any case) sorted by name within each class. */
#ifndef ALEXNET_DATASET_H
#define ALEXNET_DATASET_H

#include <stddef.h>

#include "base/errors.h"

struct dataset {
        int n_classes;
        char **class_names; /* [n_classes] */
        size_t n;
        char **paths; /* [n] */
        int *labels;  /* [n] */
};

enum an_status dataset_scan(struct dataset *d, const char *dir,
                            struct an_error *err);
void dataset_free(struct dataset *d);

#endif
