/* predict's two-stage pipeline: a decoding thread reads paths, decodes and
 * preprocesses a batch of images while the caller runs the network on the
 * previous batch.  Two batches circulate between the stages, so memory is
 * bounded whatever the number of inputs, and records come out in input
 * order. */
#ifndef ALEXNET_PIPELINE_H
#define ALEXNET_PIPELINE_H

#include <pthread.h>
#include <stdbool.h>

#include "image.h"
#include "paths.h"
#include "transform.h"

struct batch {
        int n;          /* inputs in this batch */
        int decoded;    /* of which decoded: their tensors come first */
        char **paths;   /* [capacity] */
        char **errors;  /* [capacity]: NULL, or why the input failed */
        int *slot;      /* [capacity]: tensor index, or -1 */
        float *input;   /* [capacity * crops][C][H][W] */
        bool last;      /* no batch follows */
        int read_errno; /* reading the path list failed after this batch */
};

struct pipeline {
        struct path_source *source;
        const struct preprocess *pre;
        struct shape input;
        struct image_options image;
        int capacity, crops;

        struct batch batches[2];
        bool ready[2];
        bool stop;
        int take_next; /* the batch pipeline_next returns next */
        pthread_mutex_t lock;
        pthread_cond_t changed;
        pthread_t decoder;
};

/* Allocates the batches and starts the decoding thread. */
bool pipeline_start(struct pipeline *p);
/* The next decoded batch, in order (possibly empty); the one with `last`
 * set ends the stream. */
struct batch *pipeline_next(struct pipeline *p);
/* Hands a batch back for refilling. */
void pipeline_release(struct pipeline *p, struct batch *b);
/* Stops the decoder (early or at the end) and frees everything. */
void pipeline_finish(struct pipeline *p);

#endif
