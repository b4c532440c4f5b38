/* What the pictures show, read back from the PNGs they are (decoded by
 * the library's own PNG reader): each kernel's tiles hold its normalised
 * weights, each curve passes through its data points, each confusion
 * cell has its share's colour, the overlay blends the map's colours.
 * And the data behind them: the training log read back by its header,
 * .npy matrices as NumPy writes them, nearest neighbours and near pairs
 * against a plain double-precision search. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "draw/chart.h"
#include "draw/colormap.h"
#include "draw/filters.h"
#include "draw/heatmap.h"
#include "formats/npy.h"
#include "image/image.h"
#include "search/neighbours.h"
#include "train/train_log.h"
#include "testutil.h"

static char dir[] = "/tmp/alexnet-pictures-XXXXXX";

static const char *temp(const char *name)
{
        static char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        return path;
}

static void load_png(const char *path, struct image *img)
{
        struct image_options opt = image_defaults();
        struct an_error err;
        ck_assert_msg(image_load(img, path, &opt, &err) == AN_OK, "%s: %s",
                      path, err.message);
}

static const uint8_t *pixel(const struct image *img, int x, int y)
{
        ck_assert(x >= 0 && y >= 0 && x < img->width && y < img->height);
        return img->rgb + ((size_t)y * img->width + x) * 3;
}

/* ---- filters ---------------------------------------------------------------
 */

static void check_tiles(const struct filter_grid *g, const struct image *img)
{
        struct filter_layout l;
        filter_layout_of(g, &l);
        ck_assert_int_eq(img->width, l.width);
        ck_assert_int_eq(img->height, l.height);
        int per = g->channels * g->kh * g->kw;
        float *norm = malloc(per * sizeof *norm);
        for (int f = 0; f < g->filters; f++) {
                filter_normalise(g->weights + (size_t)f * per, per, norm);
                for (int c = 0; c < (g->colour ? 1 : g->channels); c++)
                        for (int i = 0; i < g->kh; i++)
                                for (int j = 0; j < g->kw; j++) {
                                        int row = g->colour ? f / l.columns : f;
                                        int col = g->colour ? f % l.columns : c;
                                        /* the middle of the weight's square */
                                        const uint8_t *p =
                                                pixel(img,
                                                      l.margin + col * l.step +
                                                              j * l.scale +
                                                              l.scale / 2,
                                                      l.top + row * l.step +
                                                              i * l.scale +
                                                              l.scale / 2);
                                        int plane = g->kh * g->kw;
                                        for (int k = 0; k < 3; k++) {
                                                int ch = g->colour ? k : c;
                                                float v = norm[ch * plane +
                                                               i * g->kw + j];
                                                ck_assert_int_eq(
                                                        p[k],
                                                        (int)lrintf(v * 255));
                                        }
                                }
        }
        free(norm);
}

START_TEST(filter_tiles_hold_the_normalised_weights)
{
        /* 7 colour kernels of 5x3 and 4 grey kernels of 2 channels 3x3 */
        float colour[7 * 3 * 5 * 3], grey[4 * 2 * 3 * 3];
        seeded_uniform(11, 0, sizeof colour / sizeof *colour, 1, colour);
        seeded_uniform(12, 0, sizeof grey / sizeof *grey, 1, grey);
        struct filter_grid g[2] = {
                {colour, 7, 3, 5, 3, true, false, "colour"},
                {grey, 4, 2, 3, 3, false, false, NULL},
        };
        struct an_error err;
        for (int i = 0; i < 2; i++) {
                ck_assert_int_eq(draw_filters(&g[i], temp("f.png"), &err),
                                 AN_OK);
                struct image img;
                load_png(temp("f.png"), &img);
                check_tiles(&g[i], &img);
                image_free(&img);
        }
}
END_TEST

START_TEST(filter_normalisation_spans_black_to_white)
{
        const float k[4] = {-2, 0, 2, 1};
        float n[4];
        filter_normalise(k, 4, n);
        ck_assert_float_eq(n[0], 0);
        ck_assert_float_eq(n[1], 0.5f);
        ck_assert_float_eq(n[2], 1);
        ck_assert_float_eq(n[3], 0.75f);
        const float flat[2] = {3, 3};
        filter_normalise(flat, 2, n);
        ck_assert_float_eq(n[0], 0.5f);
}
END_TEST

