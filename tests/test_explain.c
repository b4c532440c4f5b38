/* Feature vectors and Grad-CAM against PyTorch (tests/fixtures/predict/
 * pictures.safetensors, made by generate_pictures.py with autograd in
 * float64): any layer's output by name (torchvision's names and the
 * paper's), the gradient-weighted class map of the last convolution for
 * the top class and for another, and the bilinear resize of the map. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/explain.h"
#include "model/features.h"
#include "model/model.h"
#include "testutil.h"

#define FEATURE_TOL 1e-4
#define MAP_TOL     1e-4

struct fixture {
        struct model m;
        struct st_file expected;
        json_t *files;
        float *input; /* one preprocessed image */
};

static void open_fixture(struct fixture *f)
{
        struct an_error err;
        ck_assert_int_eq(model_open(&f->m,
                                    fixture_path("predict/model.safetensors"),
                                    &err),
                         AN_OK);
        fixture_open(&f->expected, "predict/pictures.safetensors");
        f->files = json_loads(st_metadata(&f->expected, "files"), 0, NULL);
        ck_assert_ptr_nonnull(f->files);
        f->input = malloc(shape_count(f->m.net.shapes[0]) * sizeof *f->input);
}

static void close_fixture(struct fixture *f)
{
        free(f->input);
        json_decref(f->files);
        st_close(&f->expected);
        model_close(&f->m);
}

/* Image i of the fixture, preprocessed as predict does. */
static const char *load_image(struct fixture *f, size_t i)
{
        static char rel[256];
        snprintf(rel, sizeof rel, "predict/%s",
                 json_string_value(json_array_get(f->files, i)));
        struct image img;
        struct image_options opt = image_defaults();
        opt.resize_side = f->m.pre.resize;
        struct an_error err;
        ck_assert_int_eq(image_load(&img, fixture_path(rel), &opt, &err),
                         AN_OK);
        ck_assert_int_eq(image_preprocess(&img, &f->m.pre, f->m.net.shapes[0],
                                          1, f->input, &err),
                         AN_OK);
        image_free(&img);
        return rel;
}

static void check_features(const char *layer_name, const char *tensor)
{
        struct fixture f;
        open_fixture(&f);
        int layer = layer_name ? arch_find_layer(&f.m.net.arch, layer_name)
                               : feature_layer_default(&f.m.net.arch);
        ck_assert_int_ge(layer, 0);
        size_t n = feature_size(&f.m.net, layer), count;
        float *want = fixture_tensor(&f.expected, tensor, &count);
        ck_assert_uint_eq(count, n * json_array_size(f.files));
        float *got = malloc(n * sizeof *got);
        struct an_error err;
        for (size_t i = 0; i < json_array_size(f.files); i++) {
                const char *rel = load_image(&f, i);
                ck_assert_int_eq(features_batch(&f.m.net, f.input, 1, 1, layer,
                                                got, &err),
                                 AN_OK);
                assert_close(got, want + i * n, n, FEATURE_TOL, rel);
        }
        free(got);
        free(want);
        close_fixture(&f);
}

START_TEST(default_features_are_fc7_after_relu)
{
        check_features(NULL, "features_relu7");
}
END_TEST

START_TEST(features_by_torchvision_and_paper_names)
{
        check_features("classifier.5", "features_relu7");
        check_features("relu7", "features_relu7");
        check_features("fc7", "features_fc7");
        check_features("features.12", "features_pool5");
        check_features("pool5", "features_pool5");
}
END_TEST

/* The index of the n-th layer of type t. */
static int nth(const struct arch *a, enum layer_type t, int n)
{
        for (int i = 0; i < a->n_layers; i++)
                if (a->layers[i].type == t && --n == 0)
                        return i;
        return -1;
}

START_TEST(paper_names_find_layers)
{
        /* the presets use torchvision's names: the paper's find them */
        struct arch a;
        ck_assert_int_eq(arch_from_preset(&a, "alexnet-owt", 1000, NULL),
                         AN_OK);
        ck_assert_int_eq(arch_find_layer(&a, "conv1"), nth(&a, LAYER_CONV, 1));
        ck_assert_int_eq(arch_find_layer(&a, "conv5"), nth(&a, LAYER_CONV, 5));
        ck_assert_int_eq(arch_find_layer(&a, "relu5"),
                         nth(&a, LAYER_CONV, 5) + 1);
        ck_assert_int_eq(arch_find_layer(&a, "fc6"), nth(&a, LAYER_LINEAR, 1));
        ck_assert_int_eq(arch_find_layer(&a, "relu7"),
                         nth(&a, LAYER_LINEAR, 2) + 1);
        ck_assert_int_eq(arch_find_layer(&a, "fc8"), nth(&a, LAYER_LINEAR, 3));
        ck_assert_int_eq(arch_find_layer(&a, "features.3"),
                         nth(&a, LAYER_CONV, 2));
        ck_assert_int_eq(arch_find_layer(&a, "pool5"),
                         nth(&a, LAYER_MAXPOOL, 3));
        ck_assert_int_eq(arch_find_layer(&a, "pool2"),
                         nth(&a, LAYER_MAXPOOL, 2));
        ck_assert_int_eq(arch_find_layer(&a, "pool3"), -1);
        ck_assert_int_eq(arch_find_layer(&a, "conv6"), -1);
        ck_assert_int_eq(arch_find_layer(&a, "fc9"), -1);
        ck_assert_int_eq(arch_find_layer(&a, "conv1x"), -1);
        ck_assert_int_eq(arch_find_layer(&a, "relu8"), -1); /* fc8 has none */
        ck_assert_int_eq(feature_layer_default(&a),
                         nth(&a, LAYER_LINEAR, 2) + 1);
        ck_assert_int_eq(gradcam_default_layer(&a), nth(&a, LAYER_CONV, 5) + 1);
        arch_free(&a);
}
END_TEST

