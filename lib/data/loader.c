#include "data/loader.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "data/batch.h"

/* Keys of the generator's streams (arbitrary, fixed: checkpoints rely on
 * them staying what they were). */
enum { STREAM_SPLIT = 0x56414c };
#define STREAM_SHUFFLE 0x5348554600ull

/* Decodes and resizes image i into out; tells about a failure once. */
static bool decode(const struct image_store *s, size_t i, struct image *out)
{
        struct image raw;
        struct image_options opt = image_defaults();
        struct an_error err;
        opt.resize_side = s->pre.resize;
        opt.reduced_jpeg = s->reduced_jpeg;
        memset(out, 0, sizeof *out);
        enum an_status st = image_load(&raw, s->d->paths[i], &opt, &err);
        if (st == AN_OK) {
                int w, h;
                image_resized_size(raw.width, raw.height, s->pre.resize, &w,
                                   &h);
                st = w >= s->input.w && h >= s->input.h
                             ? image_resize(&raw, w, h, out, &err)
                             : an_error_set(&err, AN_E_INVALID, "too small");
                image_free(&raw);
        }
        if (st != AN_OK &&
            !__atomic_test_and_set(&s->bad[i], __ATOMIC_RELAXED) &&
            s->on_unreadable)
                s->on_unreadable(s->ctx, s->d->paths[i], err.message);
        return st == AN_OK;
}

enum an_status image_store_init(struct image_store *s, const struct dataset *d,
                                const struct preprocess *pre,
                                struct shape input, bool resident,
                                bool reduced_jpeg, unreadable_fn on_unreadable,
                                void *ctx, struct an_error *err)
{
        *s = (struct image_store){.d = d,
                                  .pre = *pre,
                                  .input = input,
                                  .resident = resident,
                                  .reduced_jpeg = reduced_jpeg,
                                  .bad = calloc(d->n + 1, 1),
                                  .n = d->n,
                                  .on_unreadable = on_unreadable,
                                  .ctx = ctx};
        if (resident)
                s->images = calloc(d->n + 1, sizeof *s->images);
        if (!s->bad || (resident && !s->images)) {
                image_store_free(s);
                return an_error_set(err, AN_E_NOMEM,
                                    "out of memory for %zu images", d->n);
        }
        if (resident) {
#pragma omp parallel for schedule(dynamic, 16)
                for (size_t i = 0; i < d->n; i++)
                        decode(s, i, &s->images[i]);
        }
        return AN_OK;
}

void image_store_free(struct image_store *s)
{
        for (size_t i = 0; s->images && i < s->n; i++)
                image_free(&s->images[i]);
        free(s->images);
        free(s->bad);
        memset(s, 0, sizeof *s);
}

const struct image *image_store_get(const struct image_store *s, size_t i,
                                    struct image *tmp)
{
        if (s->resident)
                return s->images[i].width ? &s->images[i] : NULL;
        if (__atomic_load_n(&s->bad[i], __ATOMIC_RELAXED))
                return NULL;
        return decode(s, i, tmp) ? tmp : NULL;
}

enum an_status split_init(struct split *sp, const struct image_store *s,
                          double fraction, bool held_out, uint64_t seed,
                          struct an_error *err)
{
        sp->n = 0;
        sp->index = malloc((s->n + 1) * sizeof *sp->index);
        if (!sp->index)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        for (size_t i = 0; i < s->n; i++) {
                bool in_val = fraction > 0 &&
                              rng_uniform(seed, STREAM_SPLIT, i) < fraction;
                bool readable = !s->resident || s->images[i].width;
                if (readable && in_val == held_out)
                        sp->index[sp->n++] = i;
        }
        return AN_OK;
}

void split_free(struct split *sp)
{
        free(sp->index);
        memset(sp, 0, sizeof *sp);
}

void split_shuffle(const struct split *sp, uint64_t seed, int epoch,
                   size_t *order)
{
        memcpy(order, sp->index, sp->n * sizeof *order);
        for (size_t i = sp->n; i > 1; i--) {
                size_t j =
                        rng_bits(seed, STREAM_SHUFFLE + (uint64_t)epoch, i) % i;
                size_t t = order[i - 1];
                order[i - 1] = order[j];
                order[j] = t;
        }
}

/* Samples in one step over every process. */
static size_t global_batch(const struct loader *l)
{
        return (size_t)l->batch * (l->ranks > 1 ? l->ranks : 1);
}

int loader_steps(const struct loader *l)
{
        return (int)((l->split->n + global_batch(l) - 1) / global_batch(l));
}

int loader_fill(const struct loader *l, const size_t *order, int epoch,
                int step, float *x, int *labels, size_t *ids, bool *ok,
                int threads)
{
        const struct image_store *s = l->store;
        size_t first = (size_t)step * global_batch(l) +
                       (size_t)(l->ranks > 1 ? l->rank : 0) * l->batch;
        if (first >= l->split->n)
                return 0;
        int count = l->split->n - first < (size_t)l->batch
                            ? (int)(l->split->n - first)
                            : l->batch;
        const size_t *items = order + first;
        size_t sample = shape_count(s->input);
#pragma omp parallel for schedule(dynamic, 4)                                  \
        num_threads(threads ? threads : omp_get_max_threads())
        for (int i = 0; i < count; i++) {
                struct image tmp = {0, 0, NULL};
                const struct image *img = image_store_get(s, items[i], &tmp);
                ok[i] = img != NULL;
                if (img)
                        augment_sample(img, l->augment, l->pca, l->seed,
                                       (uint64_t)epoch, items[i], s->input,
                                       &s->pre, x + (size_t)i * sample);
                image_free(&tmp);
        }
        int kept = 0;
        for (int i = 0; i < count; i++)
                if (ok[i]) {
                        if (ids)
                                ids[kept] = items[i];
                        labels[kept++] = s->d->labels[items[i]];
                }
        return batch_compact(x, sample, count, ok, NULL);
}

enum an_status loader_fit_pca(const struct image_store *s,
                              const struct split *sp, struct colour_pca *pca,
                              struct an_error *err)
{
        size_t n = sp->n < 1000 ? sp->n : 1000, have = 0;
        struct image *sample = calloc(n + 1, sizeof *sample);
        if (!sample)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                struct image tmp = {0, 0, NULL};
                const struct image *img =
                        image_store_get(s, sp->index[i * sp->n / n], &tmp);
                if (img)
                        sample[have++] = s->resident ? *img : tmp;
        }
        colour_pca_fit(sample, have, pca);
        for (size_t i = 0; !s->resident && i < have; i++)
                image_free(&sample[i]);
        free(sample);
        return AN_OK;
}
