/* predict --eval DIR --confusion FILE.png: the confusion matrix as a heat
 * map.  Rows: the folder's classes (their names); columns: the model's
 * outputs that are a folder's class or were predicted at least once (its
 * labels), in output order, so that a few folders under a 1000-class
 * model stay readable.  A cell's colour is its share of its row's
 * images (the row's recall on the diagonal), its number the count. */
#ifndef ALEXNET_PREDICT_CONFUSION_H
#define ALEXNET_PREDICT_CONFUSION_H

#include "data/dataset.h"
#include "model/classify.h"

/* index[c]: the output of folder class c.  labels: the model's, or NULL.
 * False, reported. */
bool draw_confusion(const struct accuracy *t, const struct dataset *d,
                    const int *index, char *const *labels, const char *png);

#endif
