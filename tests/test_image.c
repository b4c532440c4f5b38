/* Decoders against Pillow's pixels, the refusal of broken files, the pixel
 * limit, reduced-scale JPEG decoding, and Pillow-exact resizing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "testutil.h"
#include "image/transform.h"

static void load_fixture_image(struct image *img, const char *file,
                               struct image_options opt)
{
        struct an_error err;
        const char *path = fixture_path(file);
        ck_assert_msg(image_load(img, path, &opt, &err) == AN_OK, "%s: %s",
                      path, err.message);
}

/* Compares img with the reference pixels in images/NAME.rgb.safetensors. */
static void assert_pixels(const struct image *img, const char *name)
{
        char rel[128];
        snprintf(rel, sizeof rel, "images/%s.rgb.safetensors", name);
        struct st_file f;
        fixture_open(&f, rel);
        const struct st_tensor *t = st_find(&f, "rgb");
        ck_assert_ptr_nonnull(t);
        ck_assert_msg(t->shape[0] == img->height && t->shape[1] == img->width,
                      "%s: decoded %dx%d, expected %lldx%lld", name, img->width,
                      img->height, (long long)t->shape[1],
                      (long long)t->shape[0]);
        float *want = fixture_tensor(&f, "rgb", NULL);
        size_t n = (size_t)img->width * img->height * 3;
        for (size_t i = 0; i < n; i++)
                ck_assert_msg(img->rgb[i] == (uint8_t)want[i],
                              "%s: byte %zu (pixel %zu,%zu) is %d, expected "
                              "%d",
                              name, i, i / 3 % img->width, i / 3 / img->width,
                              img->rgb[i], (int)want[i]);
        free(want);
        st_close(&f);
}

static const char *const good[] = {
        "baseline.jpg", "progressive.jpg",  "gray.jpg",       "cmyk.jpg",
        "exif1.jpg",    "exif2.jpg",        "exif3.jpg",      "exif4.jpg",
        "exif5.jpg",    "exif6.jpg",        "exif7.jpg",      "exif8.jpg",
        "rgb8.png",     "rgba8.png",        "gray8.png",      "gray_alpha8.png",
        "palette.png",  "palette_trns.png", "rgb16.png",      "gray16.png",
        "rgba16.png",   "gray2.png",        "interlaced.png",
};
enum { N_GOOD = sizeof good / sizeof good[0] };

START_TEST(decodes_like_pillow)
{
        char rel[128], name[64];
        snprintf(rel, sizeof rel, "images/%s", good[_i]);
        snprintf(name, sizeof name, "%s", good[_i]);
        *strrchr(name, '.') = 0;
        struct image img;
        load_fixture_image(&img, rel, image_defaults());
        assert_pixels(&img, name);
        image_free(&img);
}
END_TEST

static const struct {
        const char *file;
        const char *phrase;
} bad[] = {
        {"empty.jpg", "empty file"},
        {"text.jpg", "not a JPEG or PNG"},
        {"truncated.jpg", "JPEG: "},
        {"header_only.jpg", "JPEG: "},
        {"corrupt_entropy.jpg", "JPEG: "},
        {"truncated.png", "PNG: "},
        {"bad_crc.png", "PNG: "},
        {"huge.png", "over the limit"},
        {"huge.jpg", "over the limit"},
        {"many_scans.jpg", "more than 100 progressive scans"},
};
enum { N_BAD = sizeof bad / sizeof bad[0] };

START_TEST(broken_file_is_refused)
{
        char rel[128];
        snprintf(rel, sizeof rel, "images/bad/%s", bad[_i].file);
        struct image img;
        struct an_error err = {0};
        struct image_options opt = image_defaults();
        enum an_status st = image_load(&img, fixture_path(rel), &opt, &err);
        ck_assert_msg(st == AN_E_FORMAT, "%s: status %d", bad[_i].file, st);
        ck_assert_msg(strstr(err.message, bad[_i].phrase) != NULL,
                      "%s: '%s' lacks '%s'", bad[_i].file, err.message,
                      bad[_i].phrase);
        ck_assert(strchr(err.message, '\n') == NULL);
        ck_assert_ptr_null(img.rgb);
}
END_TEST

START_TEST(directory_and_missing_file_are_io_errors)
{
        struct image img;
        struct an_error err;
        struct image_options opt = image_defaults();
        ck_assert_int_eq(image_load(&img, fixture_path("images"), &opt, &err),
                         AN_E_IO);
        ck_assert_str_eq(err.message, "is a directory");
        ck_assert_int_eq(
                image_load(&img, fixture_path("images/none.jpg"), &opt, &err),
                AN_E_IO);
}
END_TEST

