/* conv_forward (the implicit GEMM of gemm_conv.c, and Winograd's
 * algorithm of winograd.c for stride-1 3 x 3 and 5 x 5) and conv_backward
 * (its weight gradient of gemm_conv_grad.c, its input gradient as a
 * convolution or folded) against a float64 direct convolution written
 * from the definition and its derivatives, on shapes chosen to reach
 * every path: narrow last panels, several K slices, row tiles cut short,
 * strides, asymmetric and oversized padding, groups, a panel split and a
 * row split among threads, Winograd tiles cut by the output's edge and
 * panels spanning many images, strided layers through space-to-depth; on every
 * kernel this CPU runs, with 1 to 3 threads, from raw and from prepacked (or
 * transformed) weights, and the 3 x 3 and 5 x 5 cases on both paths. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "layers/conv.h"
#include "gemm/winograd.h"
#include "gemm/gemm.h"
#include "base/half.h"
#include "testutil.h"

struct conv_case {
        int batch;
        struct shape in;
        int out_c, groups;
        struct window win;
};

static const struct conv_case cases[] = {
        /* 42 panels per image: threads split the panels */
        {3, {5, 23, 29}, 14, 1, {3, 3, 1, 1, 1, 1, 1, 1}},
        /* K = 400 (two slices), 13 rows per group, asymmetric padding */
        {2, {40, 17, 19}, 26, 2, {5, 4, 2, 3, 2, 1, 0, 3}},
        /* conv1-like, 8 panels: threads split the rows */
        {1, {3, 45, 45}, 16, 1, {11, 11, 4, 4, 2, 2, 2, 2}},
        /* one output pixel per image */
        {4, {7, 1, 1}, 9, 1, {1, 1, 1, 1, 0, 0, 0, 0}},
        /* padding wider than the kernel: whole rows of taps outside */
        {2, {2, 3, 3}, 5, 1, {2, 2, 1, 1, 3, 3, 3, 3}},
        /* 1 x 1 with stride: every panel has holes in its rows */
        {2, {4, 20, 40}, 7, 1, {1, 1, 2, 2, 0, 0, 0, 0}},
        /* stride 2 whose last lanes end at the input's last float: a
         * whole-vector read would overrun it (caught under ASan) */
        {3, {1, 1, 15}, 4, 1, {1, 1, 2, 2, 0, 0, 0, 0}},
        /* a row of 16 padded on both sides: the last lanes' taps right of
         * the input's last float are masked, never loaded (caught under
         * ASan) */
        {1, {1, 1, 16}, 3, 1, {1, 3, 1, 1, 0, 1, 0, 1}},
        /* stride 1, groups, asymmetric padding of every side */
        {2, {6, 12, 10}, 8, 2, {3, 5, 1, 1, 2, 0, 1, 3}},
        /* 400 rows: the weight gradient's pixel slices are shorter than
         * a plane and do not divide it */
        {1, {4, 20, 20}, 400, 1, {3, 3, 1, 1, 1, 1, 1, 1}},
        /* Winograd F(4x4, 3x3): conv3's 13 x 13, 16 tiles an image, two
         * images a 32-wide panel, the last row and column of tiles cut */
        {3, {16, 13, 13}, 40, 1, {3, 3, 1, 1, 1, 1, 1, 1}},
        /* 300 input channels (two K slices), a 6 x 7 output */
        {2, {300, 6, 7}, 20, 1, {3, 3, 1, 1, 1, 1, 1, 1}},
        /* one tile per image: a panel spans many images */
        {40, {3, 4, 4}, 5, 1, {3, 3, 1, 1, 1, 1, 1, 1}},
        /* F(2x2, 5x5): conv2's 27 x 27 with groups */
        {2, {8, 27, 27}, 30, 2, {5, 5, 1, 1, 2, 2, 2, 2}},
        /* 5 x 5 with uneven padding, an odd output (5 x 7) */
        {1, {5, 9, 11}, 7, 1, {5, 5, 1, 1, 0, 1, 2, 0}},
        /* strided, through space-to-depth: 5 x 5 stride 2 (3 x 3 over 16
         * channels a group), groups, uneven padding */
        {2, {4, 30, 33}, 10, 2, {5, 5, 2, 2, 1, 2, 2, 1}},
        /* 9 x 9 stride 2: 5 x 5 after space-to-depth, F(2x2, 5x5) */
        {1, {2, 40, 40}, 6, 1, {9, 9, 2, 2, 4, 4, 4, 4}},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

