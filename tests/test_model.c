/* Model files: reading the fixtures, bit-identical save/reload, and a clear
 * refusal for every way a file can disagree with its architecture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/half.h"
#include "model/model.h"
#include "testutil.h"

static char *temp_path(void)
{
        static char path[64];
        snprintf(path, sizeof path, "/tmp/alexnet-model-XXXXXX");
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        close(fd);
        return path;
}

static uint8_t *slurp(const char *path, size_t *size)
{
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        fseek(f, 0, SEEK_END);
        *size = (size_t)ftell(f);
        rewind(f);
        uint8_t *buf = malloc(*size ? *size : 1);
        ck_assert_uint_eq(fread(buf, 1, *size, f), *size);
        fclose(f);
        return buf;
}

START_TEST(fixture_models_open)
{
        static const char *const names[] = {"nets/owt_small.safetensors",
                                            "nets/paper_small.safetensors",
                                            "nets/half_small.safetensors"};
        struct model m;
        struct an_error err;
        const char *path = fixture_path(names[_i]);
        ck_assert_msg(model_open(&m, path, &err) == AN_OK, "%s: %s", path,
                      err.message);
        ck_assert_ptr_null(m.labels);
        ck_assert_str_eq(
                json_string_value(json_object_get(m.provenance, "source")),
                "tests/fixtures/generate.py");
        ck_assert_str_eq(m.pre.channels, "RGB");
        model_close(&m);
}
END_TEST

/* A preset model with seeded weights, labels and provenance. */
static void make_model(struct model *m)
{
        struct an_error err;
        ck_assert_int_eq(model_from_preset(m, "alexnet-half", 3, &err), AN_OK);
        seeded_uniform(9, 0, model_param_count(m), 0.05f, m->owned_params);
        m->labels = calloc(4, sizeof *m->labels);
        m->labels[0] = strdup("cat");
        m->labels[1] = strdup("dog");
        m->labels[2] = strdup("\"quoted\" \\ label");
        json_object_set_new(m->provenance, "note", json_string("test"));
}

START_TEST(save_then_open_is_bit_identical)
{
        struct model m, back;
        struct an_error err;
        make_model(&m);
        char first[64], second[64];
        strcpy(first, temp_path());
        strcpy(second, temp_path());
        ck_assert_int_eq(model_save(&m, first, ST_F32, &err), AN_OK);
        ck_assert_msg(model_open(&back, first, &err) == AN_OK, "%s",
                      err.message);
        ck_assert_str_eq(back.labels[2], "\"quoted\" \\ label");
        ck_assert_int_eq(back.pre.resize, m.pre.resize);
        for (int i = 0; i < m.net.arch.n_layers; i++) {
                uint64_t n = layer_param_count(&m.net.arch.layers[i],
                                               m.net.shapes[i]);
                if (!n)
                        continue;
                uint64_t w = n - m.net.arch.layers[i].out;
                ck_assert_int_eq(memcmp(back.net.weights[i], m.net.weights[i],
                                        w * sizeof(float)),
                                 0);
        }
        ck_assert_int_eq(model_save(&back, second, ST_F32, &err), AN_OK);
        size_t s1, s2;
        uint8_t *b1 = slurp(first, &s1), *b2 = slurp(second, &s2);
        ck_assert_uint_eq(s1, s2);
        ck_assert_int_eq(memcmp(b1, b2, s1), 0);
        free(b1);
        free(b2);
        model_close(&back);
        model_close(&m);
        unlink(first);
        unlink(second);
}
END_TEST

/* The tool never writes a model it refuses to read: a label or a
 * preprocessing the reader rejects fails the save, and no file appears. */
START_TEST(unreadable_models_are_not_written)
{
        static const char *const bad_labels[] = {"a\tb", "two\nlines",
                                                 "\xff\xfe"};
        struct model m;
        struct an_error err;
        for (int i = 0; i < 4; i++) {
                make_model(&m);
                if (i < 3) {
                        free(m.labels[1]);
                        m.labels[1] = strdup(bad_labels[i]);
                } else {
                        m.pre.resize = 1000000; /* past the reader's 65536 */
                }
                char path[64];
                strcpy(path, temp_path());
                unlink(path);
                ck_assert_int_ne(model_save(&m, path, ST_F32, &err), AN_OK);
                ck_assert_int_ne(access(path, F_OK), 0);
                model_close(&m);
        }
}
END_TEST