START_TEST(bgr_kernels_are_drawn_in_rgb)
{
        /* one 1x1 kernel whose first channel (blue in Caffe's order) is
         * its largest weight */
        float w[3] = {1, 0, 0};
        struct filter_grid g = {w, 1, 3, 1, 1, true, true, NULL};
        struct an_error err;
        ck_assert_int_eq(draw_filters(&g, temp("bgr.png"), &err), AN_OK);
        struct image img;
        load_png(temp("bgr.png"), &img);
        struct filter_layout l;
        filter_layout_of(&g, &l);
        const uint8_t *p = pixel(&img, l.margin, l.top);
        ck_assert_int_eq(p[0], 0);
        ck_assert_int_eq(p[2], 255);
        image_free(&img);
}
END_TEST

START_TEST(too_large_a_picture_is_refused_and_nothing_written)
{
        static float w[20000 * 9];
        struct filter_grid g = {w, 20000, 1, 3, 3, false, false, NULL};
        struct an_error err;
        ck_assert_int_eq(draw_filters(&g, temp("big.png"), &err), AN_E_INVALID);
        ck_assert(strstr(err.message, "too large"));
        ck_assert_int_ne(access(temp("big.png"), F_OK), 0);
}
END_TEST

/* ---- charts ----------------------------------------------------------------
 */

/* Whether a pixel near (x, y) has colour rgb (0..1). */
static bool colour_near(const struct image *img, double x, double y,
                        const double rgb[3])
{
        for (int dy = -2; dy <= 2; dy++)
                for (int dx = -2; dx <= 2; dx++) {
                        const uint8_t *p = pixel(img, (int)lround(x) + dx,
                                                 (int)lround(y) + dy);
                        bool same = true;
                        for (int c = 0; c < 3; c++)
                                same &= abs(p[c] - (int)lround(rgb[c] * 255)) <=
                                        2;
                        if (same)
                                return true;
                }
        return false;
}

START_TEST(curves_pass_through_their_points)
{
        const double x[4] = {1, 2, 3, 4}, y[4] = {0.2, 0.9, 0.5, 0.7};
        struct series s = {"s", x, y, 4, {0.8, 0.1, 0.1}, false};
        struct panel p = {"t", "x", "y", &s, 1, true, 0, 1};
        struct plot_area a;
        struct an_error err;
        ck_assert_int_eq(draw_chart(&p, 1, 400, 300, temp("c.png"), &a, &err),
                         AN_OK);
        struct image img;
        load_png(temp("c.png"), &img);
        ck_assert_int_eq(img.width, 400);
        for (int i = 0; i < 4; i++)
                ck_assert_msg(colour_near(&img, plot_x(&a, x[i]),
                                          plot_y(&a, y[i]), s.rgb),
                              "point %d not drawn where its data puts it", i);
        /* and not where the data is not: (2, 0.2) */
        ck_assert(!colour_near(&img, plot_x(&a, 2), plot_y(&a, 0.2), s.rgb));
        image_free(&img);
}
END_TEST

START_TEST(nice_steps_are_one_two_five)
{
        ck_assert_double_eq_tol(nice_step(0, 1, 5), 0.2, 1e-12);
        ck_assert_double_eq_tol(nice_step(0, 2.3, 5), 0.5, 1e-12);
        ck_assert_double_eq_tol(nice_step(0, 70, 8), 10, 1e-12);
        ck_assert_double_eq_tol(nice_step(1, 1, 5), 1, 1e-12);
}
END_TEST

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
}

