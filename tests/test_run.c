/* The training run (lib/train/run.c, evaluate.c): a run stopped mid-epoch
 * and resumed from its checkpoint ends with the weights of an uninterrupted
 * one, bit for bit; a run writes its checkpoint each epoch; validation
 * counts top-5 ties by the rule predict --eval uses (lower class index
 * first), not in the label's favour. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/run.h"

static struct train_settings small_run(const char *dir)
{
        struct train_settings s;
        train_settings_defaults(&s);
        strcpy(s.datadir, dir);
        strcpy(s.preset, "alexnet-small");
        s.epochs = 2;
        s.batch = 4;
        s.val_split = 0.25;
        s.seed = 5;
        s.init = INIT_HE;
        return s;
}

struct counter {
        int steps, stop_after, epochs;
};

static void count_step(void *ctx, const struct step_report *r)
{
        (void)r;
        ((struct counter *)ctx)->steps++;
}

static enum an_status count_epoch(void *ctx, const struct epoch_report *r,
                                  struct an_error *err)
{
        (void)err;
        ck_assert(r->validated);
        ck_assert(r->val.images > 0);
        ((struct counter *)ctx)->epochs++;
        return AN_OK;
}

static bool stop_when_told(void *ctx)
{
        struct counter *c = ctx;
        return c->stop_after && c->steps >= c->stop_after;
}

/* Runs to the end or a stop; returns a copy of the weights. */
static float *run(const struct train_settings *s, const char *resume,
                  const char *ckpt, struct counter *c, bool *stopped, size_t *n)
{
        struct train_io io = {ckpt, 0, false, NULL};
        struct train_hooks hooks = {c, count_step, count_epoch, stop_when_told,
                                    NULL};
        struct train_run r;
        struct an_error err;
        ck_assert_msg(train_run_open(&r, s, resume, &io, &hooks, &err) == AN_OK,
                      "%s: %s", r.error_file, err.message);
        ck_assert_msg(train_run_epochs(&r, &err) == AN_OK, "%s", err.message);
        *stopped = r.stopped;
        *n = model_param_count(&r.model);
        float *w = malloc(*n * sizeof *w);
        memcpy(w, r.model.owned_params, *n * sizeof *w);
        train_run_close(&r);
        return w;
}

START_TEST(resumed_run_matches_uninterrupted)
{
        char dir[64], ckpt[128];
        make_image_folder(dir, 3, 8, 40, 38);
        snprintf(ckpt, sizeof ckpt, "%s/run.ckpt", dir);
        struct train_settings s = small_run(dir);
        struct counter whole = {0, 0, 0}, first = {0, 4, 0}, rest = {0, 0, 0};
        bool stopped;
        size_t n, n2;
        float *a = run(&s, NULL, ckpt, &whole, &stopped, &n);
        ck_assert(!stopped);
        ck_assert_int_eq(whole.epochs, 2);
        /* interrupted after 4 steps (18 training images: 5 steps an
         * epoch), then resumed with only what the checkpoint says */
        float *partial = run(&s, NULL, ckpt, &first, &stopped, &n2);
        ck_assert(stopped);
        ck_assert_int_eq(first.epochs, 0);
        struct train_settings recorded;
        struct an_error err;
        ck_assert_int_eq(checkpoint_read_settings(ckpt, &recorded, &err),
                         AN_OK);
        ck_assert_mem_eq(&recorded, &s, sizeof s);
        float *b = run(&recorded, ckpt, ckpt, &rest, &stopped, &n2);
        ck_assert(!stopped);
        ck_assert_int_eq(n, n2);
        ck_assert_int_eq(first.steps + rest.steps, whole.steps);
        ck_assert_mem_eq(a, b, n * sizeof *a);
        ck_assert(memcmp(a, partial, n * sizeof *a));
        free(a);
        free(b);
        free(partial);
        unlink(ckpt);
        remove_image_folder(dir);
}
END_TEST

/* All ten classes equally likely (every parameter zero): top-1 is class 0
 * alone and top-5 classes 0-4, whatever the label. */
START_TEST(validation_top5_ties_go_to_the_lower_index)
{
        char dir[64];
        make_image_folder(dir, 10, 2, 40, 38);
        struct dataset d;
        struct model m;
        struct trainer t;
        struct image_store store;
        struct split sp;
        struct an_error err;
        ck_assert_int_eq(dataset_scan(&d, dir, &err), AN_OK);
        ck_assert_int_eq(model_from_preset(&m, "alexnet-small", 10, &err),
                         AN_OK);
        memset(m.owned_params, 0, model_param_count(&m) * sizeof(float));
        ck_assert_int_eq(trainer_init(&t, &m, 8, &err), AN_OK);
        ck_assert_int_eq(image_store_init(&store, &d, &m.pre, m.net.shapes[0],
                                          false, false, NULL, NULL, &err),
                         AN_OK);
        ck_assert_int_eq(split_init(&sp, &store, 0, false, 1, &err), AN_OK);
        struct loader l = {&store, &sp, 8, AUGMENT_NONE, NULL, 1, 1, 0};
        struct comm alone = comm_alone();
        struct eval_buffers buf = {
                malloc(8 * shape_count(m.net.shapes[0]) * sizeof(float)),
                malloc(8 * 10 * sizeof(float)), malloc(8 * sizeof(int)),
                malloc(8 * sizeof(bool))};
        struct eval_result r;
        ck_assert_int_eq(evaluate_split(&t, &l, &alone, &buf, &r, &err), AN_OK);
        ck_assert_int_eq(r.images, 20);
        ck_assert_double_eq_tol(r.top1, 0.1, 1e-12);
        ck_assert_double_eq_tol(r.top5, 0.5, 1e-12);
        ck_assert_double_eq_tol(r.loss, log(10.0), 1e-5);
        free(buf.x);
        free(buf.probs);
        free(buf.labels);
        free(buf.ok);
        split_free(&sp);
        image_store_free(&store);
        trainer_free(&t);
        model_close(&m);
        dataset_free(&d);
        remove_image_folder(dir);
}
END_TEST

/* Warm-up: the share of the rate rises linearly with the steps taken,
 * reaches 1 at its last step and stays there; none asked, always 1. */
START_TEST(warmup_rises_linearly_to_the_full_rate)
{
        const int steps = 10;
        ck_assert_double_eq_tol(schedule_warmup(2, 0, 0, steps), 0.05, 1e-12);
        ck_assert_double_eq_tol(schedule_warmup(2, 0, 9, steps), 0.5, 1e-12);
        ck_assert_double_eq_tol(schedule_warmup(2, 1, 4, steps), 0.75, 1e-12);
        ck_assert_double_eq_tol(schedule_warmup(2, 1, 9, steps), 1, 1e-12);
        ck_assert_double_eq_tol(schedule_warmup(2, 5, 3, steps), 1, 1e-12);
        ck_assert_double_eq_tol(schedule_warmup(0.5, 0, 1, steps), 0.4, 1e-12);
        ck_assert_double_eq(schedule_warmup(0, 0, 0, steps), 1);
        for (int k = 1; k < 2 * steps; k++)
                ck_assert_double_gt(
                        schedule_warmup(2, k / steps, k % steps, steps),
                        schedule_warmup(2, (k - 1) / steps, (k - 1) % steps,
                                        steps));
}
END_TEST

int main(void)
{
        Suite *s = suite_create("run");
        TCase *tc = tcase_create("run");
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, resumed_run_matches_uninterrupted);
        tcase_add_test(tc, validation_top5_ties_go_to_the_lower_index);
        tcase_add_test(tc, warmup_rises_linearly_to_the_full_rate);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