START_TEST(half_precision_models_are_widened)
{
        struct model m, back;
        struct an_error err;
        make_model(&m);
        enum st_dtype dtype = _i ? ST_BF16 : ST_F16;
        char *path = temp_path();
        ck_assert_int_eq(model_save(&m, path, dtype, &err), AN_OK);
        ck_assert_int_eq(model_open(&back, path, &err), AN_OK);
        const float *w = m.net.weights[0], *got = back.net.weights[0];
        for (int i = 0; i < 1000; i++) {
                float want = dtype == ST_F16 ? f16_to_f32(f32_to_f16(w[i]))
                                             : bf16_to_f32(f32_to_bf16(w[i]));
                ck_assert_float_eq(got[i], want);
        }
        model_close(&back);
        model_close(&m);
        unlink(path);
}
END_TEST

/* A one-layer architecture: linear 1x4x4 -> 2 (fc.weight [2,16], fc.bias
 * [2]); each case writes a file that disagrees with it in one way. */
static const char tiny_arch[] =
        "{\"name\":\"tiny\",\"input\":[1,4,4],\"layers\":[{\"name\":\"fc\","
        "\"type\":\"linear\",\"out\":2,\"bias\":true}]}";

static const struct {
        const char *arch; /* NULL: no architecture key */
        const char *extra_key, *extra_value;
        int weight_rows; /* 2 is right */
        bool drop_bias, extra_tensor;
        const char *phrase;
} bad_models[] = {
        {NULL, NULL, NULL, 2, false, false, "not an alexnet model"},
        {"{not json", NULL, NULL, 2, false, false, "not valid JSON"},
        {tiny_arch, NULL, NULL, 3, false, false,
         "fc.weight has shape [3, 16], the architecture needs [2, 16]"},
        {tiny_arch, NULL, NULL, 2, true, false, "fc.bias is missing"},
        {tiny_arch, NULL, NULL, 2, false, true, "not part of the arch"},
        {tiny_arch, "labels", "[\"a\",\"b\",\"c\"]", 2, false, false,
         "one per output"},
        {tiny_arch, "labels", "[\"a\",7]", 2, false, false, "entry 1"},
        {tiny_arch, "format", "alexnet-model/99", 2, false, false,
         "is not alexnet-model/1"},
        {tiny_arch, "preprocess", "{\"resize\":0}", 2, false, false,
         "preprocess:"},
        {tiny_arch, "preprocess",
         "{\"resize\":8,\"crop\":[5,5],\"channels\":\"RGB\",\"scale\":1,"
         "\"mean\":[0,0,0],\"std\":[1,1,1]}",
         2, false, false, "crop"},
        {tiny_arch, "provenance", "[1]", 2, false, false, "provenance"},
        {"{\"input\":[1,4,4],\"layers\":[{\"type\":\"linear\",\"out\":-2}]}",
         NULL, NULL, 2, false, false, "out of range"},
};
enum { N_BAD = sizeof bad_models / sizeof bad_models[0] };

START_TEST(bad_model_is_refused)
{
        float data[48] = {0};
        struct st_write_tensor t[3] = {
                {"fc.weight",
                 ST_F32,
                 2,
                 {bad_models[_i].weight_rows, 16},
                 data},
                {"fc.bias", ST_F32, 1, {2}, data},
                {"fc.extra", ST_F32, 1, {2}, data},
        };
        size_t n = bad_models[_i].extra_tensor ? 3
                   : bad_models[_i].drop_bias  ? 1
                                               : 2;
        json_t *meta = json_object();
        if (bad_models[_i].arch)
                json_object_set_new(meta, "architecture",
                                    json_string(bad_models[_i].arch));
        if (bad_models[_i].extra_key)
                json_object_set_new(meta, bad_models[_i].extra_key,
                                    json_string(bad_models[_i].extra_value));
        char *path = temp_path();
        struct an_error err = {0};
        ck_assert_int_eq(st_write(path, meta, t, n, &err), AN_OK);
        json_decref(meta);
        struct model m;
        ck_assert_int_ne(model_open(&m, path, &err), AN_OK);
        ck_assert_msg(strstr(err.message, bad_models[_i].phrase) != NULL,
                      "case %d: '%s' lacks '%s'", _i, err.message,
                      bad_models[_i].phrase);
        unlink(path);
}
END_TEST

