/* Shared by predict.c and evaluate.c. */
#ifndef ALEXNET_PREDICT_H
#define ALEXNET_PREDICT_H

#include <stdbool.h>

#include "data/dataset.h"
#include "model/model.h"
#include "pipeline.h"
#include "records.h"

struct predict_options {
        const char *model;
        int top, batch, threads, crops;
        enum record_format format;
        long shard, shards;
        bool nul, header;
        double max_megapixels;
        const char *eval; /* --eval DATADIR */
        enum gemm_precision precision;
};

/* Runs the decoded images of b through the model into probs; reports a
 * failure and returns false. */
bool classify_pipeline_batch(struct model *m, const struct batch *b, int crops,
                             float *probs);

/* --eval: classifies every image of the labelled folder d (fed to p in
 * d's order) and prints accuracy, per-class accuracy and the confusion
 * matrix.  Returns the exit status. */
int evaluate_folder(struct model *m, struct pipeline *p,
                    const struct dataset *d, const struct predict_options *o);

#endif
