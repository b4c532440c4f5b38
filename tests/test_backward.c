/* Every layer's backward pass against central finite differences of its
 * forward pass, on small random shapes: the loss is sum(r * y) for a fixed
 * random r, so dL/dy = r. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "layers/activation.h"
#include "layers/activation.h"
#include "layers/avgpool.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/lrn.h"
#include "layers/maxpool.h"
#include "layers/linear.h"
#include "testutil.h"

/* float32 central differences: an error of about eps^2 from curvature and
 * 1e-7 / eps from rounding. */
#define EPS 1e-2
#define TOL 2e-2

struct problem {
        int batch;
        struct shape in, out;
        float *x, *w, *b, *r; /* input, parameters, loss weights */
        size_t nx, nw, nb, ny;
};

static float *random_buffer(size_t n, uint64_t seed, float scale)
{
        float *p = malloc((n ? n : 1) * sizeof *p);
        seeded_uniform(seed, 0, n, scale, p);
        return p;
}

typedef void (*forward_fn)(const struct problem *pr, const float *x,
                           const float *w, const float *b, float *y);

static double loss_of(const struct problem *pr, forward_fn f, const float *x,
                      const float *w, const float *b)
{
        float *y = malloc(pr->ny * sizeof *y);
        f(pr, x, w, b, y);
        double sum = 0;
        for (size_t i = 0; i < pr->ny; i++)
                sum += (double)pr->r[i] * y[i];
        free(y);
        return sum;
}

/* Checks analytic gradient g of buffer v (n values) at a sample of
 * positions against central differences. */
/* Every step-th element of v. */
static void check_elements(const struct problem *pr, forward_fn f, float *v,
                           size_t n, const float *g, const char *what,
                           size_t step)
{
        for (size_t i = 0; i < n; i += step) {
                float saved = v[i];
                v[i] = saved + (float)EPS;
                double plus = loss_of(pr, f, pr->x, pr->w, pr->b);
                v[i] = saved - (float)EPS;
                double minus = loss_of(pr, f, pr->x, pr->w, pr->b);
                v[i] = saved;
                double numeric = (plus - minus) / (2 * EPS);
                double scale = fabs(numeric) > 1 ? fabs(numeric) : 1;
                ck_assert_msg(fabs(numeric - g[i]) <= TOL * scale,
                              "%s[%zu]: analytic %.6g, numeric %.6g", what, i,
                              g[i], numeric);
        }
}

/* Some 40 elements of v, spread over it. */
static void check_buffer(const struct problem *pr, forward_fn f, float *v,
                         size_t n, const float *g, const char *what)
{
        check_elements(pr, f, v, n, g, what, n / 40 + 1);
}

static void problem_free(struct problem *pr)
{
        free(pr->x);
        free(pr->w);
        free(pr->b);
        free(pr->r);
}

/* ---- conv ---- */

static struct conv_params conv_p;

static void conv_fwd(const struct problem *pr, const float *x, const float *w,
                     const float *b, float *y)
{
        ck_assert_int_eq(conv_forward(&conv_p, pr->batch, pr->in, x, w, b,
                                      false, y, NULL, NULL, NULL),
                         AN_OK);
}

static void check_conv(struct conv_params p, int batch, struct shape in)
{
        conv_p = p;
        struct problem pr = {.batch = batch,
                             .in = in,
                             .out = {p.out_c, window_out_h(&p.win, in.h),
                                     window_out_w(&p.win, in.w)}};
        pr.nx = shape_count(in) * batch;
        pr.nw = (size_t)p.out_c * (p.in_c / p.groups) * p.win.kernel_h *
                p.win.kernel_w;
        pr.nb = p.out_c;
        pr.ny = shape_count(pr.out) * batch;
        pr.x = random_buffer(pr.nx, 1, 1);
        pr.w = random_buffer(pr.nw, 2, 0.5f);
        pr.b = random_buffer(pr.nb, 3, 0.5f);
        pr.r = random_buffer(pr.ny, 4, 1);
        float *dx = malloc(pr.nx * sizeof *dx), *dw = malloc(pr.nw * 4);
        float *db = malloc(pr.nb * 4);
        float *ws = malloc(conv_backward_workspace_floats(&p, in, batch) * 4);
        ck_assert_int_eq(
                conv_backward(&p, batch, in, pr.x, pr.w, pr.r, dx, dw, db, ws),
                AN_OK);
        check_buffer(&pr, conv_fwd, pr.x, pr.nx, dx, "conv dx");
        check_buffer(&pr, conv_fwd, pr.w, pr.nw, dw, "conv dw");
        check_buffer(&pr, conv_fwd, pr.b, pr.nb, db, "conv db");
        free(dx);
        free(dw);
        free(db);
        free(ws);
        problem_free(&pr);
}

