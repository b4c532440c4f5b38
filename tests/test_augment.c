/* Training augmentation (lib/data/augment.c): random crops stay inside the
 * image and cover its range, flips come half the time and mirror exactly,
 * the centre crop of AUGMENT_NONE is torchvision's, PCA colour noise has
 * the paper's statistics, and the PCA fit recovers a known covariance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/augment.h"
#include "testutil.h"

/* A w x h image whose pixel (x, y) is (x, y, 7): the tensor says where it
 * came from. */
static struct image coordinate_image(int w, int h)
{
        struct image img = {w, h, malloc((size_t)w * h * 3)};
        ck_assert_ptr_nonnull(img.rgb);
        for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                        uint8_t *p = img.rgb + ((size_t)y * w + x) * 3;
                        p[0] = (uint8_t)x;
                        p[1] = (uint8_t)y;
                        p[2] = 7;
                }
        return img;
}

/* Raw pixel values: scale 1, no mean, unit std. */
static const struct preprocess identity = {0, "RGB", 1.0, {0, 0, 0}, {1, 1, 1}};

enum { W = 50, H = 40, CROP = 24 };

/* The crop's top-left corner and whether it was mirrored, read back from
 * a tensor of coordinate_image. */
static void where(const float *t, int *x0, int *y0, bool *flip)
{
        float left = t[0], right = t[CROP - 1];
        *flip = left > right;
        *x0 = (int)(*flip ? right : left);
        *y0 = (int)t[CROP * CROP];
}

START_TEST(random_crops_stay_inside_and_cover_the_range)
{
        struct image img = coordinate_image(W, H);
        struct shape in = {3, CROP, CROP};
        float *t = malloc(shape_count(in) * sizeof *t);
        int min_x = W, max_x = -1, min_y = H, max_y = -1, flips = 0;
        const int n = 2000;
        for (int s = 0; s < n; s++) {
                augment_sample(&img, AUGMENT_FLIP_CROP, NULL, 11, 0, s, in,
                               &identity, t);
                int x0, y0;
                bool flip;
                where(t, &x0, &y0, &flip);
                ck_assert(x0 >= 0 && x0 + CROP <= W);
                ck_assert(y0 >= 0 && y0 + CROP <= H);
                /* every pixel is the source's: a plain shifted window */
                int wrong = 0;
                for (int y = 0; y < CROP; y++)
                        for (int x = 0; x < CROP; x++) {
                                int sx = flip ? x0 + CROP - 1 - x : x0 + x;
                                wrong += t[y * CROP + x] != sx;
                                wrong +=
                                        t[CROP * CROP + y * CROP + x] != y0 + y;
                        }
                ck_assert_int_eq(wrong, 0);
                min_x = x0 < min_x ? x0 : min_x;
                max_x = x0 > max_x ? x0 : max_x;
                min_y = y0 < min_y ? y0 : min_y;
                max_y = y0 > max_y ? y0 : max_y;
                flips += flip;
        }
        ck_assert_int_eq(min_x, 0);
        ck_assert_int_eq(max_x, W - CROP);
        ck_assert_int_eq(min_y, 0);
        ck_assert_int_eq(max_y, H - CROP);
        /* binomial(2000, 0.5): 4.5 standard deviations either side */
        ck_assert(flips > 900 && flips < 1100);
        free(t);
        image_free(&img);
}
END_TEST

START_TEST(no_augmentation_is_the_centre_crop)
{
        struct image img = coordinate_image(W, H);
        struct shape in = {3, CROP, CROP};
        float *t = malloc(shape_count(in) * sizeof *t);
        for (int s = 0; s < 50; s++) {
                augment_sample(&img, AUGMENT_NONE, NULL, 11, 3, s, in,
                               &identity, t);
                int x0, y0;
                bool flip;
                where(t, &x0, &y0, &flip);
                /* torchvision's CenterCrop: round((W - crop) / 2) */
                ck_assert_int_eq(x0, 13);
                ck_assert_int_eq(y0, 8);
                ck_assert(!flip);
        }
        free(t);
        image_free(&img);
}
END_TEST

START_TEST(draws_depend_on_seed_epoch_and_sample_only)
{
        struct image img = coordinate_image(W, H);
        struct shape in = {3, CROP, CROP};
        size_t n = shape_count(in);
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        augment_sample(&img, AUGMENT_FLIP_CROP, NULL, 5, 2, 9, in, &identity,
                       a);
        augment_sample(&img, AUGMENT_FLIP_CROP, NULL, 5, 2, 9, in, &identity,
                       b);
        ck_assert_mem_eq(a, b, n * sizeof *a);
        int differ = 0;
        for (int s = 10; s < 20; s++) {
                augment_sample(&img, AUGMENT_FLIP_CROP, NULL, 5, 2, s, in,
                               &identity, b);
                differ += memcmp(a, b, n * sizeof *a) != 0;
        }
        ck_assert_int_ge(differ, 8);
        free(a);
        free(b);
        image_free(&img);
}
END_TEST

