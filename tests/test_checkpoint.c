/* Checkpoints (lib/train/checkpoint.c, settings.c): what is saved is what
 * is read back, bit for bit; a file without training state or settings,
 * or with settings out of range, is refused with a clear message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "train/checkpoint.h"

static void temp_path(char *path, size_t size, const char *name)
{
        const char *tmp = getenv("TMPDIR");
        snprintf(path, size, "%s/alexnet-ckpt-%d-%s",
                 tmp && *tmp ? tmp : "/tmp", (int)getpid(), name);
}

static struct train_settings some_settings(void)
{
        struct train_settings s;
        train_settings_defaults(&s);
        strcpy(s.datadir, "/data/fashion/train");
        strcpy(s.val, "/data/fashion/val \t odd name");
        strcpy(s.preset, "alexnet-small");
        s.init = INIT_HE;
        s.epochs = 7;
        s.batch = 48;
        s.lr = 0.1 / 3; /* not a short decimal */
        s.momentum = 0.875;
        s.weight_decay = 1e-5;
        s.schedule = SCHEDULE_COSINE;
        s.lr_step = 4;
        s.dropout = 0.25;
        s.augment = AUGMENT_FLIP_CROP;
        s.resize = 40;
        s.seed = (1ull << 53) - 1;
        s.freeze = true;
        return s;
}

START_TEST(round_trip_is_exact)
{
        struct model m;
        struct an_error err;
        ck_assert_int_eq(model_from_preset(&m, "alexnet-small", 10, &err),
                         AN_OK);
        size_t n = model_param_count(&m);
        float *velocity = malloc(n * sizeof *velocity), *back = malloc(n * 4);
        for (size_t i = 0; i < n; i++) {
                velocity[i] = (float)i * 1e-7f - 0.3f;
                m.owned_params[i] = (float)(i % 97) / 7.0f;
        }
        struct train_settings s = some_settings(), s2;
        struct train_state st = {3,      17, 12345678901ull, 0.1 / 7,
                                 0.4375, 2,  1234.5,         64},
                           st2;
        char path[256];
        temp_path(path, sizeof path, "round.ckpt");
        ck_assert_int_eq(checkpoint_save(path, &m, velocity, n, &s, &st, &err),
                         AN_OK);
        ck_assert_int_eq(checkpoint_read_settings(path, &s2, &err), AN_OK);
        ck_assert_mem_eq(&s, &s2, sizeof s);
        ck_assert_int_eq(checkpoint_read_state(path, &st2, back, n, &err),
                         AN_OK);
        ck_assert_mem_eq(&st, &st2, sizeof st);
        ck_assert_mem_eq(velocity, back, n * sizeof *back);
        /* a checkpoint is a model too, with the same weights */
        struct model m2;
        ck_assert_int_eq(model_open(&m2, path, &err), AN_OK);
        ck_assert_int_eq(model_param_count(&m2), n);
        ck_assert_mem_eq(m2.net.weights[0], m.net.weights[0], 4 * 75);
        model_close(&m2);
        /* a velocity of another size is refused */
        ck_assert_int_ne(checkpoint_read_state(path, &st2, back, n - 1, &err),
                         AN_OK);
        ck_assert_ptr_nonnull(strstr(err.message, "velocity"));
        unlink(path);
        free(velocity);
        free(back);
        model_close(&m);
}
END_TEST

START_TEST(a_plain_model_is_not_a_checkpoint)
{
        struct model m;
        struct an_error err;
        struct train_settings s;
        ck_assert_int_eq(model_from_preset(&m, "alexnet-small", 10, &err),
                         AN_OK);
        char path[256];
        temp_path(path, sizeof path, "plain.safetensors");
        ck_assert_int_eq(model_save(&m, path, ST_F32, &err), AN_OK);
        ck_assert_int_ne(checkpoint_read_settings(path, &s, &err), AN_OK);
        ck_assert_ptr_nonnull(strstr(err.message, "not a training checkpoint"));
        unlink(path);
        model_close(&m);
}
END_TEST

/* The settings document must be complete and in range: a hostile or
 * damaged checkpoint cannot start a run with batch 0 or momentum 7. */
START_TEST(bad_settings_are_refused)
{
        struct train_settings s = some_settings(), back;
        struct an_error err;
        static const char *const breakages[][2] = {
                {"batch", "0"},   {"momentum", "1.5"}, {"schedule", "\"x\""},
                {"augment", "3"}, {"seed", "-1"},      {"epochs", "\"90\""},
                {"lr", "-0.1"},   {"val_split", "1"},
        };
        for (size_t i = 0; i < sizeof breakages / sizeof breakages[0]; i++) {
                json_t *j = train_settings_to_json(&s);
                json_t *v = json_loads(breakages[i][1], JSON_DECODE_ANY, NULL);
                ck_assert_ptr_nonnull(v);
                json_object_set_new(j, breakages[i][0], v);
                ck_assert_msg(train_settings_from_json(&back, j, &err) != AN_OK,
                              "%s = %s accepted", breakages[i][0],
                              breakages[i][1]);
                json_decref(j);
        }
        json_t *j = train_settings_to_json(&s);
        json_object_del(j, "lr");
        ck_assert_int_ne(train_settings_from_json(&back, j, &err), AN_OK);
        json_decref(j);
}
END_TEST

/* fast_jpeg round-trips; a checkpoint from before the key decoded JPEGs at
 * reduced scale and resumes so. */
START_TEST(fast_jpeg_round_trips_and_defaults_to_the_old_decoding)
{
        struct train_settings s = some_settings(), back;
        struct an_error err;
        for (int fast = 0; fast < 2; fast++) {
                s.fast_jpeg = fast;
                json_t *j = train_settings_to_json(&s);
                ck_assert_int_eq(train_settings_from_json(&back, j, &err),
                                 AN_OK);
                ck_assert_int_eq(back.fast_jpeg, fast);
                json_object_del(j, "fast_jpeg");
                ck_assert_int_eq(train_settings_from_json(&back, j, &err),
                                 AN_OK);
                ck_assert(back.fast_jpeg);
                json_decref(j);
        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("checkpoint");
        TCase *tc = tcase_create("checkpoint");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, round_trip_is_exact);
        tcase_add_test(tc, a_plain_model_is_not_a_checkpoint);
        tcase_add_test(tc, bad_settings_are_refused);
        tcase_add_test(tc,
                       fast_jpeg_round_trips_and_defaults_to_the_old_decoding);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