START_TEST(training_log_reads_by_header_and_keeps_the_last_run)
{
        /* an older log (no train_top5), a second run appended, a gap */
        write_file(temp("log.csv"),
                   "epoch,lr,train_loss,train_top1,val_loss,val_top1,val_top5,"
                   "seconds,images_per_s\n"
                   "1,0.1,2.0,0.1,2.1,0.1,0.5,1,1\n"
                   "2,0.1,1.5,0.3,1.6,0.2,0.6,1,1\n"
                   "1,0.1,2.5,0.2,,,,1,1\n"
                   "2,0.1,1.25,0.4,1.5,0.35,0.7,1,1\n");
        struct train_log log;
        struct an_error err;
        ck_assert_int_eq(train_log_read(&log, temp("log.csv"), &err), AN_OK);
        ck_assert_int_eq(log.n, 2);
        ck_assert_double_eq(log.epoch[1], 2);
        ck_assert_double_eq(train_log_value(&log, LOG_TRAIN_LOSS, 0), 2.5);
        ck_assert(isnan(train_log_value(&log, LOG_VAL_LOSS, 0)));
        ck_assert_double_eq(train_log_value(&log, LOG_VAL_TOP1, 1), 0.35);
        ck_assert(isnan(train_log_value(&log, LOG_TRAIN_TOP5, 1)));
        struct plot_area a[2];
        ck_assert_int_eq(train_log_draw(&log, temp("log.png"), a, &err), AN_OK);
        struct image img;
        load_png(temp("log.png"), &img);
        const double blue[3] = {0.12, 0.47, 0.71}, orange[3] = {1, 0.5, 0.05};
        ck_assert(
                colour_near(&img, plot_x(&a[0], 2), plot_y(&a[0], 1.25), blue));
        ck_assert(colour_near(&img, plot_x(&a[1], 2), plot_y(&a[1], 0.35),
                              orange));
        image_free(&img);
        train_log_free(&log);

        write_file(temp("bad.csv"), "epoch,train_loss\n1,0.5\n2,x\n");
        ck_assert_int_eq(train_log_read(&log, temp("bad.csv"), &err),
                         AN_E_FORMAT);
        ck_assert_str_eq(err.message, "line 3 is not an epoch's numbers");
        write_file(temp("other.csv"), "a,b\n1,2\n");
        ck_assert_int_eq(train_log_read(&log, temp("other.csv"), &err),
                         AN_E_FORMAT);
        write_file(temp("empty.csv"), "epoch,train_loss\n");
        ck_assert_int_eq(train_log_read(&log, temp("empty.csv"), &err),
                         AN_E_FORMAT);
}
END_TEST

START_TEST(log_picture_sits_beside_the_log)
{
        char *p = train_log_picture_path("runs/a.csv");
        ck_assert_str_eq(p, "runs/a.png");
        free(p);
        p = train_log_picture_path("log");
        ck_assert_str_eq(p, "log.png");
        free(p);
}
END_TEST

/* ---- heat maps -------------------------------------------------------------
 */

START_TEST(confusion_cells_have_their_share_colour)
{
        const double share[6] = {0.9, 0.1, 0, 0.25, 0.75, 0};
        const long counts[6] = {9, 1, 0, 1, 3, 0};
        char *rows[] = {"cat", "dog"}, *cols[] = {"cat", "dog", "fox"};
        struct matrix_chart m = {share, counts, 2,      3,          rows,
                                 cols,  "t",    "true", "predicted"};
        struct matrix_layout l;
        struct an_error err;
        ck_assert_int_eq(draw_matrix(&m, temp("m.png"), &l, &err), AN_OK);
        struct image img;
        load_png(temp("m.png"), &img);
        for (int r = 0; r < 2; r++)
                for (int c = 0; c < 3; c++) {
                        double rgb[3];
                        colormap_blues(share[r * 3 + c], rgb);
                        /* a corner of the cell, away from its number */
                        const uint8_t *p = pixel(&img, l.left + c * l.cell + 2,
                                                 l.top + r * l.cell + 2);
                        for (int k = 0; k < 3; k++)
                                ck_assert_int_le(
                                        abs(p[k] - (int)lround(rgb[k] * 255)),
                                        1);
                }
        image_free(&img);
}
END_TEST