static const char *const kernels[] = {"avx512", "avx2", "portable"};

static float *random_values(size_t count, uint64_t seed)
{
        float *v = malloc((count ? count : 1) * sizeof *v);
        ck_assert_ptr_nonnull(v);
        seeded_uniform(seed, 0, count, 1.0f, v);
        return v;
}

static struct shape out_shape(const struct conv_case *c)
{
        return (struct shape){c->out_c, window_out_h(&c->win, c->in.h),
                              window_out_w(&c->win, c->in.w)};
}

static size_t weight_count(const struct conv_case *c)
{
        return (size_t)c->out_c * (c->in.c / c->groups) * c->win.kernel_h *
               c->win.kernel_w;
}

/* Output (n, o, oy, ox) of the convolution without bias, in float64,
 * from the definition. */
static double direct_output(const struct conv_case *c, const float *x,
                            const float *w, int n, int o, int oy, int ox)
{
        const struct window *win = &c->win;
        int cin = c->in.c / c->groups, g = o / (c->out_c / c->groups);
        size_t taps = (size_t)win->kernel_h * win->kernel_w;
        double sum = 0;
        for (int ci = 0; ci < cin; ci++) {
                const float *plane = x + ((size_t)n * c->in.c + g * cin + ci) *
                                                 c->in.h * c->in.w;
                const float *kernel = w + ((size_t)o * cin + ci) * taps;
                for (int ky = 0; ky < win->kernel_h; ky++)
                        for (int kx = 0; kx < win->kernel_w; kx++) {
                                int iy = oy * win->stride_h - win->pad_top + ky;
                                int ix =
                                        ox * win->stride_w - win->pad_left + kx;
                                if (iy < 0 || iy >= c->in.h || ix < 0 ||
                                    ix >= c->in.w)
                                        continue;
                                sum += (double)kernel[ky * win->kernel_w + kx] *
                                       plane[(size_t)iy * c->in.w + ix];
                        }
        }
        return sum;
}

/* y = relu(conv(x) + bias), NCHW. */
static void direct_conv(const struct conv_case *c, const float *x,
                        const float *w, const float *bias, float *y)
{
        struct shape out = out_shape(c);
        for (int n = 0; n < c->batch; n++)
                for (int o = 0; o < out.c; o++)
                        for (int oy = 0; oy < out.h; oy++)
                                for (int ox = 0; ox < out.w; ox++) {
                                        double v = bias[o] +
                                                   direct_output(c, x, w, n, o,
                                                                 oy, ox);
                                        *y++ = v > 0 ? (float)v : 0.0f;
                                }
}

/* A layer's weights as net.c prepares them: packed for the direct path,
 * or transformed for Winograd's. */
struct prepared {
        struct packed_matrix *packed;
        struct winograd_weights *winograd;
};

/* Each group's weights packed as net.c packs them. */
static struct packed_matrix *pack_groups_as(const struct conv_case *c,
                                            const float *w,
                                            enum gemm_precision precision)
{
        size_t rows = (size_t)(c->out_c / c->groups);
        size_t k = weight_count(c) / c->out_c;
        struct packed_matrix *p = calloc(c->groups, sizeof *p);
        ck_assert_ptr_nonnull(p);
        for (int g = 0; g < c->groups; g++)
                ck_assert_int_eq(sgemm_pack(w + g * rows * k, rows, k, k,
                                            precision, &p[g]),
                                 AN_OK);
        return p;
}

static struct packed_matrix *pack_groups(const struct conv_case *c,
                                         const float *w)
{
        return pack_groups_as(c, w, GEMM_FP32);
}

static void free_groups(const struct conv_case *c, struct packed_matrix *p)
{
        for (int g = 0; g < c->groups; g++)
                packed_matrix_free(&p[g]);
        free(p);
}

static struct conv_params params_of(const struct conv_case *c)
{
        return (struct conv_params){c->in.c, c->out_c, c->groups, c->win};
}

