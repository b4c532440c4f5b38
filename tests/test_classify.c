/* From image file to probabilities, against torchvision's transforms and
 * PyTorch (tests/fixtures/predict, made by generate_images.py): centre crop
 * and the paper's ten crops, on PNGs and on photo-sized JPEGs decoded
 * whole as Pillow decodes them; and top-k ranking. */
#include <stdlib.h>
#include <string.h>

#include "model/classify.h"
#include "model/model.h"
#include "testutil.h"

#define PROB_TOL 1e-5

static void check_pipeline(int crops, const char *tensor)
{
        struct model m;
        struct an_error err;
        ck_assert_int_eq(
                model_open(&m, fixture_path("predict/model.safetensors"), &err),
                AN_OK);
        struct st_file expected;
        fixture_open(&expected, "predict/expected.safetensors");
        json_t *files = json_loads(st_metadata(&expected, "files"), 0, NULL);
        float *want = fixture_tensor(&expected, tensor, NULL);
        int classes = (int)net_outputs(&m.net);
        size_t sample = shape_count(m.net.shapes[0]) * crops;
        float *input = malloc(sample * sizeof *input);
        float *probs = malloc(classes * sizeof *probs);
        for (size_t i = 0; i < json_array_size(files); i++) {
                char rel[256];
                snprintf(rel, sizeof rel, "predict/%s",
                         json_string_value(json_array_get(files, i)));
                struct image img;
                struct image_options opt = image_defaults();
                opt.resize_side = m.pre.resize;
                ck_assert_int_eq(
                        image_load(&img, fixture_path(rel), &opt, &err), AN_OK);
                ck_assert_int_eq(image_preprocess(&img, &m.pre, m.net.shapes[0],
                                                  crops, input, &err),
                                 AN_OK);
                image_free(&img);
                ck_assert_int_eq(
                        classify_batch(&m.net, input, 1, crops, probs, &err),
                        AN_OK);
                assert_close(probs, want + i * classes, classes, PROB_TOL, rel);
        }
        free(input);
        free(probs);
        free(want);
        json_decref(files);
        st_close(&expected);
        model_close(&m);
}

START_TEST(centre_crop_matches_torchvision)
{
        check_pipeline(1, "probs");
}
END_TEST

START_TEST(ten_crop_matches_torchvision)
{
        check_pipeline(TEN_CROPS, "ten_crop_probs");
}
END_TEST

START_TEST(top_k_ranks_by_probability_then_index)
{
        const float p[6] = {0.1f, 0.3f, 0.05f, 0.3f, 0.2f, 0.05f};
        struct prediction top[6];
        ck_assert_int_eq(top_k(p, 6, 4, top), 4);
        const int order[4] = {1, 3, 4, 0};
        for (int i = 0; i < 4; i++)
                ck_assert_int_eq(top[i].index, order[i]);
        ck_assert_int_eq(top_k(p, 6, 10, top), 6);
        ck_assert_int_eq(top[4].index, 2);
        ck_assert_int_eq(top[5].index, 5);
}
END_TEST

/* class_rank agrees with top_k's order for every class, ties included;
 * accuracy counts with it, so a label tied with five lower classes is not
 * in the top five. */
START_TEST(rank_and_accuracy_follow_top_k)
{
        const float p[8] = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f, 0.2f, 0.1f, 0.05f};
        struct prediction top[8];
        ck_assert_int_eq(top_k(p, 8, 8, top), 8);
        for (int r = 0; r < 8; r++)
                ck_assert_int_eq(class_rank(p, 8, top[r].index), r);
        struct accuracy acc;
        struct an_error err;
        ck_assert_int_eq(accuracy_init(&acc, 8, true, &err), AN_OK);
        const int labels[3] = {5, 4, 0};
        float probs[3][8];
        for (int i = 0; i < 3; i++)
                memcpy(probs[i], p, sizeof p);
        accuracy_add(&acc, probs[0], labels, 3);
        /* six classes tie at 0.2: label 5 ranks sixth (out of the top
         * five), label 4 fifth (in), label 0 first */
        ck_assert_int_eq(acc.seen, 3);
        ck_assert_int_eq(acc.top5, 2);
        ck_assert_int_eq(acc.top1, 1);
        ck_assert_int_eq(acc.confusion[5 * 8 + 0], 1);
        ck_assert_int_eq(acc.confusion[0 * 8 + 0], 1);
        ck_assert_double_eq_tol(accuracy_top5(&acc), 2.0 / 3, 1e-12);
        accuracy_free(&acc);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("classify");
        TCase *tc = tcase_create("classify");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, centre_crop_matches_torchvision);
        tcase_add_test(tc, ten_crop_matches_torchvision);
        tcase_add_test(tc, top_k_ranks_by_probability_then_index);
        tcase_add_test(tc, rank_and_accuracy_follow_top_k);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