/* Krizhevsky et al. 2012, section 4.1: each image gets
 * sum_i alpha_i lambda_i p_i with alpha_i ~ N(0, 0.1), the same shift for
 * every pixel.  Over many images the shift's mean is 0 and its covariance
 * is 0.01 sum_i lambda_i^2 p_i p_i^T (in 0..255 units, times 255^2). */
START_TEST(pca_noise_has_the_papers_statistics)
{
        struct image img = coordinate_image(W, H);
        struct shape in = {3, CROP, CROP};
        float *t = malloc(shape_count(in) * sizeof *t);
        struct colour_pca pca = {{0.04f, 0.02f, 0.01f},
                                 {{0.6f, 0.64f, 0.48f},
                                  {0.8f, -0.48f, -0.36f},
                                  {0.0f, 0.6f, -0.8f}}};
        const int n = 20000;
        double sum = 0, squares = 0;
        for (int s = 0; s < n; s++) {
                augment_sample(&img, AUGMENT_PAPER, &pca, 3, 1, s, in,
                               &identity, t);
                /* the blue plane is 7 everywhere before the shift, and the
                 * shift is the same at every pixel */
                const float *blue = t + 2 * CROP * CROP;
                double shift = blue[0] - 7.0;
                ck_assert_float_eq_tol(blue[CROP * CROP - 1], blue[0], 1e-3);
                sum += shift;
                squares += shift * shift;
        }
        /* the blue channel's shift: mean and variance by the formula */
        double want_var = 0;
        for (int i = 0; i < 3; i++) {
                double c = 0.1 * pca.eigenvalues[i] * pca.eigenvectors[i][2] *
                           255.0;
                want_var += c * c;
        }
        double mean = sum / n, var = squares / n - mean * mean;
        ck_assert_msg(fabs(mean) < 4 * sqrt(want_var / n), "mean %g", mean);
        ck_assert_msg(fabs(var / want_var - 1) < 0.05, "var %g, want %g", var,
                      want_var);
        free(t);
        image_free(&img);
}
END_TEST

/* Pixels drawn with a known RGB covariance: the fit finds its eigenvalues
 * and its principal axis. */
START_TEST(pca_fit_recovers_a_known_covariance)
{
        const int w = 300, h = 300;
        struct image img = {w, h, malloc((size_t)w * h * 3)};
        /* grey levels along (1,1,1)/sqrt(3) with a spread of 60, and a small
         * independent red jitter of 10 */
        unsigned state = 12345;
        for (int i = 0; i < w * h; i++) {
                state = state * 1103515245u + 12345u;
                int g = 128 + (int)((state >> 16) % 121) - 60;
                state = state * 1103515245u + 12345u;
                int r = g + (int)((state >> 16) % 21) - 10;
                img.rgb[3 * i] = (uint8_t)r;
                img.rgb[3 * i + 1] = (uint8_t)g;
                img.rgb[3 * i + 2] = (uint8_t)g;
        }
        struct colour_pca pca;
        colour_pca_fit(&img, 1, &pca);
        int top = 0;
        for (int i = 1; i < 3; i++)
                if (pca.eigenvalues[i] > pca.eigenvalues[top])
                        top = i;
        /* uniform on [-60, 60] / 255: variance 60^2/3 / 255^2 per channel,
         * three channels along the diagonal */
        double grey_var = 3 * (60.0 * 61 / 3) / (255.0 * 255.0);
        ck_assert_msg(fabs(pca.eigenvalues[top] / grey_var - 1) < 0.05,
                      "top eigenvalue %g, want %g", pca.eigenvalues[top],
                      grey_var);
        const float *p = pca.eigenvectors[top];
        double dot = (p[0] + p[1] + p[2]) / sqrt(3.0);
        ck_assert_msg(fabs(fabs(dot) - 1) < 0.01, "axis %g %g %g", p[0], p[1],
                      p[2]);
        image_free(&img);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("augment");
        TCase *tc = tcase_create("augment");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, random_crops_stay_inside_and_cover_the_range);
        tcase_add_test(tc, no_augmentation_is_the_centre_crop);
        tcase_add_test(tc, draws_depend_on_seed_epoch_and_sample_only);
        tcase_add_test(tc, pca_noise_has_the_papers_statistics);
        tcase_add_test(tc, pca_fit_recovers_a_known_covariance);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
