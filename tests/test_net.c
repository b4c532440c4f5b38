/* Whole forward passes against PyTorch: small networks of each preset's
 * structure (fixture model files), and the full-size alexnet-owt and alexnet
 * presets with weights generated here from the seed generate.py used. */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "testutil.h"

/* Agreement the issue asks of whole-network logits. */
#define NET_TOL 1e-4

static const char *const small_nets[] = {"owt_small", "paper_small",
                                         "half_small"};

/* Runs the small network `name` (weights prepacked in `precision` unless
 * unpacked) on its fixture batch, then one image at a time, against the
 * logits in nets/NAME.REFERENCE.safetensors. */
static void check_small_net(const char *name, bool prepack,
                            enum gemm_precision precision,
                            const char *reference_name)
{
        char rel[128];
        struct model m;
        struct st_file expected, reference;
        struct an_error err;
        snprintf(rel, sizeof rel, "nets/%s.safetensors", name);
        ck_assert_int_eq(model_open(&m, fixture_path(rel), &err), AN_OK);
        if (prepack)
                ck_assert_int_eq(net_prepack(&m.net, precision, &err), AN_OK);
        snprintf(rel, sizeof rel, "nets/%s.expected.safetensors", name);
        fixture_open(&expected, rel);
        snprintf(rel, sizeof rel, "nets/%s.%s.safetensors", name,
                 reference_name);
        fixture_open(&reference, rel);
        size_t n_x, n_logits;
        float *x = fixture_tensor(&expected, "x", &n_x);
        float *want = fixture_tensor(&reference, "logits", &n_logits);
        size_t in = shape_count(m.net.shapes[0]), out = net_outputs(&m.net);
        int batch = (int)(n_x / in);
        ck_assert_uint_eq(n_logits, batch * out);
        const float *got;
        ck_assert_int_eq(net_forward(&m.net, x, batch, &got, &err), AN_OK);
        assert_close(got, want, n_logits, NET_TOL, name);

        /* The fixture batch repeated past SGEMM_GEMV_MAX_N images: the
         * batch size from which FP32 weights are packed too. */
        int copies = SGEMM_GEMV_MAX_N / batch + 1;
        float *xs = malloc(n_x * copies * sizeof *xs);
        for (int r = 0; r < copies; r++)
                memcpy(xs + r * n_x, x, n_x * sizeof *xs);
        ck_assert_int_eq(net_forward(&m.net, xs, batch * copies, &got, &err),
                         AN_OK);
        for (int r = 0; r < copies; r++)
                assert_close(got + r * n_logits, want, n_logits, NET_TOL,
                             "repeated batch");
        free(xs);
        for (int i = 0; prepack && i < m.net.arch.n_layers; i++)
                if (m.net.weights[i])
                        ck_assert_msg(m.net.packed[i] || m.net.winograd[i],
                                      "layer %d not packed", i);

        /* One sample at a time gives the same answers as the batch. */
        for (int b = 0; b < batch; b++) {
                ck_assert_int_eq(net_forward(&m.net, x + b * in, 1, &got, &err),
                                 AN_OK);
                assert_close(got, want + b * out, out, NET_TOL, "batch of 1");
        }
        free(x);
        free(want);
        st_close(&expected);
        st_close(&reference);
        model_close(&m);
}

START_TEST(small_net_matches_pytorch)
{
        check_small_net(small_nets[_i], false, GEMM_FP32, "expected");
}
END_TEST

/* With weights prepacked (as predict uses them): FP32 must still match
 * PyTorch's logits, BF16 must match PyTorch's logits for the fully
 * connected weights rounded to bfloat16, and where the CPU has
 * AVX512_BF16 the conv weights and inputs too (nets/NAME.bf16.safetensors
 * and NAME.bf16dot.safetensors, generate_bf16.py), at the batch's size
 * and one image at a time (the GEMV path). */
START_TEST(prepacked_net_matches_pytorch)
{
        bool bf16 = _i % 2;
        const char *reference = "expected";
        if (bf16)
                reference = sgemm_bf16_dot() ? "bf16dot" : "bf16";
        check_small_net(small_nets[_i / 2], true, bf16 ? GEMM_BF16 : GEMM_FP32,
                        reference);
}
END_TEST

/* Where the CPU lacks AVX512_BF16 (here: the AVX2 kernel, whose tiles
 * have no bfloat16 twin), bf16 keeps conv layers in FP32 and widens the
 * fully connected weights: PyTorch's logits for those weights rounded. */
START_TEST(bf16_without_dot_product_matches_pytorch)
{
        const char *saved = sgemm_kernel_name();
        if (!sgemm_use_kernel("avx2"))
                return; /* this CPU cannot run it */
        ck_assert(!sgemm_bf16_dot());
        check_small_net(small_nets[_i], true, GEMM_BF16, "bf16");
        ck_assert(sgemm_use_kernel(saved));
}
END_TEST

/* FP32 packs lazily (from the second pass, or the first large batch): an
 * image's logits must have the same bits before and after packing. */