/* The weights prepared for the path the layer takes. */
static struct prepared prepare(const struct conv_case *c, const float *w)
{
        struct conv_params p = params_of(c);
        struct prepared pr = {NULL, NULL};
        if (!conv_uses_winograd(&p, c->in, NULL)) {
                pr.packed = pack_groups(c, w);
                return pr;
        }
        pr.winograd = calloc(c->groups, sizeof *pr.winograd);
        ck_assert_ptr_nonnull(pr.winograd);
        ck_assert_int_eq(conv_winograd_weights(&p, c->in, w, pr.winograd),
                         AN_OK);
        return pr;
}

static void free_prepared(const struct conv_case *c, struct prepared *pr)
{
        if (pr->packed)
                free_groups(c, pr->packed);
        for (int g = 0; pr->winograd && g < c->groups; g++)
                winograd_weights_free(&pr->winograd[g]);
        free(pr->winograd);
}

static void run_images(const struct conv_case *c, int batch, const float *x,
                       const float *w, const float *bias,
                       const struct prepared *pr, float *y)
{
        struct conv_params p = params_of(c);
        ck_assert_int_eq(conv_forward(&p, batch, c->in, x, w, bias, true, y,
                                      pr ? pr->packed : NULL,
                                      pr ? pr->winograd : NULL, NULL),
                         AN_OK);
}

static void run(const struct conv_case *c, const float *x, const float *w,
                const float *bias, const struct prepared *pr, float *y)
{
        run_images(c, c->batch, x, w, bias, pr, y);
}

/* Each image of the batch alone gives the bits it got in the batch: the
 * batch is folded into the GEMM's columns, so an image's pixels fall in
 * other tiles (full, edge, or shared with the next image) as the batch
 * changes, and every tile must sum in the same order. */
static void assert_batch_invariant(const struct conv_case *c, const float *x,
                                   const float *w, const float *bias,
                                   const struct prepared *pr, const float *y,
                                   const char *what)
{
        size_t in = shape_count(c->in), out = shape_count(out_shape(c));
        float *one = malloc(out * sizeof *one);
        for (int n = 0; n < c->batch; n++) {
                run_images(c, 1, x + n * in, w, bias, pr, one);
                ck_assert_msg(memcmp(one, y + n * out, out * sizeof *one) == 0,
                              "%s: image %d alone changed the bits", what, n);
        }
        free(one);
}

/* One case on one path: within float32 rounding of the direct sum, and
 * the same bits for 1, 2 and 3 threads, prepared weights and each image
 * alone. */
static void check_forward(const struct conv_case *c, const float *x,
                          const float *w, const float *bias, const float *want,
                          const char *what)
{
        size_t ny = shape_count(out_shape(c)) * c->batch;
        float *y = malloc(ny * sizeof *y), *again = malloc(ny * sizeof *again);
        double tol = 1e-6 * (double)(weight_count(c) / c->out_c + 1);
        int saved = omp_get_max_threads();
        omp_set_num_threads(1);
        run(c, x, w, bias, NULL, y);
        assert_close(y, want, ny, tol, what);
        struct prepared pr = prepare(c, w);
        for (int threads = 1; threads <= 3; threads++) {
                omp_set_num_threads(threads);
                for (int use_prepared = 0; use_prepared < 2; use_prepared++) {
                        for (size_t i = 0; i < ny; i++)
                                again[i] = NAN;
                        run(c, x, w, bias, use_prepared ? &pr : NULL, again);
                        ck_assert_msg(memcmp(y, again, ny * sizeof *y) == 0,
                                      "%s: %d threads%s changed the bits", what,
                                      threads,
                                      use_prepared ? ", prepared" : "");
                }
                assert_batch_invariant(c, x, w, bias, NULL, y, what);
                assert_batch_invariant(c, x, w, bias, &pr, y, what);
        }
        omp_set_num_threads(saved);
        free_prepared(c, &pr);
        free(y);
        free(again);
}

/* Case _i / 3 on kernel _i % 3, by the path it takes and, for the cases
 * that take Winograd's, by the direct path too. */
