/* predict's batches: paths read a batch at a time, then decoded and
 * preprocessed on every core at once (one image a thread), then the
 * network runs on them with the same cores.  One batch is in memory at a
 * time, so memory is bounded whatever the number of inputs, and records
 * come out in input order. */
#ifndef ALEXNET_PIPELINE_H
#define ALEXNET_PIPELINE_H

#include <stdbool.h>

#include "image/image.h"
#include "predict_paths.h"
#include "image/transform.h"
#include "model/model.h"

struct batch {
        int n;          /* inputs in this batch */
        int decoded;    /* of which decoded: their tensors come first */
        char **paths;   /* [capacity] */
        char **errors;  /* [capacity]: NULL, or why the input failed */
        bool *ok;       /* [capacity]: decoded */
        int *slot;      /* [capacity]: tensor index, or -1 */
        float *input;   /* [capacity * crops][C][H][W] */
        bool last;      /* no batch follows */
        int read_errno; /* reading the path list failed after this batch */
};

struct pipeline {
        struct path_source *source;
        struct model *model;
        const char *model_path; /* for messages */
        const struct preprocess *pre;
        struct shape input;
        struct image_options image;
        int capacity, crops;

        struct batch batch;
};

/* Allocates the batch. */
bool pipeline_init(struct pipeline *p);
/* The next batch, read and decoded now, in order (possibly empty); the
 * one with `last` set ends the stream, and is the last to ask for.  Valid
 * until the next call. */
struct batch *pipeline_next(struct pipeline *p);
/* Frees everything. */
void pipeline_free(struct pipeline *p);

/* Runs b's decoded images through the model into probs[decoded][classes]
 * (softmax averaged over the crops); reports a failure (also a model file
 * that changed under us, which makes these results unreliable) and
 * returns false. */
bool pipeline_classify(const struct pipeline *p, const struct batch *b,
                       float *probs);

#endif
