/* predict --eval DATADIR: accuracy on a labelled image folder instead of
 * records. */
#ifndef ALEXNET_PREDICT_EVAL_H
#define ALEXNET_PREDICT_EVAL_H

#include <stdbool.h>

#include "data/dataset.h"
#include "model/model.h"
#include "predict_pipeline.h"

/* Classifies every image of the labelled folder d (fed to p in d's order)
 * and prints accuracy, per-class accuracy and the confusion matrix, as
 * text or one JSON document.  dir names d in messages.  Returns the exit
 * status. */
int evaluate_folder(struct model *m, struct pipeline *p,
                    const struct dataset *d, const char *dir, bool json);

#endif