START_TEST(matches_direct_convolution)
{
        const struct conv_case *c = &cases[_i / 3];
        if (!sgemm_use_kernel(kernels[_i % 3]))
                return; /* this CPU cannot run that kernel */
        size_t nx = shape_count(c->in) * c->batch;
        size_t ny = shape_count(out_shape(c)) * c->batch;
        float *x = random_values(nx, 1), *w = random_values(weight_count(c), 2);
        float *bias = random_values(c->out_c, 3);
        float *want = malloc(ny * sizeof *want);
        direct_conv(c, x, w, bias, want);
        struct conv_params p = params_of(c);
        bool winograd = conv_uses_winograd(&p, c->in, NULL);
        for (int direct = 0; direct < 1 + winograd; direct++) {
                char what[96];
                snprintf(what, sizeof what, "conv case %d on %s%s", _i / 3,
                         sgemm_kernel_name(),
                         winograd && !direct ? ", Winograd" : "");
                conv_allow_winograd(!direct);
                check_forward(c, x, w, bias, want, what);
        }
        conv_allow_winograd(true);
        free(x);
        free(w);
        free(bias);
        free(want);
}
END_TEST

/* The gradients of L = sum(r * conv(x)) in float64 from the definition:
 * every product r[n][o][oy][ox] * w[o][ci][ky][kx] * x[..][iy][ix] of the
 * forward sum, differentiated. */
static void direct_gradients(const struct conv_case *c, const float *x,
                             const float *w, const float *r, double *dx,
                             double *dw, double *db)
{
        const struct window *win = &c->win;
        struct shape out = out_shape(c);
        int cin = c->in.c / c->groups, og = c->out_c / c->groups;
        int taps = win->kernel_h * win->kernel_w;
        memset(dx, 0, shape_count(c->in) * c->batch * sizeof *dx);
        memset(dw, 0, weight_count(c) * sizeof *dw);
        memset(db, 0, c->out_c * sizeof *db);
        for (int n = 0; n < c->batch; n++)
                for (int o = 0; o < out.c; o++)
                        for (int oy = 0; oy < out.h; oy++)
                                for (int ox = 0; ox < out.w; ox++) {
                                        double g = *r++;
                                        db[o] += g;
                                        for (int ci = 0; ci < cin; ci++)
                                                for (int t = 0; t < taps; t++) {
                                                        int iy =
                                                                oy * win->stride_h -
                                                                win->pad_top +
                                                                t / win->kernel_w;
                                                        int ix =
                                                                ox * win->stride_w -
                                                                win->pad_left +
                                                                t % win->kernel_w;
                                                        if (iy < 0 ||
                                                            iy >= c->in.h ||
                                                            ix < 0 ||
                                                            ix >= c->in.w)
                                                                continue;
                                                        size_t at =
                                                                (((size_t)n *
                                                                          c->in.c +
                                                                  o / og * cin +
                                                                  ci) * c->in.h +
                                                                 iy) * c->in.w +
                                                                ix;
                                                        size_t wt =
                                                                ((size_t)o *
                                                                         cin +
                                                                 ci) * taps +
                                                                t;
                                                        dx[at] += g * w[wt];
                                                        dw[wt] += g * x[at];
                                                }
                                }
}

static float *to_float(const double *v, size_t n)
{
        float *f = malloc(n * sizeof *f);
        for (size_t i = 0; i < n; i++)
                f[i] = (float)v[i];
        return f;
}

struct gradients {
        float *dx, *dw, *db;
};

static void run_backward(const struct conv_case *c, const float *x,
                         const float *w, const float *r, struct gradients *out)
{
        struct conv_params p = {c->in.c, c->out_c, c->groups, c->win};
        float *ws = malloc(conv_backward_workspace_floats(&p, c->in, c->batch) *
                                   sizeof *ws +
                           1);
        ck_assert_int_eq(conv_backward(&p, c->batch, c->in, x, w, r, out->dx,
                                       out->dw, out->db, ws),
                         AN_OK);
        free(ws);
}

/* One case's gradients on the paths allowed now: within float32 rounding
 * of the float64 sums, and the same bits for 1, 2 and 3 threads. */