START_TEST(overlay_blends_the_map_over_the_picture)
{
        enum { W = 8, H = 4 };
        unsigned char rgb[W * H * 3];
        float heat[W * H];
        for (int i = 0; i < W * H; i++) {
                rgb[3 * i] = (unsigned char)(i * 7);
                rgb[3 * i + 1] = 100;
                rgb[3 * i + 2] = (unsigned char)(255 - i * 5);
                heat[i] = (float)i / (W * H - 1);
        }
        struct overlay o = {rgb, W, H, heat, 0.5, NULL};
        struct overlay_layout l;
        struct an_error err;
        ck_assert_int_eq(draw_overlay(&o, temp("o.png"), &l, &err), AN_OK);
        struct image img;
        load_png(temp("o.png"), &img);
        int right = l.left + W * l.scale + l.gap;
        for (int i = 0; i < W * H; i++) {
                int x = i % W, y = i / W;
                unsigned char want[3];
                overlay_pixel(rgb + 3 * i, heat[i], 0.5, want);
                const uint8_t *plain =
                        pixel(&img, l.left + x * l.scale, l.top + y * l.scale);
                const uint8_t *mixed =
                        pixel(&img, right + x * l.scale, l.top + y * l.scale);
                ck_assert_int_eq(memcmp(plain, rgb + 3 * i, 3), 0);
                ck_assert_int_eq(memcmp(mixed, want, 3), 0);
        }
        /* the map's colours: cold blue low, red high */
        double lo[3], hi[3];
        colormap_turbo(0.1, lo);
        colormap_turbo(0.9, hi);
        ck_assert(lo[2] > lo[0] && hi[0] > hi[2]);
        image_free(&img);
}
END_TEST

/* ---- npy -------------------------------------------------------------------
 */

START_TEST(npy_reads_what_numpy_writes)
{
        const char *ok[] = {"npy/rows.npy", "npy/v2.npy"};
        struct npy_matrix m;
        struct an_error err;
        for (int i = 0; i < 2; i++) {
                ck_assert_int_eq(npy_open(&m, fixture_path(ok[i]), &err),
                                 AN_OK);
                ck_assert_uint_eq(m.rows, 5);
                ck_assert_uint_eq(m.cols, 3);
                for (size_t r = 0; r < 5; r++)
                        for (size_t c = 0; c < 3; c++)
                                ck_assert_float_eq(m.data[r * 3 + c],
                                                   (float)(10 * r + c));
                npy_close(&m);
        }
        ck_assert_int_eq(npy_open(&m, fixture_path("npy/vector.npy"), &err),
                         AN_OK);
        ck_assert_uint_eq(m.rows, 1);
        ck_assert_uint_eq(m.cols, 4);
        npy_close(&m);
        const char *bad[] = {"npy/f8.npy", "npy/fortran.npy", "npy/cube.npy"};
        for (int i = 0; i < 3; i++)
                ck_assert_int_ne(npy_open(&m, fixture_path(bad[i]), &err),
                                 AN_OK);
}
END_TEST

START_TEST(npy_header_round_trips_and_truncation_is_caught)
{
        char header[NPY_HEADER_BYTES];
        npy_header(header, 12345678901ull, 4096);
        ck_assert_int_eq((10 + header[8]) % 64, 0);
        npy_header(header, 2, 2);
        const float data[4] = {1, 2, 3, 4};
        FILE *f = fopen(temp("w.npy"), "wb");
        fwrite(header, 1, sizeof header, f);
        fwrite(data, sizeof *data, 4, f);
        fclose(f);
        struct npy_matrix m;
        struct an_error err;
        ck_assert_int_eq(npy_open(&m, temp("w.npy"), &err), AN_OK);
        ck_assert_uint_eq(m.rows, 2);
        ck_assert_float_eq(m.data[3], 4);
        npy_close(&m);
        ck_assert_int_eq(truncate(temp("w.npy"), NPY_HEADER_BYTES + 12), 0);
        ck_assert_int_eq(npy_open(&m, temp("w.npy"), &err), AN_E_FORMAT);
        ck_assert(strstr(err.message, "not the 2 x 2 floats"));
}
END_TEST

/* ---- search ----------------------------------------------------------------
 */

static double reference_score(enum metric m, const float *a, const float *b,
                              size_t n)
{
        double dot = 0, na = 0, nb = 0, d2 = 0;
        for (size_t i = 0; i < n; i++) {
                dot += (double)a[i] * b[i];
                na += (double)a[i] * a[i];
                nb += (double)b[i] * b[i];
                d2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        }
        if (m == METRIC_EUCLIDEAN)
                return sqrt(d2);
        return na > 0 && nb > 0 ? dot / sqrt(na * nb) : 0;
}

