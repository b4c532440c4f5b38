/* Importers against PyTorch: each converted fixture (tests/fixtures/convert,
 * made by generate_convert.py) computes what PyTorch computed; every broken
 * or hostile file is refused with a clear reason. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/import.h"
#include "model/model.h"
#include "testutil.h"

#define NET_TOL 1e-4

static const struct {
        const char *file, *weights, *expected;
} good[] = {
        {"convert/owt_small.pth", NULL, "owt_small"},
        {"convert/owt_small_legacy.pth", NULL, "owt_small"},
        /* its first storage has 256 MB more than the tensor uses, deflated:
         * the same weights (and cli_faults.sh checks that the rest is
         * never inflated) */
        {"convert/deflated_storage.pth", NULL, "owt_small"},
        {"convert/owt_small_f16.pth", NULL, "owt_small_f16"},
        {"convert/owt_small_bf16.pth", NULL, "owt_small_bf16"},
        {"convert/paper_small.pth", NULL, "paper_small"},
        {"convert/owt_small.onnx", NULL, "owt_small"},
        {"convert/bvlc_small.onnx", NULL, "bvlc_small"},
        {"convert/darknet_small.cfg", "convert/darknet_small.weights",
         "darknet_small"},
};
enum { N_GOOD = sizeof good / sizeof good[0] };

static enum an_status import_any(struct imported *im, const char *file,
                                 const char *weights, struct an_error *err)
{
        char path[4096];
        snprintf(path, sizeof path, "%s", fixture_path(file));
        if (weights)
                return import_darknet(im, path, fixture_path(weights), err);
        if (strstr(file, ".onnx"))
                return import_onnx(im, path, err);
        return import_torch(im, path, err);
}

START_TEST(import_matches_pytorch)
{
        struct imported im;
        struct model m;
        struct an_error err;
        ck_assert_msg(import_any(&im, good[_i].file, good[_i].weights, &err) ==
                              AN_OK,
                      "%s: %s", good[_i].file, err.message);
        ck_assert_msg(model_from_imported(&m, &im, &err) == AN_OK, "%s: %s",
                      good[_i].file, err.message);
        imported_free(&im);
        char rel[128];
        snprintf(rel, sizeof rel, "convert/%s.expected.safetensors",
                 good[_i].expected);
        struct st_file f;
        fixture_open(&f, rel);
        size_t nx, ny;
        float *x = fixture_tensor(&f, "x", &nx),
              *y = fixture_tensor(&f, "y", &ny);
        int batch = (int)(nx / shape_count(m.net.shapes[0]));
        ck_assert_uint_eq(nx, batch * shape_count(m.net.shapes[0]));
        const float *out;
        ck_assert_int_eq(net_forward(&m.net, x, batch, &out, &err), AN_OK);
        ck_assert_uint_eq(ny, batch * net_outputs(&m.net));
        assert_close(out, y, ny, NET_TOL, good[_i].file);
        free(x);
        free(y);
        st_close(&f);
        model_close(&m);
}
END_TEST

START_TEST(torchvision_layout_is_recognised)
{
        struct imported im;
        struct an_error err;
        ck_assert_int_eq(import_any(&im, "convert/owt_small.pth", NULL, &err),
                         AN_OK);
        /* features.0 ... classifier.6 as in torchvision, with the pools
         * and dropouts where torchvision's indices put them */
        static const char *const names[] = {
                "features.0",   "features.1",   "features.2",   "features.3",
                "features.4",   "features.5",   "features.6",   "features.7",
                "features.8",   "features.9",   "features.10",  "features.11",
                "features.12",  "avgpool",      "classifier.0", "classifier.1",
                "classifier.2", "classifier.3", "classifier.4", "classifier.5",
                "classifier.6"};
        ck_assert_int_eq(im.arch.n_layers, 21);
        for (int i = 0; i < 21; i++)
                ck_assert_str_eq(im.arch.layers[i].name, names[i]);
        ck_assert_str_eq(im.pre.channels, "RGB");
        imported_free(&im);
}
END_TEST

START_TEST(full_owt_state_dict_is_the_preset)
{
        /* A state_dict with torchvision's full shapes is named alexnet-owt:
         * built here from the preset, saved as a model and re-read as the
         * tensors an importer would produce. */
        struct arch a;
        struct an_error err;
        ck_assert_int_eq(arch_from_preset(&a, "alexnet-owt", 1000, &err),
                         AN_OK);
        struct shape shapes[32];
        arch_shapes(&a, shapes, &err);
        struct tensor_set ts = {0};
        for (int i = 0; i < a.n_layers; i++) {
                int64_t dims[2][4];
                int ranks[2];
                int n = layer_param_tensors(&a.layers[i], shapes[i], dims,
                                            ranks);
                for (int t = 0; t < n; t++) {
                        char name[80];
                        snprintf(name, sizeof name, "%s.%s", a.layers[i].name,
                                 t ? "bias" : "weight");
                        ck_assert_ptr_nonnull(tensor_set_add(
                                &ts, name, ranks[t], dims[t], &err));
                }
        }
        struct arch inferred;
        ck_assert_int_eq(arch_from_state_dict(&inferred, &ts, &err), AN_OK);
        ck_assert_str_eq(inferred.name, "alexnet-owt");
        arch_free(&inferred);
        arch_free(&a);
        tensor_set_free(&ts);
}
END_TEST

static const struct {
        const char *file, *weights, *phrase;
} bad[] = {
        {"convert/bad/truncated_zip.pth", NULL, ""},
        {"convert/bad/corrupt_zip.pth", NULL, "zip"},
        {"convert/bad/hostile.pth", NULL, "posix.system"},
        {"convert/bad/bad_opcode.pth", NULL, "pickle"},
        {"convert/bad/short_storage.pth", NULL, "storage"},
        {"convert/bad/truncated_legacy.pth", NULL, "truncated"},
        {"convert/bad/not_a_model.pth", NULL, "not a PyTorch file"},
        {"convert/bad/expanded.pth", NULL,
         "classifier.6.weight: a view of 1073741824 elements repeating a "
         "1-element storage"},
        {"convert/bad/truncated.onnx", NULL, "not a valid ONNX"},
        {"convert/bad/bad_length.onnx", NULL, "not a valid ONNX"},
        {"convert/darknet_small.cfg", "convert/bad/short.weights",
         "shorter than its cfg"},
        {"convert/darknet_small.cfg", "convert/owt_small.pth",
         "weights header"},
        {"convert/darknet_small.cfg", "convert/bad/long.weights",
         "more than its cfg"},
};
enum { N_BAD = sizeof bad / sizeof bad[0] };

START_TEST(bad_file_is_refused)
{
        struct imported im;
        struct an_error err = {0};
        enum an_status st =
                import_any(&im, bad[_i].file, bad[_i].weights, &err);
        ck_assert_msg(st != AN_OK, "%s accepted", bad[_i].file);
        ck_assert_msg(strstr(err.message, bad[_i].phrase) != NULL,
                      "%s: '%s' lacks '%s'", bad[_i].file, err.message,
                      bad[_i].phrase);
        ck_assert(strchr(err.message, '\n') == NULL);
        /* the hostile pickle's command never ran */
        ck_assert(access("/tmp/alexnet-pickle-ran", F_OK) != 0);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("import");
        TCase *tc = tcase_create("import");
        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, import_matches_pytorch, 0, N_GOOD);
        tcase_add_test(tc, torchvision_layout_is_recognised);
        tcase_add_test(tc, full_owt_state_dict_is_the_preset);
        tcase_add_loop_test(tc, bad_file_is_refused, 0, N_BAD);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