static void check_gradients(const struct conv_case *c, const float *x,
                            const float *w, const float *r,
                            const struct gradients *want, const char *path)
{
        size_t nx = shape_count(c->in) * c->batch, nw = weight_count(c);
        size_t ny = shape_count(out_shape(c)) * c->batch;
        struct gradients got[3];
        char what[128];
        int saved = omp_get_max_threads();
        for (int t = 0; t < 3; t++) {
                got[t] = (struct gradients){malloc(nx * 4), malloc(nw * 4),
                                            malloc(c->out_c * 4)};
                /* every element must be written */
                for (size_t i = 0; i < nx; i++)
                        got[t].dx[i] = NAN;
                for (size_t i = 0; i < nw; i++)
                        got[t].dw[i] = NAN;
                omp_set_num_threads(t + 1);
                run_backward(c, x, w, r, &got[t]);
        }
        omp_set_num_threads(saved);
        snprintf(what, sizeof what, "conv case %d on %s%s: dx",
                 (int)(c - cases), sgemm_kernel_name(), path);
        assert_close(got[0].dx, want->dx, nx, 1e-6 * (nw / c->in.c + 1), what);
        what[strlen(what) - 2] = 'd';
        what[strlen(what) - 1] = 'w';
        assert_close(got[0].dw, want->dw, nw, 1e-6 * (ny / c->out_c + 1), what);
        assert_close(got[0].db, want->db, c->out_c, 1e-6 * (ny / c->out_c + 1),
                     "db");
        for (int t = 1; t < 3; t++) {
                ck_assert_msg(memcmp(got[t].dx, got[0].dx, nx * 4) == 0 &&
                                      memcmp(got[t].dw, got[0].dw, nw * 4) == 0,
                              "case %d%s: %d threads changed the bits",
                              (int)(c - cases), path, t + 1);
        }
        for (int t = 0; t < 3; t++) {
                free(got[t].dx);
                free(got[t].dw);
                free(got[t].db);
        }
}

/* Case _i / 3 on kernel _i % 3: conv_backward's dx, dW and db against the
 * float64 sums, with Winograd's algorithm allowed (the weight gradient of
 * stride-1 3 x 3 layers in one chunk of tiles and, to reach
 * the sum over chunks, in chunks of 16 tiles) and every product direct. */
START_TEST(gradients_match_direct)
{
        const struct conv_case *c = &cases[_i / 3];
        if (!sgemm_use_kernel(kernels[_i % 3]))
                return;
        size_t nx = shape_count(c->in) * c->batch, nw = weight_count(c);
        size_t ny = shape_count(out_shape(c)) * c->batch;
        float *x = random_values(nx, 1), *w = random_values(nw, 2);
        float *r = random_values(ny, 4);
        double *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw),
               *db = malloc(c->out_c * sizeof *db);
        direct_gradients(c, x, w, r, dx, dw, db);
        struct gradients want = {to_float(dx, nx), to_float(dw, nw),
                                 to_float(db, c->out_c)};
        check_gradients(c, x, w, r, &want, ", Winograd allowed");
        winograd_grad_chunk_bytes(1);
        check_gradients(c, x, w, r, &want, ", chunks of 16 tiles");
        winograd_grad_chunk_bytes(0);
        conv_allow_winograd(false);
        check_gradients(c, x, w, r, &want, ", direct");
        conv_allow_winograd(true);
        free(want.dx);
        free(want.dw);
        free(want.db);
        free(dx);
        free(dw);
        free(db);
        free(x);
        free(w);
        free(r);
}
END_TEST

/* A packed matrix of another shape is refused, not read past its end. */
/* The values as bfloat16 (round to nearest, ties to even), in float. */
static float *bf16_rounded(const float *v, size_t n)
{
        float *r = malloc((n ? n : 1) * sizeof *r);
        for (size_t i = 0; i < n; i++)
                r[i] = bf16_to_f32(f32_to_bf16(v[i]));
        return r;
}

/* Case _i: the AVX512_BF16 convolution (weights packed as bf16 pairs)
 * against the float64 direct convolution of the input and weights rounded
 * to bfloat16, whose products are then exact: within float32 rounding of
 * the sums, and the same bits for 1, 2 and 3 threads and each image
 * alone.  Where the CPU lacks AVX512_BF16, packing in pairs is refused. */
