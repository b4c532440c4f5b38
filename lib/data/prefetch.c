#include "data/prefetch.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static bool wait_for_free_slot(struct prefetch *f, struct loaded_batch *b)
{
        pthread_mutex_lock(&f->lock);
        while (b->ready && !f->stop)
                pthread_cond_wait(&f->changed, &f->lock);
        bool go = !f->stop;
        pthread_mutex_unlock(&f->lock);
        return go;
}

static void publish(struct prefetch *f, struct loaded_batch *b)
{
        pthread_mutex_lock(&f->lock);
        b->ready = true;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->lock);
}

static void *prefetch_main(void *arg)
{
        struct prefetch *f = arg;
        const struct loader *l = f->loader;
        unsigned long k = 0;
        omp_set_num_threads(1); /* resizing must not start a team */
        for (int epoch = f->first_epoch; epoch < f->epochs; epoch++) {
                split_shuffle(l->split, l->seed, epoch, f->order);
                int step0 = epoch == f->first_epoch ? f->first_step : 0;
                for (int step = step0; step < loader_steps(l); step++) {
                        struct loaded_batch *b = &f->slots[k++ % 2];
                        if (!wait_for_free_slot(f, b))
                                return NULL;
                        b->epoch = epoch;
                        b->step = step;
                        b->count = loader_fill(l, f->order, epoch, step, b->x,
                                               b->labels, b->ids, b->ok, 1);
                        publish(f, b);
                }
        }
        return NULL;
}

enum an_status prefetch_start(struct prefetch *f, const struct loader *l,
                              int first_epoch, int first_step, int epochs,
                              struct an_error *err)
{
        size_t sample = shape_count(l->store->input);
        memset(f, 0, sizeof *f);
        f->loader = l;
        f->first_epoch = first_epoch;
        f->first_step = first_step;
        f->epochs = epochs;
        f->order = malloc((l->split->n + 1) * sizeof *f->order);
        bool ok = f->order != NULL;
        for (int i = 0; i < 2; i++) {
                struct loaded_batch *b = &f->slots[i];
                b->x = malloc((size_t)l->batch * sample * sizeof *b->x);
                b->labels = malloc((size_t)l->batch * sizeof *b->labels);
                b->ids = malloc((size_t)l->batch * sizeof *b->ids);
                b->ok = malloc((size_t)l->batch * sizeof *b->ok);
                ok = ok && b->x && b->labels && b->ids && b->ok;
        }
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->changed, NULL);
        f->started =
                ok && pthread_create(&f->thread, NULL, prefetch_main, f) == 0;
        if (f->started)
                return AN_OK;
        prefetch_stop(f);
        return an_error_set(err, AN_E_NOMEM, "cannot start the data thread");
}

const struct loaded_batch *prefetch_take(struct prefetch *f)
{
        struct loaded_batch *b = &f->slots[f->taken % 2];
        pthread_mutex_lock(&f->lock);
        while (!b->ready)
                pthread_cond_wait(&f->changed, &f->lock);
        pthread_mutex_unlock(&f->lock);
        return b;
}

void prefetch_release(struct prefetch *f)
{
        pthread_mutex_lock(&f->lock);
        f->slots[f->taken % 2].ready = false;
        f->taken++;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->lock);
}

void prefetch_stop(struct prefetch *f)
{
        pthread_mutex_lock(&f->lock);
        f->stop = true;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->lock);
        if (f->started)
                pthread_join(f->thread, NULL);
        for (int i = 0; i < 2; i++) {
                free(f->slots[i].x);
                free(f->slots[i].labels);
                free(f->slots[i].ids);
                free(f->slots[i].ok);
        }
        free(f->order);
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->changed);
        memset(f, 0, sizeof *f);
}
