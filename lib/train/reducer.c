#include "train/reducer.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Sums one slice across the processes; the first failure is kept. */
static void sum_slice(struct grad_reducer *r, const struct reducer_slice *s)
{
        struct an_error err;
        double start = now();
        enum an_status st =
                comm_sum_floats(r->comm, s->data, s->n, r->scratch, &err);
        double spent = now() - start;
        pthread_mutex_lock(&r->lock);
        r->busy_seconds += spent;
        if (st != AN_OK && r->status == AN_OK) {
                r->status = st;
                r->err = err;
        }
        pthread_mutex_unlock(&r->lock);
}

/* The reducer's thread: the posted slices in order, until closed. */
static void *reduce_posted(void *arg)
{
        struct grad_reducer *r = arg;
        pthread_mutex_lock(&r->lock);
        for (;;) {
                while (!r->quit && r->done == r->posted)
                        pthread_cond_wait(&r->changed, &r->lock);
                if (r->done == r->posted) /* and quit */
                        break;
                struct reducer_slice s = r->slices[r->done];
                pthread_mutex_unlock(&r->lock);
                sum_slice(r, &s);
                pthread_mutex_lock(&r->lock);
                r->done++;
                pthread_cond_broadcast(&r->changed);
        }
        pthread_mutex_unlock(&r->lock);
        return NULL;
}

enum an_status grad_reducer_open(struct grad_reducer *r, const struct comm *c,
                                 size_t n_params, int max_slices, bool bf16,
                                 struct an_error *err)
{
        memset(r, 0, sizeof *r);
        r->comm = c;
        r->capacity = max_slices;
        r->slices = calloc(max_slices + 1, sizeof *r->slices);
        if (bf16)
                r->scratch = malloc((n_params + 1) * sizeof *r->scratch);
        if (!r->slices || (bf16 && !r->scratch)) {
                free(r->slices);
                free(r->scratch);
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        }
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->changed, NULL);
        r->threaded = c->threads && c->size > 1 &&
                      pthread_create(&r->thread, NULL, reduce_posted, r) == 0;
        return AN_OK;
}

void grad_reducer_post(struct grad_reducer *r, float *data, size_t n)
{
        pthread_mutex_lock(&r->lock);
        if (r->posted < r->capacity) {
                r->slices[r->posted++] = (struct reducer_slice){data, n};
                pthread_cond_broadcast(&r->changed);
        } else if (r->status == AN_OK) {
                r->status = an_error_set(&r->err, AN_E_INVALID,
                                         "more than %d gradient slices in a "
                                         "step",
                                         r->capacity);
        }
        pthread_mutex_unlock(&r->lock);
}

enum an_status grad_reducer_wait(struct grad_reducer *r, struct an_error *err)
{
        double start = now();
        if (r->threaded) {
                pthread_mutex_lock(&r->lock);
                while (r->done < r->posted)
                        pthread_cond_wait(&r->changed, &r->lock);
                pthread_mutex_unlock(&r->lock);
        } else {
                for (; r->done < r->posted; r->done++)
                        sum_slice(r, &r->slices[r->done]);
        }
        r->exposed_seconds += now() - start;
        r->posted = r->done = 0;
        enum an_status st = r->status;
        if (st != AN_OK && err)
                *err = r->err;
        r->status = AN_OK;
        return st;
}

void grad_reducer_close(struct grad_reducer *r)
{
        if (!r->slices)
                return;
        if (r->threaded) {
                pthread_mutex_lock(&r->lock);
                r->quit = true;
                pthread_cond_broadcast(&r->changed);
                pthread_mutex_unlock(&r->lock);
                pthread_join(r->thread, NULL);
        }
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->changed);
        free(r->slices);
        free(r->scratch);
        memset(r, 0, sizeof *r);
}