START_TEST(fp32_packing_does_not_change_bits)
{
        char rel[128];
        struct model m;
        struct st_file expected;
        struct an_error err;
        snprintf(rel, sizeof rel, "nets/%s.safetensors", small_nets[_i]);
        ck_assert_int_eq(model_open(&m, fixture_path(rel), &err), AN_OK);
        ck_assert_int_eq(net_prepack(&m.net, GEMM_FP32, &err), AN_OK);
        snprintf(rel, sizeof rel, "nets/%s.expected.safetensors",
                 small_nets[_i]);
        fixture_open(&expected, rel);
        size_t n_x, in = shape_count(m.net.shapes[0]);
        size_t out = net_outputs(&m.net);
        float *x = fixture_tensor(&expected, "x", &n_x);
        float *xs = malloc(8 * in * sizeof *xs);
        float *before = malloc(out * sizeof *before);
        for (int r = 0; r < 8; r++)
                memcpy(xs + r * in, x, in * sizeof *xs);
        const float *got;
        ck_assert_int_eq(net_forward(&m.net, x, 1, &got, &err), AN_OK);
        memcpy(before, got, out * sizeof *got);
        /* one pass: nothing packed */
        ck_assert(!m.net.packed[0] && !m.net.winograd[0]);
        /* a large batch packs every layer (its own sums, over another N,
         * may differ from the single image's in the last bits: not
         * compared) */
        ck_assert_int_eq(net_forward(&m.net, xs, 8, &got, &err), AN_OK);
        ck_assert(m.net.packed[0] || m.net.winograd[0]);
        ck_assert_int_eq(net_forward(&m.net, x, 1, &got, &err), AN_OK);
        ck_assert_int_eq(memcmp(got, before, out * sizeof *got), 0);
        free(x);
        free(xs);
        free(before);
        st_close(&expected);
        model_close(&m);
}
END_TEST

/* Fills every parameter of m, in layer order, from the seeded stream. */
static void seed_params(struct model *m, uint64_t seed)
{
        uint64_t offset = 0;
        for (int i = 0; i < m->net.arch.n_layers; i++) {
                const struct layer *l = &m->net.arch.layers[i];
                int64_t dims[2][4];
                int ranks[2];
                int n = layer_param_tensors(l, m->net.shapes[i], dims, ranks);
                for (int t = 0; t < n; t++) {
                        float *dst = (float *)(t ? m->net.biases[i]
                                                 : m->net.weights[i]);
                        size_t count = 1;
                        for (int d = 0; d < ranks[t]; d++)
                                count *= (size_t)dims[t][d];
                        seeded_uniform(seed, offset, count,
                                       seeded_bound(ranks[t], dims[t]), dst);
                        offset += count;
                }
        }
}

static const char *const full_nets[] = {"alexnet_owt", "alexnet"};

START_TEST(full_size_preset_matches_pytorch)
{
        char rel[128];
        snprintf(rel, sizeof rel, "full/%s.safetensors", full_nets[_i]);
        struct st_file expected;
        fixture_open(&expected, rel);
        size_t n_logits;
        float *want = fixture_tensor(&expected, "logits", &n_logits);
        int batch = atoi(st_metadata(&expected, "batch"));
        uint64_t weight_seed =
                strtoull(st_metadata(&expected, "weight_seed"), NULL, 10);
        uint64_t input_seed =
                strtoull(st_metadata(&expected, "input_seed"), NULL, 10);

        struct model m;
        struct an_error err;
        ck_assert_int_eq(model_from_preset(&m, st_metadata(&expected, "preset"),
                                           1000, &err),
                         AN_OK);
        seed_params(&m, weight_seed);
        size_t in = shape_count(m.net.shapes[0]);
        float *x = malloc(batch * in * sizeof *x);
        seeded_uniform(input_seed, 0, batch * in, 1.0f, x);
        const float *got;
        ck_assert_int_eq(net_forward(&m.net, x, batch, &got, &err), AN_OK);
        ck_assert_uint_eq(n_logits, batch * net_outputs(&m.net));
        assert_close(got, want, n_logits, NET_TOL, full_nets[_i]);
        free(x);
        free(want);
        model_close(&m);
        st_close(&expected);
}
END_TEST

START_TEST(missing_weights_are_an_error)
{
        struct arch a;
        struct net net;
        struct an_error err;
        ck_assert_int_eq(arch_from_preset(&a, "alexnet-half", 4, &err), AN_OK);
        ck_assert_int_eq(net_init(&net, &a, &err), AN_OK);
        float *x = calloc(shape_count(net.shapes[0]), sizeof *x);
        const float *out;
        ck_assert_int_eq(net_forward(&net, x, 1, &out, &err), AN_E_INVALID);
        ck_assert(strstr(err.message, "features.0") != NULL);
        ck_assert_int_eq(net_forward(&net, x, 0, &out, &err), AN_E_INVALID);
        free(x);
        net_free(&net);
        arch_free(&a);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("net");
        TCase *tc = tcase_create("net");
        /* The full-size passes run unoptimised under the sanitizers too. */
        tcase_set_timeout(tc, 600);
        tcase_add_loop_test(tc, small_net_matches_pytorch, 0, 3);
        tcase_add_loop_test(tc, prepacked_net_matches_pytorch, 0, 6);
        tcase_add_loop_test(tc, bf16_without_dot_product_matches_pytorch, 0, 3);
        tcase_add_loop_test(tc, fp32_packing_does_not_change_bits, 0, 3);
        tcase_add_loop_test(tc, full_size_preset_matches_pytorch, 0, 2);
        tcase_add_test(tc, missing_weights_are_an_error);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