START_TEST(integer_tensor_is_refused)
{
        /* An I32 tensor where a float weight belongs. */
        json_t *header =
                json_pack("{s{ssss}s{sss[ii]s[ii]}s{sss[i]s[ii]}}",
                          "__metadata__", "architecture", tiny_arch, "format",
                          "alexnet-model/1", "fc.weight", "dtype", "I32",
                          "shape", 2, 16, "data_offsets", 0, 128, "fc.bias",
                          "dtype", "F32", "shape", 2, "data_offsets", 128, 136);
        char *text = json_dumps(header, JSON_COMPACT);
        char *path = temp_path();
        FILE *f = fopen(path, "wb");
        uint64_t len = strlen(text);
        fwrite(&len, 8, 1, f);
        fputs(text, f);
        for (int i = 0; i < 136; i++)
                fputc(0, f);
        fclose(f);
        struct model m;
        struct an_error err;
        ck_assert_int_eq(model_open(&m, path, &err), AN_E_FORMAT);
        ck_assert(strstr(err.message, "dtype I32") != NULL);
        free(text);
        json_decref(header);
        unlink(path);
}
END_TEST

START_TEST(truncated_model_is_refused)
{
        struct model m;
        struct an_error err;
        make_model(&m);
        char *path = temp_path();
        ck_assert_int_eq(model_save(&m, path, ST_F32, &err), AN_OK);
        model_close(&m);
        size_t size;
        uint8_t *buf = slurp(path, &size);
        const size_t cuts[] = {0, 5, 8, 100, size / 2, size - 1};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
                FILE *f = fopen(path, "wb");
                fwrite(buf, 1, cuts[i], f);
                fclose(f);
                ck_assert_msg(model_open(&m, path, &err) == AN_E_FORMAT,
                              "cut at %zu accepted", cuts[i]);
        }
        free(buf);
        unlink(path);
}
END_TEST

/* The alexnet-owt preset names its tensors as torchvision's AlexNet does:
 * the fixture holds torchvision's own state_dict keys, in order. */
START_TEST(owt_tensor_names_match_torchvision)
{
        struct st_file f;
        fixture_open(&f, "full/alexnet_owt.safetensors");
        json_t *names = json_loads(st_metadata(&f, "tensor_names"), 0, NULL);
        ck_assert_uint_eq(json_array_size(names), 16);
        struct model m;
        struct an_error err;
        ck_assert_int_eq(model_from_preset(&m, "alexnet-owt", 1000, &err),
                         AN_OK);
        size_t k = 0;
        for (int i = 0; i < m.net.arch.n_layers; i++) {
                const struct layer *l = &m.net.arch.layers[i];
                if (l->type != LAYER_CONV && l->type != LAYER_LINEAR)
                        continue;
                char name[80];
                snprintf(name, sizeof name, "%s.weight", l->name);
                ck_assert_str_eq(json_string_value(json_array_get(names, k++)),
                                 name);
                snprintf(name, sizeof name, "%s.bias", l->name);
                ck_assert_str_eq(json_string_value(json_array_get(names, k++)),
                                 name);
        }
        ck_assert_uint_eq(k, 16);
        model_close(&m);
        json_decref(names);
        st_close(&f);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("model");
        TCase *tc = tcase_create("model");
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, fixture_models_open, 0, 3);
        tcase_add_test(tc, save_then_open_is_bit_identical);
        tcase_add_test(tc, unreadable_models_are_not_written);
        tcase_add_loop_test(tc, half_precision_models_are_widened, 0, 2);
        tcase_add_loop_test(tc, bad_model_is_refused, 0, N_BAD);
        tcase_add_test(tc, integer_tensor_is_refused);
        tcase_add_test(tc, truncated_model_is_refused);
        tcase_add_test(tc, owt_tensor_names_match_torchvision);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