/* The map's error relative to its largest value (a map's scale is the
 * class score's, which varies by image). */
static void check_map(const float *got, const float *want, size_t n,
                      const char *what)
{
        float most = 0;
        for (size_t i = 0; i < n; i++)
                most = want[i] > most ? want[i] : most;
        ck_assert_msg(most > 0, "%s: the reference map is all zero", what);
        for (size_t i = 0; i < n; i++)
                ck_assert_msg(fabsf(got[i] - want[i]) <= MAP_TOL * most,
                              "%s: cell %zu is %.7g, PyTorch %.7g (max %.7g)",
                              what, i, got[i], want[i], most);
}

static void check_gradcam(const char *tensor, int fixed_class)
{
        struct fixture f;
        open_fixture(&f);
        int layer = gradcam_default_layer(&f.m.net.arch);
        ck_assert_str_eq(f.m.net.arch.layers[layer].name, "features.11");
        struct shape s = f.m.net.shapes[layer + 1];
        size_t n = (size_t)s.h * s.w;
        float *want = fixture_tensor(&f.expected, tensor, NULL);
        float *classes = fixture_tensor(&f.expected, "gradcam_top_class", NULL);
        float *map = malloc(n * sizeof *map);
        struct an_error err;
        for (size_t i = 0; i < json_array_size(f.files); i++) {
                const char *rel = load_image(&f, i);
                int cls = fixed_class >= 0 ? fixed_class : (int)classes[i];
                ck_assert_int_eq(
                        gradcam(&f.m.net, f.input, layer, cls, map, NULL, &err),
                        AN_OK);
                check_map(map, want + i * n, n, rel);
        }
        free(map);
        free(classes);
        free(want);
        close_fixture(&f);
}

START_TEST(gradcam_of_the_top_class_matches_pytorch)
{
        check_gradcam("gradcam_top", -1);
}
END_TEST

START_TEST(gradcam_of_another_class_matches_pytorch)
{
        check_gradcam("gradcam_class9", 9);
}
END_TEST

START_TEST(map_resize_is_torch_bilinear)
{
        struct fixture f;
        open_fixture(&f);
        int layer = gradcam_default_layer(&f.m.net.arch);
        struct shape s = f.m.net.shapes[layer + 1];
        float *cams = fixture_tensor(&f.expected, "gradcam_top", NULL);
        float *want = fixture_tensor(&f.expected, "upsampled0", NULL);
        float *got = malloc(224 * 224 * sizeof *got);
        map_normalise(cams, (size_t)s.h * s.w); /* the first image's */
        map_resize(cams, s.h, s.w, got, 224, 224);
        assert_close(got, want, 224 * 224, 1e-5, "upsampled map");
        free(got);
        free(want);
        free(cams);
        close_fixture(&f);
}
END_TEST

START_TEST(gradcam_refuses_what_it_cannot_explain)
{
        struct fixture f;
        open_fixture(&f);
        float map[4096];
        struct an_error err;
        load_image(&f, 0);
        int top = score_layer(&f.m.net.arch);
        ck_assert_int_eq(gradcam(&f.m.net, f.input, top, 0, map, NULL, &err),
                         AN_E_INVALID);
        ck_assert_int_eq(gradcam(&f.m.net, f.input, 11, 10, map, NULL, &err),
                         AN_E_INVALID);
        int fc = arch_find_layer(&f.m.net.arch, "fc7");
        ck_assert_int_eq(gradcam(&f.m.net, f.input, fc, 0, map, NULL, &err),
                         AN_OK); /* a 1 x 1 "map": the class's evidence */
        close_fixture(&f);
}
END_TEST

static Suite *explain_suite(void)
{
        Suite *s = suite_create("explain");
        TCase *t = tcase_create("pytorch");
        tcase_set_timeout(t, 120);
        tcase_add_test(t, default_features_are_fc7_after_relu);
        tcase_add_test(t, features_by_torchvision_and_paper_names);
        tcase_add_test(t, paper_names_find_layers);
        tcase_add_test(t, gradcam_of_the_top_class_matches_pytorch);
        tcase_add_test(t, gradcam_of_another_class_matches_pytorch);
        tcase_add_test(t, map_resize_is_torch_bilinear);
        tcase_add_test(t, gradcam_refuses_what_it_cannot_explain);
        suite_add_tcase(s, t);
        return s;
}

int main(void)
{
        return run_suite(explain_suite());
}
