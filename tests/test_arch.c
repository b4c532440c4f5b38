/* Presets have the published sizes; architectures round-trip through JSON;
 * impossible architectures are refused with the layer named. */
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "testutil.h"

static void totals(const struct arch *a, uint64_t *params, uint64_t *macs)
{
        struct shape *shapes = calloc(a->n_layers + 1, sizeof *shapes);
        struct an_error err;
        ck_assert_int_eq(arch_shapes(a, shapes, &err), AN_OK);
        *params = *macs = 0;
        for (int i = 0; i < a->n_layers; i++) {
                *params += layer_param_count(&a->layers[i], shapes[i]);
                *macs += layer_macs(&a->layers[i], shapes[i], shapes[i + 1]);
        }
        free(shapes);
}

/* Figures from the issue: torchvision's 61,100,840 parameters and 714.2 M
 * multiply-adds, the paper's 60,965,224 and 724.4 M, the half-width
 * variant's 16,630,440 and 311.2 M, all for 1000 classes. */
static const struct {
        const char *preset;
        uint64_t params, macs_millions_x10;
} published[] = {
        {"alexnet-owt", 61100840, 7142},
        {"alexnet", 60965224, 7244},
        {"alexnet-half", 16630440, 3112},
};

START_TEST(preset_sizes_match_published_figures)
{
        struct arch a;
        struct an_error err;
        ck_assert_int_eq(arch_from_preset(&a, published[_i].preset, 1000, &err),
                         AN_OK);
        uint64_t params, macs;
        totals(&a, &params, &macs);
        ck_assert_uint_eq(params, published[_i].params);
        ck_assert_uint_eq((macs + 50000) / 100000,
                          published[_i].macs_millions_x10);
        arch_free(&a);
}
END_TEST

START_TEST(paper_preset_at_224_with_padding_has_same_sizes)
{
        struct arch a;
        struct an_error err;
        ck_assert_int_eq(arch_from_preset(&a, "alexnet", 1000, &err), AN_OK);
        a.input.h = a.input.w = 224;
        struct window *w = &a.layers[0].win;
        w->pad_top = w->pad_left = w->pad_bottom = w->pad_right = 2;
        uint64_t params, macs;
        totals(&a, &params, &macs);
        ck_assert_uint_eq(params, 60965224);
        ck_assert_uint_eq((macs + 50000) / 100000, 7244);
        arch_free(&a);
}
END_TEST

START_TEST(presets_round_trip_through_json)
{
        struct arch a, b;
        struct an_error err;
        ck_assert_int_eq(arch_from_preset(&a, arch_preset_names[_i], 10, &err),
                         AN_OK);
        json_t *ja = arch_to_json(&a);
        ck_assert_int_eq(arch_from_json(&b, ja, &err), AN_OK);
        json_t *jb = arch_to_json(&b);
        ck_assert(json_equal(ja, jb));
        ck_assert_int_eq(a.n_layers, b.n_layers);
        ck_assert_int_eq(
                memcmp(a.layers, b.layers, a.n_layers * sizeof *a.layers), 0);
        json_decref(ja);
        json_decref(jb);
        arch_free(&a);
        arch_free(&b);
}
END_TEST

START_TEST(unknown_preset_is_refused)
{
        struct arch a;
        struct an_error err;
        ck_assert_int_eq(arch_from_preset(&a, "vgg16", 10, &err), AN_E_INVALID);
        ck_assert(strstr(err.message, "vgg16") != NULL);
}
END_TEST

