#define _POSIX_C_SOURCE 200809L
#include "pipeline.h"

#include <errno.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static void clear_batch(struct batch *b)
{
        for (int i = 0; i < b->n; i++) {
                free(b->paths[i]);
                free(b->errors[i]);
                b->paths[i] = b->errors[i] = NULL;
        }
        b->n = b->decoded = 0;
}

/* Decodes one path into the next free tensor slot of b. */
static void decode_into(struct pipeline *p, struct batch *b, int i)
{
        struct image img;
        struct an_error err;
        size_t sample = shape_count(p->input) * p->crops;
        enum an_status st = image_load(&img, b->paths[i], &p->image, &err);
        if (st == AN_OK) {
                st = preprocess_image(&img, p->pre, p->input, p->crops,
                                      b->input + b->decoded * sample, &err);
                image_free(&img);
        }
        if (st == AN_OK) {
                b->slot[i] = b->decoded++;
        } else {
                b->slot[i] = -1;
                b->errors[i] = strdup(err.message);
        }
}

static void fill_batch(struct pipeline *p, struct batch *b)
{
        clear_batch(b);
        b->last = false;
        while (b->n < p->capacity) {
                const char *path = path_source_next(p->source);
                if (!path) {
                        b->last = true;
                        b->read_errno = p->source->read_errno;
                        break;
                }
                int i = b->n++;
                b->paths[i] = strdup(path);
                if (!b->paths[i]) {
                        b->n--;
                        b->last = true;
                        b->read_errno = ENOMEM;
                        break;
                }
                decode_into(p, b, i);
        }
}

static void *decoder_main(void *arg)
{
        struct pipeline *p = arg;
        /* The network's OpenMP threads own the cores; decoding is one
         * thread beside them (resizing must not start a team of its own). */
        omp_set_num_threads(1);
        for (int i = 0;; i ^= 1) {
                pthread_mutex_lock(&p->lock);
                while (p->ready[i] && !p->stop)
                        pthread_cond_wait(&p->changed, &p->lock);
                bool stop = p->stop;
                pthread_mutex_unlock(&p->lock);
                if (stop)
                        return NULL;
                fill_batch(p, &p->batches[i]);
                pthread_mutex_lock(&p->lock);
                p->ready[i] = true;
                pthread_cond_broadcast(&p->changed);
                pthread_mutex_unlock(&p->lock);
                if (p->batches[i].last)
                        return NULL;
        }
}

static bool alloc_batch(struct batch *b, int capacity, size_t sample)
{
        b->paths = calloc(capacity, sizeof *b->paths);
        b->errors = calloc(capacity, sizeof *b->errors);
        b->slot = calloc(capacity, sizeof *b->slot);
        b->input = malloc(capacity * sample * sizeof *b->input);
        return b->paths && b->errors && b->slot && b->input;
}

static void free_batch(struct batch *b)
{
        clear_batch(b);
        free(b->paths);
        free(b->errors);
        free(b->slot);
        free(b->input);
}

bool pipeline_start(struct pipeline *p)
{
        size_t sample = shape_count(p->input) * p->crops;
        memset(p->batches, 0, sizeof p->batches);
        p->ready[0] = p->ready[1] = false;
        p->take_next = 0;
        p->stop = false;
        bool ok = alloc_batch(&p->batches[0], p->capacity, sample) &&
                  alloc_batch(&p->batches[1], p->capacity, sample);
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->changed, NULL);
        if (ok && pthread_create(&p->decoder, NULL, decoder_main, p) == 0)
                return true;
        free_batch(&p->batches[0]);
        free_batch(&p->batches[1]);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->changed);
        return false;
}

struct batch *pipeline_next(struct pipeline *p)
{
        int i = p->take_next;
        pthread_mutex_lock(&p->lock);
        while (!p->ready[i])
                pthread_cond_wait(&p->changed, &p->lock);
        pthread_mutex_unlock(&p->lock);
        p->take_next ^= 1; /* batches alternate 0, 1, 0, ... */
        return &p->batches[i];
}

void pipeline_release(struct pipeline *p, struct batch *b)
{
        pthread_mutex_lock(&p->lock);
        p->ready[b - p->batches] = false;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
}

void pipeline_finish(struct pipeline *p)
{
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->decoder, NULL);
        free_batch(&p->batches[0]);
        free_batch(&p->batches[1]);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->changed);
}