START_TEST(pixel_limit_is_configurable)
{
        struct image img;
        struct an_error err;
        struct image_options opt = image_defaults();
        opt.max_pixels = 41 * 29 - 1;
        ck_assert_int_eq(image_load(&img, fixture_path("images/baseline.jpg"),
                                    &opt, &err),
                         AN_E_FORMAT);
        ck_assert(strstr(err.message, "over the limit of 1188 pixels"));
        opt.max_pixels = 41 * 29;
        ck_assert_int_eq(image_load(&img, fixture_path("images/baseline.jpg"),
                                    &opt, &err),
                         AN_OK);
        image_free(&img);
}
END_TEST

static double mean_abs_diff(const struct image *a, const struct image *b)
{
        ck_assert_int_eq(a->width, b->width);
        ck_assert_int_eq(a->height, b->height);
        size_t n = (size_t)a->width * a->height * 3;
        double sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += abs(a->rgb[i] - b->rgb[i]);
        return sum / n;
}

/* A 1024x768 JPEG with a 256 target decodes whole by default, and with
 * reduced_jpeg at 1/2 scale (384 >= 256,
 * while 1/4 would give 192); after the resize to 256 it differs from the
 * full decode by less than the resize itself changes the picture. */
START_TEST(large_jpeg_decodes_at_reduced_scale)
{
        struct image full, scaled, a, b, back;
        struct image_options opt = image_defaults();
        struct an_error err;
        opt.resize_side = 256; /* alone: the full image */
        load_fixture_image(&full, "images/large.jpg", opt);
        opt.reduced_jpeg = true;
        load_fixture_image(&scaled, "images/large.jpg", opt);
        ck_assert_int_eq(full.width, 1024);
        ck_assert_int_eq(scaled.width, 512);
        ck_assert_int_eq(scaled.height, 384);
        ck_assert_int_eq(image_resize(&full, 341, 256, &a, &err), AN_OK);
        ck_assert_int_eq(image_resize(&scaled, 341, 256, &b, &err), AN_OK);
        double decode_diff = mean_abs_diff(&a, &b);
        ck_assert_int_eq(image_resize(&a, 1024, 768, &back, &err), AN_OK);
        double resize_diff = mean_abs_diff(&full, &back);
        ck_assert_msg(decode_diff < resize_diff,
                      "scaled decode differs by %.3f, resize by %.3f",
                      decode_diff, resize_diff);
        ck_assert_msg(decode_diff < 1.5, "mean difference %.3f", decode_diff);
        image_free(&full);
        image_free(&scaled);
        image_free(&a);
        image_free(&b);
        image_free(&back);
}
END_TEST

static const int resize_sizes[][2] = {
        {11, 8}, {50, 40}, {23, 5}, {7, 17}, {64, 9}};

START_TEST(resize_matches_pillow)
{
        struct image src, out;
        struct an_error err;
        load_fixture_image(&src, "images/rgb8.png", image_defaults());
        int w = resize_sizes[_i][0], h = resize_sizes[_i][1];
        ck_assert_int_eq(image_resize(&src, w, h, &out, &err), AN_OK);
        char name[64];
        snprintf(name, sizeof name, "resize_%dx%d", w, h);
        assert_pixels(&out, name);
        image_free(&src);
        image_free(&out);
}
END_TEST

START_TEST(shorter_side_and_crops_follow_torchvision)
{
        int w, h;
        image_resized_size(400, 300, 256, &w, &h);
        ck_assert(w == 341 && h == 256); /* int(256 * 400 / 300) */
        image_resized_size(200, 330, 256, &w, &h);
        ck_assert(w == 256 && h == 422);
        int x0[TEN_CROPS], y0[TEN_CROPS];
        bool flip[TEN_CROPS];
        image_crop_offsets(341, 256, 224, 224, TEN_CROPS, x0, y0, flip);
        /* round(58.5) is 58 in Python (half to even) */
        ck_assert_int_eq(x0[0], 58);
        ck_assert_int_eq(y0[0], 16);
        ck_assert(x0[2] == 117 && y0[3] == 32 && !flip[4] && flip[5]);
        ck_assert_int_eq(x0[5], 59); /* the mirrored image's centre crop */
        ck_assert_int_eq(x0[6], 117);
        image_crop_offsets(343, 256, 224, 224, 1, x0, y0, flip);
        ck_assert_int_eq(x0[0], 60); /* round(59.5) = 60 */
}
END_TEST

int main(void)
{
        Suite *s = suite_create("image");
        TCase *tc = tcase_create("image");
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, decodes_like_pillow, 0, N_GOOD);
        tcase_add_loop_test(tc, broken_file_is_refused, 0, N_BAD);
        tcase_add_test(tc, directory_and_missing_file_are_io_errors);
        tcase_add_test(tc, pixel_limit_is_configurable);
        tcase_add_test(tc, large_jpeg_decodes_at_reduced_scale);
        tcase_add_loop_test(tc, resize_matches_pillow, 0, 5);
        tcase_add_test(tc, shorter_side_and_crops_follow_torchvision);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
