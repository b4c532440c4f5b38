/* The training loader (lib/data/loader.c, prefetch.c): every item exactly
 * once an epoch, the same batches whether images are cached or decoded each
 * time, prefetched or filled in place, on one thread or all; unreadable
 * images left out and reported once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader.h"
#include "data/prefetch.h"
#include "model/model.h"
#include "testutil.h"

enum { CLASSES = 3, PER_CLASS = 7, BATCH = 4 };

struct fixture {
        char dir[64];
        struct dataset d;
        struct preprocess pre;
        struct shape input;
        struct colour_pca pca;
};

static void fixture_init(struct fixture *f)
{
        struct an_error err;
        make_image_folder(f->dir, CLASSES, PER_CLASS, 40, 36);
        ck_assert_int_eq(dataset_scan(&f->d, f->dir, &err), AN_OK);
        f->pre = preprocess_torchvision(36);
        f->input = (struct shape){3, 32, 32};
        f->pca = (struct colour_pca){
                {0.02f, 0.01f, 0.005f},
                {{0.6f, 0.6f, 0.5f}, {0.7f, -0.7f, 0}, {0.4f, 0.4f, -0.8f}}};
}

static void fixture_free(struct fixture *f)
{
        dataset_free(&f->d);
        remove_image_folder(f->dir);
}

/* Every batch of `epochs` epochs, filled in place: x then labels. */
struct batches {
        float *x;
        int *labels, *counts;
        int steps;
};

static size_t sample_floats(const struct fixture *f)
{
        return shape_count(f->input);
}

static void batches_alloc(struct batches *b, const struct fixture *f, int steps)
{
        b->steps = steps;
        b->x = calloc((size_t)steps * BATCH * sample_floats(f), sizeof *b->x);
        b->labels = calloc((size_t)steps * BATCH, sizeof *b->labels);
        b->counts = calloc(steps, sizeof *b->counts);
        ck_assert(b->x && b->labels && b->counts);
}

static void batches_free(struct batches *b)
{
        free(b->x);
        free(b->labels);
        free(b->counts);
}

/* Fills every step of `epochs` epochs directly (no prefetch). */
static void fill_directly(const struct fixture *f, bool resident, int threads,
                          int epochs, struct batches *out)
{
        struct image_store s;
        struct split sp;
        struct an_error err;
        ck_assert_int_eq(image_store_init(&s, &f->d, &f->pre, f->input,
                                          resident, false, NULL, NULL, &err),
                         AN_OK);
        ck_assert_int_eq(split_init(&sp, &s, 0, false, 7, &err), AN_OK);
        struct loader l = {&s, &sp, BATCH, AUGMENT_PAPER, &f->pca, 7, 1, 0};
        int steps = loader_steps(&l);
        batches_alloc(out, f, steps * epochs);
        size_t *order = malloc(sp.n * sizeof *order);
        bool ok[BATCH];
        for (int e = 0; e < epochs; e++) {
                split_shuffle(&sp, 7, e, order);
                for (int k = 0; k < steps; k++) {
                        int i = e * steps + k;
                        out->counts[i] = loader_fill(
                                &l, order, e, k,
                                out->x + (size_t)i * BATCH * sample_floats(f),
                                out->labels + i * BATCH, NULL, ok, threads);
                }
        }
        free(order);
        split_free(&sp);
        image_store_free(&s);
}

static void fill_prefetched(const struct fixture *f, int epochs,
                            struct batches *out)
{
        struct image_store s;
        struct split sp;
        struct prefetch pf;
        struct an_error err;
        ck_assert_int_eq(image_store_init(&s, &f->d, &f->pre, f->input, false,
                                          false, NULL, NULL, &err),
                         AN_OK);
        ck_assert_int_eq(split_init(&sp, &s, 0, false, 7, &err), AN_OK);
        struct loader l = {&s, &sp, BATCH, AUGMENT_PAPER, &f->pca, 7, 1, 0};
        int steps = loader_steps(&l);
        batches_alloc(out, f, steps * epochs);
        ck_assert_int_eq(prefetch_start(&pf, &l, 0, 0, epochs, &err), AN_OK);
        for (int i = 0; i < steps * epochs; i++) {
                const struct loaded_batch *b = prefetch_take(&pf);
                ck_assert_int_eq(b->epoch * steps + b->step, i);
                out->counts[i] = b->count;
                memcpy(out->x + (size_t)i * BATCH * sample_floats(f), b->x,
                       (size_t)b->count * sample_floats(f) * sizeof *b->x);
                memcpy(out->labels + i * BATCH, b->labels,
                       b->count * sizeof *b->labels);
                prefetch_release(&pf);
        }
        prefetch_stop(&pf);
        split_free(&sp);
        image_store_free(&s);
}

