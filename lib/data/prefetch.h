/* Batches prepared in the background: one thread decodes and augments the
 * batch after the one being trained on (two slots circulate), in the order
 * the steps will take them, while the network's OpenMP threads keep the
 * cores.  Batches depend only on (seed, epoch, step) (loader.h), so
 * prefetching changes nothing in what is trained on.
 *
 *     prefetch_start(&pf, &loader, first_epoch, first_step, epochs, &err);
 *     for (...) { const struct loaded_batch *b = prefetch_take(&pf);
 *                 ...train on b...; prefetch_release(&pf); }
 *     prefetch_stop(&pf);
 */
#ifndef ALEXNET_PREFETCH_H
#define ALEXNET_PREFETCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/errors.h"
#include "data/loader.h"

struct loaded_batch {
        int epoch, step;
        int count; /* samples in x and labels (unreadable images left out) */
        float *x;
        int *labels;
        size_t *ids; /* the samples' indices in the store */
        bool *ok;
        bool ready;
};

struct prefetch {
        const struct loader *loader;
        struct loaded_batch slots[2];
        size_t *order;
        int first_epoch, first_step, epochs;
        unsigned long taken;
        bool stop;
        pthread_mutex_t lock;
        pthread_cond_t changed;
        pthread_t thread;
        bool started;
};

/* Starts the thread on batches (first_epoch, first_step) onwards, up to
 * the end of epoch epochs - 1. */
enum an_status prefetch_start(struct prefetch *f, const struct loader *l,
                              int first_epoch, int first_step, int epochs,
                              struct an_error *err);

/* The next batch in step order, waiting for it; valid until
 * prefetch_release.  Take no more batches than were asked for. */
const struct loaded_batch *prefetch_take(struct prefetch *f);
void prefetch_release(struct prefetch *f);

/* Stops the thread (it may be mid-batch) and frees everything. */
void prefetch_stop(struct prefetch *f);

#endif
