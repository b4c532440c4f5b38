/* Validation during training: loss, top-1 and top-5 of the current
 * weights on a split, without dropout or augmentation (the centre crop),
 * counted by the rule predict --eval uses (classify.h). */
#ifndef ALEXNET_EVALUATE_H
#define ALEXNET_EVALUATE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errors.h"
#include "data/loader.h"
#include "train/comm.h"
#include "train/trainer.h"

struct eval_result {
        size_t images; /* readable images evaluated */
        double loss, top1, top5;
};

/* Buffers for a batch of l->batch: x, labels, ok and probs (classes per
 * sample), as loader_fill and trainer_evaluate take them. */
struct eval_buffers {
        float *x, *probs;
        int *labels;
        bool *ok;
};

/* Every image of l->split in split order, l->batch at a time (l->augment
 * should be AUGMENT_NONE).  With several processes (l->ranks > 1) each
 * evaluates its part and the counts are summed across them by c, so that
 * every process gets the whole split's result. */
enum an_status evaluate_split(struct trainer *t, const struct loader *l,
                              const struct comm *c,
                              const struct eval_buffers *buf,
                              struct eval_result *r, struct an_error *err);

#endif