enum { ROWS = 5000, COLS = 37, QUERIES = 30, K = 7 };

START_TEST(nearest_matches_a_plain_search)
{
        float *rows = malloc((size_t)ROWS * COLS * sizeof *rows);
        float *queries = malloc((size_t)QUERIES * COLS * sizeof *queries);
        seeded_uniform(1, 0, (size_t)ROWS * COLS, 1, rows);
        seeded_uniform(2, 0, (size_t)QUERIES * COLS, 1, queries);
        memcpy(queries, rows + 4321 * COLS, COLS * sizeof *rows); /* itself */
        struct vector_set s;
        struct an_error err;
        ck_assert_int_eq(vector_set_init(&s, rows, ROWS, COLS, &err), AN_OK);
        struct neighbour best[QUERIES * K];
        for (int m = 0; m < 2; m++) {
                ck_assert_int_eq(
                        nearest(&s, queries, QUERIES, m, K, best, &err), AN_OK);
                ck_assert_uint_eq(best[0].row, 4321);
                /* one query alone takes the other product shape */
                struct neighbour one[K];
                ck_assert_int_eq(
                        nearest(&s, queries + 5 * COLS, 1, m, K, one, &err),
                        AN_OK);
                for (int r = 0; r < K; r++) {
                        ck_assert_uint_eq(one[r].row, best[5 * K + r].row);
                        ck_assert_float_eq_tol(one[r].score,
                                               best[5 * K + r].score, 1e-5);
                }
                for (int q = 0; q < QUERIES; q++) {
                        /* the k-th score bounds every other row's */
                        for (int r = 0; r < K; r++) {
                                double want = reference_score(
                                        m, queries + q * COLS,
                                        rows + best[q * K + r].row * COLS,
                                        COLS);
                                ck_assert_double_eq_tol(best[q * K + r].score,
                                                        want, 1e-4);
                        }
                        double kth = best[q * K + K - 1].score;
                        int better = 0;
                        for (int r = 0; r < ROWS; r++) {
                                double v =
                                        reference_score(m, queries + q * COLS,
                                                        rows + r * COLS, COLS);
                                better += m == METRIC_COSINE ? v > kth + 1e-5
                                                             : v < kth - 1e-5;
                        }
                        ck_assert_int_le(better, K - 1);
                }
        }
        vector_set_free(&s);
        free(rows);
        free(queries);
}
END_TEST

struct found {
        size_t n, i[64], j[64];
};

static int collect(void *ctx, size_t i, size_t j, float score)
{
        struct found *f = ctx;
        (void)score;
        if (f->n < 64) {
                f->i[f->n] = i;
                f->j[f->n] = j;
        }
        f->n++;
        return 0;
}

START_TEST(near_pairs_are_every_close_pair_in_order)
{
        /* 1500 random rows (spanning blocks) and copies of some, scaled
         * or nudged: the only pairs above 0.999 */
        enum { N = 1500, D = 16 };
        float *v = malloc((size_t)N * D * sizeof *v);
        seeded_uniform(3, 0, (size_t)N * D, 1, v);
        const size_t from[3] = {7, 700, 3}, to[3] = {1400, 701, 600};
        for (int p = 0; p < 3; p++)
                for (int c = 0; c < D; c++)
                        v[to[p] * D + c] = 2 * v[from[p] * D + c] + 1e-4f * c;
        struct vector_set s;
        struct an_error err;
        ck_assert_int_eq(vector_set_init(&s, v, N, D, &err), AN_OK);
        struct found f = {0};
        ck_assert_int_eq(
                near_pairs(&s, METRIC_COSINE, 0.999, collect, &f, &err), AN_OK);
        size_t brute = 0;
        for (size_t i = 0; i < N; i++)
                for (size_t j = i + 1; j < N; j++)
                        brute += reference_score(METRIC_COSINE, v + i * D,
                                                 v + j * D, D) >= 0.999;
        ck_assert_uint_eq(f.n, brute);
        ck_assert_uint_eq(f.n, 3);
        const size_t want_i[3] = {3, 7, 700}, want_j[3] = {600, 1400, 701};
        for (int p = 0; p < 3; p++) {
                ck_assert_uint_eq(f.i[p], want_i[p]);
                ck_assert_uint_eq(f.j[p], want_j[p]);
        }
        vector_set_free(&s);
        free(v);
}
END_TEST