START_TEST(conv_gradients)
{
        check_conv((struct conv_params){3, 4, 1, {3, 3, 1, 1, 1, 1, 1, 1}}, 2,
                   (struct shape){3, 6, 7});
        check_conv((struct conv_params){4, 6, 2, {5, 3, 2, 1, 2, 0, 1, 1}}, 3,
                   (struct shape){4, 9, 8});
        check_conv((struct conv_params){2, 2, 1, {11, 11, 4, 4, 2, 2, 2, 2}}, 1,
                   (struct shape){2, 19, 19});
}
END_TEST

/* ---- linear ---- */

static int lin_out;

static void linear_fwd(const struct problem *pr, const float *x, const float *w,
                       const float *b, float *y)
{
        float *ws = malloc((size_t)lin_out * pr->batch * sizeof *ws);
        linear_forward((int)shape_count(pr->in), lin_out, pr->batch, x, w, b,
                       false, y, ws, NULL);
        free(ws);
}

START_TEST(linear_gradients)
{
        struct problem pr = {.batch = 3, .in = {2, 3, 2}, .out = {5, 1, 1}};
        lin_out = 5;
        pr.nx = 36;
        pr.nw = 5 * 12;
        pr.nb = 5;
        pr.ny = 15;
        pr.x = random_buffer(pr.nx, 5, 1);
        pr.w = random_buffer(pr.nw, 6, 0.5f);
        pr.b = random_buffer(pr.nb, 7, 0.5f);
        pr.r = random_buffer(pr.ny, 8, 1);
        float dx[36], dw[60], db[5];
        ck_assert_int_eq(
                linear_backward(12, 5, 3, pr.x, pr.w, pr.r, dx, dw, db), AN_OK);
        check_buffer(&pr, linear_fwd, pr.x, pr.nx, dx, "linear dx");
        check_buffer(&pr, linear_fwd, pr.w, pr.nw, dw, "linear dw");
        check_buffer(&pr, linear_fwd, pr.b, pr.nb, db, "linear db");
        problem_free(&pr);
}
END_TEST

/* ---- parameter-free layers ---- */

static struct window pool_win;
static struct lrn_params lrn_p;
static int avg_h, avg_w;

static void relu_fwd(const struct problem *pr, const float *x, const float *w,
                     const float *b, float *y)
{
        (void)w, (void)b;
        relu_forward(pr->nx, x, y);
}

static void pool_fwd(const struct problem *pr, const float *x, const float *w,
                     const float *b, float *y)
{
        (void)w, (void)b;
        maxpool_forward(&pool_win, pr->batch, pr->in, x, y);
}

static void lrn_fwd(const struct problem *pr, const float *x, const float *w,
                    const float *b, float *y)
{
        (void)w, (void)b;
        lrn_forward(&lrn_p, pr->batch, pr->in, x, y);
}

static void avg_fwd(const struct problem *pr, const float *x, const float *w,
                    const float *b, float *y)
{
        (void)w, (void)b;
        adaptive_avgpool_forward(avg_h, avg_w, pr->batch, pr->in, x, y);
}

static struct problem simple_problem(int batch, struct shape in,
                                     struct shape out, uint64_t seed)
{
        struct problem pr = {.batch = batch, .in = in, .out = out};
        pr.nx = shape_count(in) * batch;
        pr.ny = shape_count(out) * batch;
        pr.x = random_buffer(pr.nx, seed, 2);
        pr.r = random_buffer(pr.ny, seed + 1, 1);
        return pr;
}

START_TEST(relu_gradients)
{
        struct problem pr = simple_problem(2, (struct shape){3, 4, 5},
                                           (struct shape){3, 4, 5}, 9);
        for (size_t i = 0; i < pr.nx; i++) /* keep away from the kink */
                pr.x[i] += pr.x[i] > 0 ? 0.1f : -0.1f;
        float *y = malloc(pr.nx * 4), *dx = malloc(pr.nx * 4);
        relu_forward(pr.nx, pr.x, y);
        relu_backward(pr.nx, y, pr.r, dx);
        check_buffer(&pr, relu_fwd, pr.x, pr.nx, dx, "relu dx");
        free(y);
        free(dx);
        problem_free(&pr);
}
END_TEST

static void check_maxpool(struct window win, struct shape in)
{
        pool_win = win;
        struct problem pr =
                simple_problem(2, in,
                               (struct shape){in.c, window_out_h(&win, in.h),
                                              window_out_w(&win, in.w)},
                               11);
        /* distinct values further apart than EPS, so no argmax flips */
        for (size_t i = 0; i < pr.nx; i++)
                pr.x[i] = (float)((i * 7919) % pr.nx) * 0.05f;
        float *dx = malloc(pr.nx * 4);
        maxpool_backward(&pool_win, 2, in, pr.x, pr.r, dx);
        /* every element: most get no gradient, a wrong argmax moves one */
        check_elements(&pr, pool_fwd, pr.x, pr.nx, dx, "maxpool dx", 1);
        free(dx);
        problem_free(&pr);
}

