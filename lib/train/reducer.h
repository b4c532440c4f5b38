/* A step's parameter gradients summed across the processes while backward
 * goes on.  The trainer posts each layer's gradient as soon as backward has
 * written it (fc8 first: the fully connected layers hold most of the bytes
 * and finish first); a thread of the reducer's own hands the slices, in
 * posting order, to the allreduce, so that their traffic overlaps the
 * backward of the layers below; the step waits for all before it updates
 * the weights.
 *
 *     grad_reducer_open(&r, &comm, n_params, bf16, &err);
 *     grad_reducer_post(&r, dw, n);        // per layer, during backward
 *     grad_reducer_wait(&r, &err);         // before the update
 *     grad_reducer_close(&r);
 *
 * Every process posts the same slices in the same order.  When MPI cannot
 * be called from a second thread, the slices are summed in the wait. */
#ifndef ALEXNET_REDUCER_H
#define ALEXNET_REDUCER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "train/comm.h"

struct reducer_slice {
        float *data;
        size_t n;
};

struct grad_reducer {
        const struct comm *comm;
        uint16_t *scratch; /* bfloat16 staging, or NULL: float32 */
        struct reducer_slice *slices;
        int capacity, posted, done;
        bool quit, threaded;
        enum an_status status; /* of the first failed sum */
        struct an_error err;
        pthread_mutex_t lock;
        pthread_cond_t changed;
        pthread_t thread;
        /* Seconds inside the allreduce, and of those the step spent
         * waiting (the rest was hidden behind backward); summed over
         * steps, for benchmarks. */
        double busy_seconds, exposed_seconds;
};

/* For steps of up to max_slices posts over n_params gradients. */
enum an_status grad_reducer_open(struct grad_reducer *r, const struct comm *c,
                                 size_t n_params, int max_slices, bool bf16,
                                 struct an_error *err);
void grad_reducer_post(struct grad_reducer *r, float *data, size_t n);
/* Until every posted slice holds the sum; then the next step may post. */
enum an_status grad_reducer_wait(struct grad_reducer *r, struct an_error *err);
void grad_reducer_close(struct grad_reducer *r);

#endif
