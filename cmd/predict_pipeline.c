#define _POSIX_C_SOURCE 200809L
#include "predict_pipeline.h"
#include "threads.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data/batch.h"
#include "model/classify.h"

static void clear_batch(struct batch *b)
{
        for (int i = 0; i < b->n; i++) {
                free(b->paths[i]);
                free(b->errors[i]);
                b->paths[i] = b->errors[i] = NULL;
        }
        b->n = b->decoded = 0;
}

/* Decodes path i of b into tensor slot i; on failure records why. */
static void decode_into(struct pipeline *p, struct batch *b, int i)
{
        struct image img;
        struct an_error err;
        size_t sample = shape_count(p->input) * p->crops;
        enum an_status st = image_load(&img, b->paths[i], &p->image, &err);
        if (st == AN_OK) {
                st = image_preprocess(&img, p->pre, p->input, p->crops,
                                      b->input + (size_t)i * sample, &err);
                image_free(&img);
        }
        b->ok[i] = st == AN_OK;
        if (st != AN_OK)
                b->errors[i] = strdup(err.message);
}

/* The decoded tensors moved to the front, in input order. */
static void compact(struct pipeline *p, struct batch *b)
{
        size_t sample = shape_count(p->input) * p->crops;
        b->decoded = batch_compact(b->input, sample, b->n, b->ok, b->slot);
}

/* Reads up to a batch of paths, then decodes them on every core at once,
 * one image a thread: the network's threads are idle meanwhile, where a
 * decoding thread beside them took a core from every product it
 * overlapped (measured with make bench-predict). */
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
        }
#pragma omp parallel for schedule(dynamic)
        for (int i = 0; i < b->n; i++)
                decode_into(p, b, i);
        compact(p, b);
}

static bool alloc_batch(struct batch *b, int capacity, size_t sample)
{
        b->paths = calloc(capacity, sizeof *b->paths);
        b->errors = calloc(capacity, sizeof *b->errors);
        b->slot = calloc(capacity, sizeof *b->slot);
        b->ok = calloc(capacity, sizeof *b->ok);
        b->input = malloc(capacity * sample * sizeof *b->input);
        return b->paths && b->errors && b->slot && b->ok && b->input;
}

static void free_batch(struct batch *b)
{
        clear_batch(b);
        free(b->paths);
        free(b->errors);
        free(b->slot);
        free(b->ok);
        free(b->input);
}

bool pipeline_init(struct pipeline *p)
{
        size_t sample = shape_count(p->input) * p->crops;
        memset(&p->batch, 0, sizeof p->batch);
        if (alloc_batch(&p->batch, p->capacity, sample))
                return true;
        free_batch(&p->batch);
        return false;
}

struct batch *pipeline_next(struct pipeline *p)
{
        threads_adapt(); /* for this batch's decoding and forward pass */
        fill_batch(p, &p->batch);
        return &p->batch;
}

void pipeline_free(struct pipeline *p)
{
        free_batch(&p->batch);
}

bool pipeline_classify(const struct pipeline *p, const struct batch *b,
                       float *probs)
{
        struct an_error err;
        if (b->decoded && classify_batch(&p->model->net, b->input, b->decoded,
                                         p->crops, probs, &err) != AN_OK) {
                report("predict", "%s", err.message);
                return false;
        }
        if (model_check_file(p->model, &err) != AN_OK) {
                report(p->model_path, "%s", err.message);
                return false;
        }
        return true;
}