static void assert_same_batches(const struct batches *a,
                                const struct batches *b, size_t sample)
{
        ck_assert_int_eq(a->steps, b->steps);
        ck_assert_mem_eq(a->counts, b->counts, a->steps * sizeof *a->counts);
        for (int i = 0; i < a->steps; i++) {
                size_t n = (size_t)a->counts[i];
                ck_assert_mem_eq(a->labels + i * BATCH, b->labels + i * BATCH,
                                 n * sizeof *a->labels);
                ck_assert_mem_eq(a->x + (size_t)i * BATCH * sample,
                                 b->x + (size_t)i * BATCH * sample,
                                 n * sample * sizeof *a->x);
        }
}

START_TEST(epoch_takes_every_item_once)
{
        struct fixture f;
        fixture_init(&f);
        struct batches b;
        fill_directly(&f, false, 0, 2, &b);
        int steps = b.steps / 2;
        ck_assert_int_eq(steps, (CLASSES * PER_CLASS + BATCH - 1) / BATCH);
        for (int e = 0; e < 2; e++) {
                int per_label[CLASSES] = {0}, total = 0;
                for (int k = 0; k < steps; k++) {
                        int i = e * steps + k;
                        for (int j = 0; j < b.counts[i]; j++)
                                per_label[b.labels[i * BATCH + j]]++;
                        total += b.counts[i];
                }
                ck_assert_int_eq(total, CLASSES * PER_CLASS);
                for (int c = 0; c < CLASSES; c++)
                        ck_assert_int_eq(per_label[c], PER_CLASS);
        }
        /* the two epochs are not in the same order */
        ck_assert(memcmp(b.labels, b.labels + steps * BATCH,
                         (size_t)steps * BATCH * sizeof *b.labels) ||
                  memcmp(b.x, b.x + (size_t)steps * BATCH * sample_floats(&f),
                         sizeof *b.x * sample_floats(&f)));
        batches_free(&b);
        fixture_free(&f);
}
END_TEST

START_TEST(shuffle_is_a_permutation)
{
        size_t index[101];
        for (size_t i = 0; i < 101; i++)
                index[i] = 1000 + i;
        struct split sp = {index, 101};
        size_t order[101], seen[101] = {0};
        split_shuffle(&sp, 3, 5, order);
        int moved = 0;
        for (size_t i = 0; i < 101; i++) {
                ck_assert(order[i] >= 1000 && order[i] < 1101);
                seen[order[i] - 1000]++;
                moved += order[i] != index[i];
        }
        for (size_t i = 0; i < 101; i++)
                ck_assert_int_eq(seen[i], 1);
        ck_assert_int_gt(moved, 50);
}
END_TEST

START_TEST(batches_do_not_depend_on_cache_prefetch_or_threads)
{
        struct fixture f;
        fixture_init(&f);
        struct batches streamed, cached, one_thread, prefetched;
        fill_directly(&f, false, 0, 2, &streamed);
        fill_directly(&f, true, 0, 2, &cached);
        fill_directly(&f, false, 1, 2, &one_thread);
        fill_prefetched(&f, 2, &prefetched);
        assert_same_batches(&streamed, &cached, sample_floats(&f));
        assert_same_batches(&streamed, &one_thread, sample_floats(&f));
        assert_same_batches(&streamed, &prefetched, sample_floats(&f));
        batches_free(&streamed);
        batches_free(&cached);
        batches_free(&one_thread);
        batches_free(&prefetched);
        fixture_free(&f);
}
END_TEST

static int unreadable_calls;
static void count_unreadable(void *ctx, const char *path, const char *message)
{
        (void)ctx;
        (void)message;
        ck_assert_ptr_nonnull(strstr(path, "i0.jpg"));
        unreadable_calls++;
}

START_TEST(unreadable_images_are_left_out_and_told_once)
{
        struct fixture f;
        fixture_init(&f);
        char path[256];
        snprintf(path, sizeof path, "%s/c1/i0.jpg", f.dir);
        FILE *broken = fopen(path, "wb");
        ck_assert_ptr_nonnull(broken);
        fputs("not a picture", broken);
        fclose(broken);
        struct image_store s;
        struct split sp;
        struct an_error err;
        unreadable_calls = 0;
        ck_assert_int_eq(image_store_init(&s, &f.d, &f.pre, f.input, false,
                                          false, count_unreadable, NULL, &err),
                         AN_OK);
        ck_assert_int_eq(split_init(&sp, &s, 0, false, 1, &err), AN_OK);
        struct loader l = {&s, &sp, BATCH, AUGMENT_NONE, NULL, 1, 1, 0};
        float *x = malloc(BATCH * sample_floats(&f) * sizeof *x);
        int labels[BATCH], total = 0;
        bool ok[BATCH];
        for (int e = 0; e < 2; e++)
                for (int k = 0; k < loader_steps(&l); k++)
                        total += loader_fill(&l, sp.index, e, k, x, labels,
                                             NULL, ok, 0);
        ck_assert_int_eq(total, 2 * (CLASSES * PER_CLASS - 1));
        ck_assert_int_eq(unreadable_calls, 1);
        free(x);
        split_free(&sp);
        image_store_free(&s);
        fixture_free(&f);
}
END_TEST