/* A copy is 0 apart, exactly: the expansion |a|^2 + |b|^2 - 2 a.b alone
 * leaves cancellation error (fc7-sized vectors came out 0.0055 apart). */
START_TEST(euclidean_copies_are_zero_apart)
{
        enum { N = 1000, D = 4096, COPIES = 16 };
        float *v = malloc((size_t)N * D * sizeof *v);
        seeded_uniform(4, 0, (size_t)N * D, 10, v);
        for (int c = 0; c < COPIES; c++) /* row 17 + c is copied to 900 + c */
                memcpy(v + (900 + c) * D, v + (17 + c) * D, D * sizeof *v);
        struct vector_set s;
        struct an_error err;
        ck_assert_int_eq(vector_set_init(&s, v, N, D, &err), AN_OK);
        struct neighbour best[COPIES * 3];
        for (int q = 1; q <= COPIES; q += COPIES - 1) { /* 1: rows first */
                ck_assert_int_eq(nearest(&s, v + 17 * D, q, METRIC_EUCLIDEAN, 3,
                                         best, &err),
                                 AN_OK);
                for (int c = 0; c < q; c++) {
                        ck_assert_uint_eq(best[3 * c].row, 17 + c);
                        ck_assert_uint_eq(best[3 * c + 1].row, 900 + c);
                        ck_assert_float_eq(best[3 * c].score, 0);
                        ck_assert_float_eq(best[3 * c + 1].score, 0);
                        ck_assert_double_eq_tol(
                                best[3 * c + 2].score,
                                reference_score(METRIC_EUCLIDEAN,
                                                v + (17 + c) * D,
                                                v + best[3 * c + 2].row * D, D),
                                1e-3);
                }
        }
        struct found f = {0};
        ck_assert_int_eq(near_pairs(&s, METRIC_EUCLIDEAN, 0, collect, &f, &err),
                         AN_OK);
        ck_assert_uint_eq(f.n, COPIES);
        for (int c = 0; c < COPIES; c++) {
                ck_assert_uint_eq(f.i[c], 17 + c);
                ck_assert_uint_eq(f.j[c], 900 + c);
        }
        vector_set_free(&s);
        free(v);
}
END_TEST

static void setup(void)
{
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
        strcpy(dir, "/tmp/alexnet-pictures-XXXXXX");
}

static Suite *pictures_suite(void)
{
        Suite *s = suite_create("pictures");
        TCase *t = tcase_create("draw");
        tcase_add_checked_fixture(t, setup, teardown);
        tcase_set_timeout(t, 120);
        tcase_add_test(t, filter_tiles_hold_the_normalised_weights);
        tcase_add_test(t, filter_normalisation_spans_black_to_white);
        tcase_add_test(t, bgr_kernels_are_drawn_in_rgb);
        tcase_add_test(t, too_large_a_picture_is_refused_and_nothing_written);
        tcase_add_test(t, curves_pass_through_their_points);
        tcase_add_test(t, nice_steps_are_one_two_five);
        tcase_add_test(t, training_log_reads_by_header_and_keeps_the_last_run);
        tcase_add_test(t, log_picture_sits_beside_the_log);
        tcase_add_test(t, confusion_cells_have_their_share_colour);
        tcase_add_test(t, overlay_blends_the_map_over_the_picture);
        tcase_add_test(t, npy_reads_what_numpy_writes);
        tcase_add_test(t, npy_header_round_trips_and_truncation_is_caught);
        tcase_add_test(t, nearest_matches_a_plain_search);
        tcase_add_test(t, near_pairs_are_every_close_pair_in_order);
        tcase_add_test(t, euclidean_copies_are_zero_apart);
        suite_add_tcase(s, t);
        return s;
}

int main(void)
{
        return run_suite(pictures_suite());
}
