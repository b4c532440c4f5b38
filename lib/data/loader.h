/* A labelled image folder as a model's training batches.
 *
 *     struct image_store store;    // the images, resized for the model
 *     struct split train;          // which of them train (or validate)
 *     struct loader l = {&store, &train, batch, AUGMENT_PAPER, &pca, seed};
 *     split_shuffle(&train, seed, epoch, order);
 *     for (int step = 0; step < loader_steps(&l); step++)
 *             n = loader_fill(&l, order, epoch, step, x, labels, ids, ok,
 *                             0);
 *
 * A batch is a pure function of (seed, epoch, step): the order comes from
 * the seeded generator and every augmentation draw is keyed by (seed,
 * epoch, sample), so whether images are cached, prefetched or decoded on
 * any number of threads changes nothing, and a resumed run sees the
 * batches an uninterrupted one would.
 *
 * In a run of several processes (ranks > 1) a step's global batch is
 * ranks * batch samples of the one epoch order, and process `rank` takes
 * its consecutive part: the processes together see what one process with
 * ranks * batch would, and all have the same number of steps (in the
 * last, short one some may have fewer samples or none). */
#ifndef ALEXNET_LOADER_H
#define ALEXNET_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "base/shape.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "image/image.h"
#include "image/transform.h"

/* Told once about each image that cannot be read (it is skipped). */
typedef void (*unreadable_fn)(void *ctx, const char *path, const char *message);

/* The images of a dataset resized so that their shorter side is the
 * preprocessing's resize size: all decoded once and kept (resident), or
 * decoded again each time they are used. */
struct image_store {
        const struct dataset *d;
        struct preprocess pre;
        struct shape input;
        bool resident;
        bool reduced_jpeg;    /* see image_options */
        struct image *images; /* resident: width 0 if unreadable */
        char *bad;            /* [n]: failures seen so far */
        size_t n;
        unreadable_fn on_unreadable;
        void *ctx;
};

/* Decodes every image now when resident (on all cores). */
enum an_status image_store_init(struct image_store *s, const struct dataset *d,
                                const struct preprocess *pre,
                                struct shape input, bool resident,
                                bool reduced_jpeg, unreadable_fn on_unreadable,
                                void *ctx, struct an_error *err);
void image_store_free(struct image_store *s);

/* Image i: the resident copy, or decoded into tmp (image_free it after);
 * NULL if it cannot be read. */
const struct image *image_store_get(const struct image_store *s, size_t i,
                                    struct image *tmp);

/* The items of a store a run uses, in store order. */
struct split {
        size_t *index;
        size_t n;
};

/* The images of s, minus (held_out false) or only (true) a seeded fraction
 * held out for validation; resident images known to be unreadable are
 * left out. */
enum an_status split_init(struct split *sp, const struct image_store *s,
                          double fraction, bool held_out, uint64_t seed,
                          struct an_error *err);
void split_free(struct split *sp);

/* The order of epoch `epoch` (sp->n items): a Fisher-Yates shuffle from
 * the seeded generator. */
void split_shuffle(const struct split *sp, uint64_t seed, int epoch,
                   size_t *order);

/* How batches are made. */
struct loader {
        const struct image_store *store;
        const struct split *split;
        int batch;
        enum augment_mode augment;
        const struct colour_pca *pca; /* AUGMENT_PAPER only */
        uint64_t seed;
        int ranks, rank; /* processes sharing each step (0 means 1), and
                          * which of them this is */
};

/* Steps an epoch has: the last may be short. */
int loader_steps(const struct loader *l);

/* This process's part of step `step` of an epoch taken in `order`: the
 * network inputs, labels and ids (the images' indices in the store; may
 * be NULL) of its readable images, compacted to the front; returns how
 * many.  x holds l->batch samples, labels, ids and ok l->batch entries.
 * threads: how many decode (0: all cores). */
int loader_fill(const struct loader *l, const size_t *order, int epoch,
                int step, float *x, int *labels, size_t *ids, bool *ok,
                int threads);

/* The colour PCA of the training pixels, over a spread sample of up to
 * 1000 images of the split. */
enum an_status loader_fit_pca(const struct image_store *s,
                              const struct split *sp, struct colour_pca *pca,
                              struct an_error *err);

#endif
