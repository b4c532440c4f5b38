/* predict --eval DATADIR: accuracy on a labelled image folder instead of
 * records. */
#ifndef ALEXNET_PREDICT_EVAL_H
#define ALEXNET_PREDICT_EVAL_H

#include <stdbool.h>

#include "data/dataset.h"
#include "model/model.h"
#include "train/comm.h"
#include "predict_pipeline.h"
#include "predict_records.h"

/* The images of the labelled folder d this process evaluates: all, or
 * under mpirun every size-th from its rank on. */
struct eval_part {
        char **paths;
        int *labels;
        size_t n;
};
bool eval_part_init(struct eval_part *part, const struct dataset *d,
                    const struct comm *c);
void eval_part_free(struct eval_part *part);

/* Classifies the images of part (fed to p in its order) and prints the
 * accuracy of the whole folder d, per-class accuracy and the confusion
 * matrix, as text, TSV (one line a class folder, then "*" for all) or one
 * JSON document: the processes' counts are summed and process 0 prints.
 * Class folders are matched to the model's outputs by label name (or by
 * position for a model without labels).  dir names d in messages.
 * With confusion, process 0 also draws the confusion matrix into that PNG
 * (predict_confusion.h).
 * Returns the exit status (the same on every process). */
int evaluate_folder(struct model *m, struct pipeline *p,
                    const struct dataset *d, const struct eval_part *part,
                    const struct comm *c, const char *dir,
                    enum record_format format, bool header,
                    const char *confusion);

#endif