START_TEST(bf16_dot_matches_direct_convolution)
{
        const struct conv_case *c = &cases[_i];
        struct packed_matrix refused;
        float one = 1.0f;
        if (!sgemm_use_kernel("avx512") || !sgemm_bf16_dot()) {
                ck_assert_int_eq(
                        sgemm_pack(&one, 1, 1, 1, GEMM_BF16_PAIRS, &refused),
                        AN_E_INVALID);
                return;
        }
        size_t nx = shape_count(c->in) * c->batch;
        size_t ny = shape_count(out_shape(c)) * c->batch;
        float *x = random_values(nx, 1), *w = random_values(weight_count(c), 2);
        float *bias = random_values(c->out_c, 3);
        float *xr = bf16_rounded(x, nx), *wr = bf16_rounded(w, weight_count(c));
        float *want = malloc(ny * sizeof *want), *y = malloc(ny * sizeof *y),
              *again = malloc(ny * sizeof *again);
        direct_conv(c, xr, wr, bias, want);
        char what[96];
        snprintf(what, sizeof what, "bf16 conv case %d", _i);
        double tol = 1e-6 * (double)(weight_count(c) / c->out_c + 1);
        /* packed as they are, and as the network packs them (conv1-like
         * layers rearranged by space-to-depth) */
        struct conv_params p = {c->in.c, c->out_c, c->groups, c->win};
        struct packed_matrix *packed = pack_groups_as(c, w, GEMM_BF16_PAIRS);
        struct packed_matrix *as_net = calloc(c->groups, sizeof *as_net);
        ck_assert_int_eq(
                conv_direct_weights(&p, c->in, w, GEMM_BF16_PAIRS, as_net),
                AN_OK);
        int saved = omp_get_max_threads();
        for (int way = 0; way < 2; way++) {
                struct prepared pr = {way ? as_net : packed, NULL};
                omp_set_num_threads(1);
                run(c, x, w, bias, &pr, y);
                assert_close(y, want, ny, tol, what);
                for (int threads = 1; threads <= 3; threads++) {
                        omp_set_num_threads(threads);
                        for (size_t i = 0; i < ny; i++)
                                again[i] = NAN;
                        run(c, x, w, bias, &pr, again);
                        ck_assert_msg(memcmp(y, again, ny * sizeof *y) == 0,
                                      "%s: %d threads changed the bits", what,
                                      threads);
                        assert_batch_invariant(c, x, w, bias, &pr, y, what);
                }
        }
        omp_set_num_threads(saved);
        free_groups(c, as_net);
        /* bfloat16 weights widened for the FP32 kernel (the fully
         * connected layers' layout without AVX512_BF16) are refused */
        struct packed_matrix *widened = pack_groups_as(c, w, GEMM_BF16);
        ck_assert_int_eq(conv_forward(&p, c->batch, c->in, x, w, bias, true,
                                      again, widened, NULL, NULL),
                         AN_E_INVALID);
        free_groups(c, widened);
        free_groups(c, packed);
        free(x);
        free(w);
        free(bias);
        free(xr);
        free(wr);
        free(want);
        free(y);
        free(again);
}
END_TEST

START_TEST(refuses_packed_weights_of_another_shape)
{
        const struct conv_case *c = &cases[0];
        float *x = random_values(shape_count(c->in) * c->batch, 1);
        float *w = random_values(weight_count(c), 2);
        float *y = malloc(shape_count(out_shape(c)) * c->batch * sizeof *y);
        struct packed_matrix small;
        ck_assert_int_eq(sgemm_pack(w, c->out_c - 1, 45, 45, GEMM_FP32, &small),
                         AN_OK);
        struct conv_params p = {c->in.c, c->out_c, c->groups, c->win};
        ck_assert_int_eq(conv_forward(&p, c->batch, c->in, x, w, NULL, false, y,
                                      &small, NULL, NULL),
                         AN_E_INVALID);
        packed_matrix_free(&small);
        /* and so are weights transformed for fewer output channels */
        struct winograd_weights fewer;
        ck_assert_int_eq(
                winograd_weights_make(w, c->out_c - 1, c->in.c, 3, &fewer),
                AN_OK);
        ck_assert_int_eq(conv_forward(&p, c->batch, c->in, x, w, NULL, false, y,
                                      NULL, &fewer, NULL),
                         AN_E_INVALID);
        winograd_weights_free(&fewer);
        free(x);
        free(w);
        free(y);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("conv");
        TCase *tc = tcase_create("conv");
        tcase_set_timeout(tc, 120);
        tcase_add_loop_test(tc, matches_direct_convolution, 0, 3 * N_CASES);
        tcase_add_loop_test(tc, gradients_match_direct, 0, 3 * N_CASES);
        tcase_add_loop_test(tc, bf16_dot_matches_direct_convolution, 0,
                            N_CASES);
        tcase_add_test(tc, refuses_packed_weights_of_another_shape);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