/* Padded windows (the edges take the general path), and AlexNet's 3 x 3,
 * stride 2 on a wide plane (the vectorised one). */
START_TEST(maxpool_gradients)
{
        check_maxpool((struct window){3, 3, 2, 2, 1, 0, 1, 1},
                      (struct shape){2, 9, 8});
        check_maxpool((struct window){3, 3, 2, 2, 0, 0, 0, 0},
                      (struct shape){2, 11, 39});
}
END_TEST

/* Ties (common: ReLU's zeros) send the gradient to the window's first
 * element, a NaN takes it from any number, as PyTorch's max_pool2d does. */
START_TEST(maxpool_ties_and_nans)
{
        struct window win = {3, 3, 2, 2, 1, 1, 1, 1};
        struct shape in = {1, 5, 5};
        float x[25] = {0}, dy[9], dx[25], want[25] = {0};
        for (int i = 0; i < 9; i++)
                dy[i] = (float)(i + 1);
        x[3 * 5 + 3] = NAN; /* inside the windows of outputs (1..2, 1..2) */
        for (int oy = 0; oy < 3; oy++)
                for (int ox = 0; ox < 3; ox++) {
                        int y = oy * 2 - 1 < 0 ? 0 : oy * 2 - 1;
                        int xx = ox * 2 - 1 < 0 ? 0 : ox * 2 - 1;
                        bool nan_inside = oy >= 1 && ox >= 1;
                        want[nan_inside ? 18 : y * 5 + xx] += dy[oy * 3 + ox];
                }
        maxpool_backward(&win, 1, in, x, dy, dx);
        for (int i = 0; i < 25; i++)
                ck_assert_msg(dx[i] == want[i], "dx[%d] = %g, expected %g", i,
                              dx[i], want[i]);
}
END_TEST

START_TEST(lrn_gradients)
{
        static const struct lrn_params cases[] = {
                {5, 1e-1, 0.75, 2.0}, {3, 0.5, 0.6, 1.0}, {4, 0.3, 0.9, 1.5}};
        for (int c = 0; c < 3; c++) {
                lrn_p = cases[c];
                struct shape in = {7, 3, 4};
                struct problem pr = simple_problem(2, in, in, 13 + c);
                float *dx = malloc(pr.nx * 4), *ws = malloc(pr.nx * 4);
                lrn_backward(&lrn_p, 2, in, pr.x, pr.r, dx, ws);
                check_buffer(&pr, lrn_fwd, pr.x, pr.nx, dx, "lrn dx");
                free(dx);
                free(ws);
                problem_free(&pr);
        }
}
END_TEST

START_TEST(adaptive_avgpool_gradients)
{
        avg_h = 3;
        avg_w = 4;
        struct shape in = {2, 7, 5};
        struct problem pr = simple_problem(2, in, (struct shape){2, 3, 4}, 17);
        float *dx = malloc(pr.nx * 4);
        adaptive_avgpool_backward(3, 4, 2, in, pr.r, dx);
        check_buffer(&pr, avg_fwd, pr.x, pr.nx, dx, "avgpool dx");
        free(dx);
        problem_free(&pr);
}
END_TEST

START_TEST(cross_entropy_gradient)
{
        float z[12], d[12];
        int labels[3] = {1, 3, 0}, correct;
        seeded_uniform(19, 0, 12, 3, z);
        double loss = softmax_cross_entropy(3, 4, z, labels, d, &correct);
        for (int i = 0; i < 12; i++) {
                float saved = z[i];
                float scratch[12];
                z[i] = saved + 1e-3f;
                double plus =
                        softmax_cross_entropy(3, 4, z, labels, scratch, NULL);
                z[i] = saved - 1e-3f;
                double minus =
                        softmax_cross_entropy(3, 4, z, labels, scratch, NULL);
                z[i] = saved;
                ck_assert_msg(fabs((plus - minus) / 2e-3 - d[i]) < 1e-3,
                              "dlogit %d: %g vs %g", i, d[i],
                              (plus - minus) / 2e-3);
        }
        ck_assert(loss > 0);
        ck_assert(correct >= 0 && correct <= 3);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("backward");
        TCase *tc = tcase_create("finite differences");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, conv_gradients);
        tcase_add_test(tc, linear_gradients);
        tcase_add_test(tc, relu_gradients);
        tcase_add_test(tc, maxpool_gradients);
        tcase_add_test(tc, maxpool_ties_and_nans);
        tcase_add_test(tc, lrn_gradients);
        tcase_add_test(tc, adaptive_avgpool_gradients);
        tcase_add_test(tc, cross_entropy_gradient);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
