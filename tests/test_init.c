/* Initialisation (lib/train/init.c): the paper's N(0, 0.01) with biases 1
 * in conv2, conv4, conv5 and the hidden fully connected layers (section
 * 5); He's N(0, 2 / fan_in) with zero biases; the same seed gives the same
 * weights, another seed others; first_layer leaves earlier layers alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "train/init.h"

/* Mean and standard deviation of layer i's weights. */
static void weight_stats(const struct model *m, int i, double *mean, double *sd,
                         size_t *count)
{
        const struct layer *l = &m->net.arch.layers[i];
        uint64_t n = layer_param_count(l, m->net.shapes[i]) -
                     (l->bias ? (uint64_t)l->out : 0);
        double s = 0, s2 = 0;
        for (uint64_t j = 0; j < n; j++) {
                s += m->net.weights[i][j];
                s2 += (double)m->net.weights[i][j] * m->net.weights[i][j];
        }
        *mean = s / n;
        *sd = sqrt(s2 / n - *mean * *mean);
        *count = n;
}

START_TEST(paper_init_is_the_papers)
{
        struct model m;
        struct an_error err;
        ck_assert_int_eq(model_from_preset(&m, "alexnet-owt", 10, &err), AN_OK);
        model_init_weights(&m, INIT_PAPER, 3, 0);
        int conv = 0, linear = 0, n_linear = 0;
        for (int i = 0; i < m.net.arch.n_layers; i++)
                n_linear += m.net.arch.layers[i].type == LAYER_LINEAR;
        for (int i = 0; i < m.net.arch.n_layers; i++) {
                const struct layer *l = &m.net.arch.layers[i];
                if (!m.net.weights[i])
                        continue;
                conv += l->type == LAYER_CONV;
                linear += l->type == LAYER_LINEAR;
                double mean, sd;
                size_t n;
                weight_stats(&m, i, &mean, &sd, &n);
                ck_assert_msg(fabs(sd / 0.01 - 1) < 6 / sqrt(2.0 * n) + 0.01,
                              "%s: sd %g", l->name, sd);
                ck_assert(fabs(mean) < 6 * 0.01 / sqrt((double)n));
                bool one = (l->type == LAYER_CONV &&
                            (conv == 2 || conv == 4 || conv == 5)) ||
                           (l->type == LAYER_LINEAR && linear < n_linear);
                for (int j = 0; j < l->out; j++)
                        ck_assert_float_eq(m.net.biases[i][j], one ? 1 : 0);
        }
        ck_assert_int_eq(conv, 5);
        ck_assert_int_eq(linear, 3);
        model_close(&m);
}
END_TEST

START_TEST(he_init_scales_by_fan_in)
{
        struct model m;
        struct an_error err;
        ck_assert_int_eq(model_from_preset(&m, "alexnet-half", 10, &err),
                         AN_OK);
        model_init_weights(&m, INIT_HE, 3, 0);
        for (int i = 0; i < m.net.arch.n_layers; i++) {
                const struct layer *l = &m.net.arch.layers[i];
                if (!m.net.weights[i])
                        continue;
                double mean, sd;
                size_t n;
                weight_stats(&m, i, &mean, &sd, &n);
                double want = sqrt(2.0 / (double)(n / (size_t)l->out));
                ck_assert_msg(fabs(sd / want - 1) < 6 / sqrt(2.0 * n) + 0.01,
                              "%s: sd %g, want %g", l->name, sd, want);
                for (int j = 0; j < l->out; j++)
                        ck_assert_float_eq(m.net.biases[i][j], 0);
        }
        model_close(&m);
}
END_TEST

START_TEST(seed_decides_and_first_layer_keeps)
{
        struct model a, b;
        struct an_error err;
        ck_assert_int_eq(model_from_preset(&a, "alexnet-small", 10, &err),
                         AN_OK);
        ck_assert_int_eq(model_from_preset(&b, "alexnet-small", 10, &err),
                         AN_OK);
        size_t n = model_param_count(&a);
        model_init_weights(&a, INIT_HE, 42, 0);
        model_init_weights(&b, INIT_HE, 42, 0);
        ck_assert_mem_eq(a.owned_params, b.owned_params, n * sizeof(float));
        model_init_weights(&b, INIT_HE, 43, 0);
        ck_assert(memcmp(a.owned_params, b.owned_params, n * sizeof(float)));
        /* from the last linear layer on: the rest stays seed 43's */
        int last = 0;
        for (int i = 0; i < a.net.arch.n_layers; i++)
                if (a.net.arch.layers[i].type == LAYER_LINEAR)
                        last = i;
        float first = b.net.weights[0][0];
        model_init_weights(&b, INIT_HE, 42, last);
        ck_assert_float_eq(b.net.weights[0][0], first);
        uint64_t tail =
                layer_param_count(&a.net.arch.layers[last], a.net.shapes[last]);
        ck_assert_mem_eq(a.net.weights[last], b.net.weights[last],
                         (tail - (uint64_t)a.net.arch.layers[last].out) *
                                 sizeof(float));
        model_close(&a);
        model_close(&b);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("init");
        TCase *tc = tcase_create("init");
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, paper_init_is_the_papers);
        tcase_add_test(tc, he_init_scales_by_fan_in);
        tcase_add_test(tc, seed_decides_and_first_layer_keeps);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