/* Each architecture is refused; the message contains the phrase. */
static const struct {
        const char *json;
        const char *phrase;
} invalid[] = {
        {"{\"input\":[4,8,8],\"layers\":[{\"name\":\"c\",\"type\":\"conv\","
         "\"out\":6,\"kernel\":3,\"groups\":3}]}",
         "groups do not divide"},
        {"{\"input\":[3,8,8],\"layers\":[{\"name\":\"c\",\"type\":\"conv\","
         "\"out\":6,\"kernel\":11}]}",
         "does not fit"},
        {"{\"input\":[3,8,8],\"layers\":[{\"type\":\"conv2d\"}]}",
         "unknown type"},
        {"{\"input\":[3,8,8],\"layers\":[{\"name\":\"c\",\"type\":\"conv\","
         "\"out\":6,\"dilation\":2}]}",
         "\"dilation\" is not a parameter"},
        {"{\"input\":[3,8,8],\"layers\":[{\"name\":\"p\",\"type\":\"maxpool\","
         "\"kernel\":3,\"pad\":3}]}",
         "smaller than the pooling kernel"},
        {"{\"input\":[3,8,8],\"layers\":[{\"name\":\"s\",\"type\":\"softmax\"}"
         "]}",
         "flat input"},
        {"{\"input\":[3,8,8],\"layers\":[{\"name\":\"r\",\"type\":\"relu\"},"
         "{\"name\":\"r\",\"type\":\"relu\"}]}",
         "used twice"},
        {"{\"input\":[3,8,8],\"layers\":[]}", "needs 1 to"},
        {"{\"input\":[3,8],\"layers\":[{\"type\":\"relu\"}]}", "needs"},
        {"{\"input\":[0,8,8],\"layers\":[{\"type\":\"relu\"}]}",
         "out of range"},
        {"{\"input\":[3,8,8],\"layers\":[{\"name\":\"d\",\"type\":\"dropout\","
         "\"p\":1.0}]}",
         "[0, 1)"},
        {"{\"input\":[3,8,8],\"layers\":[{\"name\":\"n\",\"type\":\"lrn\","
         "\"k\":0}]}",
         "k > 0"},
        {"{\"input\":[3,8,8],\"layers\":[{\"name\":\"l\",\"type\":\"linear\","
         "\"out\":0}]}",
         "out of range"},
        {"{\"input\":[3,8,8],\"layers\":[{\"name\":\"a b\",\"type\":\"relu\"}"
         "]}",
         "printable"},
        {"{\"input\":[3,8,8],\"layers\":[{\"name\":\"c\",\"type\":\"conv\","
         "\"out\":6,\"kernel\":[3,3,3]}]}",
         "array of 2"},
        {"{\"input\":[65536,65536,65536],\"layers\":[{\"type\":\"relu\"}]}",
         "out of range"},
        {"{\"input\":[1,30000,30000],\"layers\":[{\"name\":\"c\",\"type\":"
         "\"conv\",\"out\":2,\"kernel\":1}]}",
         "too large"},
        {"{\"input\":[1,8,8],\"layers\":[{\"name\":\"c\",\"type\":\"conv\","
         "\"out\":65536,\"kernel\":8},{\"name\":\"l\",\"type\":\"linear\","
         "\"out\":16777216}]}",
         "too many parameters"},
};
enum { N_INVALID = sizeof invalid / sizeof invalid[0] };

START_TEST(invalid_architecture_is_refused)
{
        json_error_t jerr;
        json_t *j = json_loads(invalid[_i].json, 0, &jerr);
        ck_assert_msg(j != NULL, "case %d: %s", _i, jerr.text);
        struct arch a;
        struct an_error err = {0};
        enum an_status st = arch_from_json(&a, j, &err);
        ck_assert_msg(st != AN_OK, "case %d accepted", _i);
        ck_assert_msg(strstr(err.message, invalid[_i].phrase) != NULL,
                      "case %d: '%s' lacks '%s'", _i, err.message,
                      invalid[_i].phrase);
        ck_assert_ptr_null(a.layers);
        json_decref(j);
}
END_TEST

START_TEST(shorthand_forms_are_read)
{
        json_t *j = json_loads(
                "{\"input\":[2,9,9],\"layers\":[{\"type\":\"conv\",\"out\":4,"
                "\"kernel\":3,\"stride\":2,\"pad\":[1,0]},{\"type\":\"lrn\"}]}",
                0, NULL);
        struct arch a;
        struct an_error err;
        ck_assert_int_eq(arch_from_json(&a, j, &err), AN_OK);
        struct window w = a.layers[0].win;
        ck_assert_int_eq(w.kernel_h, 3);
        ck_assert_int_eq(w.kernel_w, 3);
        ck_assert_int_eq(w.stride_w, 2);
        ck_assert_int_eq(w.pad_top, 1);
        ck_assert_int_eq(w.pad_left, 0);
        ck_assert_int_eq(w.pad_bottom, 1);
        ck_assert_int_eq(w.pad_right, 0);
        ck_assert_str_eq(a.layers[0].name, "conv0");
        ck_assert_str_eq(a.layers[1].name, "lrn1");
        ck_assert_str_eq(a.name, "custom");
        arch_free(&a);
        json_decref(j);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("arch");
        TCase *tc = tcase_create("arch");
        tcase_add_loop_test(tc, preset_sizes_match_published_figures, 0, 3);
        tcase_add_test(tc, paper_preset_at_224_with_padding_has_same_sizes);
        tcase_add_loop_test(tc, presets_round_trip_through_json, 0, 4);
        tcase_add_test(tc, unknown_preset_is_refused);
        tcase_add_loop_test(tc, invalid_architecture_is_refused, 0, N_INVALID);
        tcase_add_test(tc, shorthand_forms_are_read);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