/* Fills step k of epoch e for loader l: ids and inputs of its samples. */
static int fill_ids(const struct loader *l, const size_t *order, int e, int k,
                    float *x, size_t *ids)
{
        int labels[2 * BATCH];
        bool ok[2 * BATCH];
        return loader_fill(l, order, e, k, x, labels, ids, ok, 0);
}

START_TEST(processes_share_each_global_batch)
{
        struct fixture f;
        fixture_init(&f);
        struct image_store s;
        struct split sp;
        struct an_error err;
        ck_assert_int_eq(image_store_init(&s, &f.d, &f.pre, f.input, false,
                                          false, NULL, NULL, &err),
                         AN_OK);
        ck_assert_int_eq(split_init(&sp, &s, 0, false, 3, &err), AN_OK);
        /* one process with 2 * BATCH against two with BATCH each */
        struct loader one = {&s,     &sp, 2 * BATCH, AUGMENT_PAPER,
                             &f.pca, 3,   1,         0};
        struct loader part[2] = {
                {&s, &sp, BATCH, AUGMENT_PAPER, &f.pca, 3, 2, 0},
                {&s, &sp, BATCH, AUGMENT_PAPER, &f.pca, 3, 2, 1}};
        ck_assert_int_eq(loader_steps(&part[0]), loader_steps(&one));
        ck_assert_int_eq(loader_steps(&part[1]), loader_steps(&one));
        size_t floats = sample_floats(&f);
        float *x1 = malloc(2 * BATCH * floats * sizeof *x1);
        float *x2 = malloc(2 * BATCH * floats * sizeof *x2);
        size_t *order = malloc(sp.n * sizeof *order);
        size_t ids1[2 * BATCH], ids2[2 * BATCH];
        int seen = 0;
        split_shuffle(&sp, 3, 1, order);
        for (int k = 0; k < loader_steps(&one); k++) {
                int n = fill_ids(&one, order, 1, k, x1, ids1);
                int a = fill_ids(&part[0], order, 1, k, x2, ids2);
                int b = fill_ids(&part[1], order, 1, k, x2 + a * floats,
                                 ids2 + a);
                ck_assert_int_eq(a + b, n);
                ck_assert_mem_eq(ids1, ids2, n * sizeof *ids1);
                ck_assert_mem_eq(x1, x2, n * floats * sizeof *x1);
                seen += n;
        }
        ck_assert_int_eq(seen, (int)sp.n);
        free(x1);
        free(x2);
        free(order);
        split_free(&sp);
        image_store_free(&s);
        fixture_free(&f);
}
END_TEST

START_TEST(held_out_split_is_the_complement)
{
        struct fixture f;
        fixture_init(&f);
        struct image_store s;
        struct split train, val;
        struct an_error err;
        ck_assert_int_eq(image_store_init(&s, &f.d, &f.pre, f.input, false,
                                          false, NULL, NULL, &err),
                         AN_OK);
        ck_assert_int_eq(split_init(&train, &s, 0.3, false, 9, &err), AN_OK);
        ck_assert_int_eq(split_init(&val, &s, 0.3, true, 9, &err), AN_OK);
        ck_assert_int_eq(train.n + val.n, CLASSES * PER_CLASS);
        ck_assert_int_gt(val.n, 0);
        ck_assert_int_gt(train.n, val.n);
        for (size_t i = 0; i < train.n; i++)
                for (size_t j = 0; j < val.n; j++)
                        ck_assert(train.index[i] != val.index[j]);
        split_free(&train);
        split_free(&val);
        image_store_free(&s);
        fixture_free(&f);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("loader");
        TCase *tc = tcase_create("loader");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, epoch_takes_every_item_once);
        tcase_add_test(tc, shuffle_is_a_permutation);
        tcase_add_test(tc, batches_do_not_depend_on_cache_prefetch_or_threads);
        tcase_add_test(tc, unreadable_images_are_left_out_and_told_once);
        tcase_add_test(tc, held_out_split_is_the_complement);
        tcase_add_test(tc, processes_share_each_global_batch);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
