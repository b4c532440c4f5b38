#include "image/transform.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Pillow's fixed-point precision for 8-bit resampling (Resample.c). */
enum { PRECISION_BITS = 32 - 8 - 2 };

void image_resized_size(int w, int h, int target, int *out_w, int *out_h)
{
        /* torchvision: new_long = int(new_short * long / short) */
        if (w <= h) {
                *out_w = target;
                *out_h = (int)((double)target * h / w);
        } else {
                *out_h = target;
                *out_w = (int)((double)target * w / h);
        }
        if (*out_w < 1)
                *out_w = 1;
        if (*out_h < 1)
                *out_h = 1;
}

/* Per output position along one axis: the first input index, how many
 * inputs contribute, and their fixed-point weights (ksize apart). */
struct coeffs {
        int ksize;
        int *first, *count;
        int32_t *weights;
};

static double bilinear(double x)
{
        x = fabs(x);
        return x < 1.0 ? 1.0 - x : 0.0;
}

static void coeffs_free(struct coeffs *c)
{
        free(c->first);
        free(c->count);
        free(c->weights);
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear
 * filter (support 1), widened by the scale when shrinking (antialiasing). */
static bool coeffs_init(struct coeffs *c, int in_size, int out_size)
{
        double scale = (double)in_size / out_size;
        double filterscale = scale < 1.0 ? 1.0 : scale;
        double support = 1.0 * filterscale;
        c->ksize = (int)ceil(support) * 2 + 1;
        c->first = malloc(out_size * sizeof *c->first);
        c->count = malloc(out_size * sizeof *c->count);
        c->weights = calloc((size_t)out_size * c->ksize, sizeof *c->weights);
        double *w = malloc(c->ksize * sizeof *w);
        if (!c->first || !c->count || !c->weights || !w) {
                free(w);
                coeffs_free(c);
                return false;
        }
        for (int xx = 0; xx < out_size; xx++) {
                double center = (xx + 0.5) * scale, total = 0.0;
                int lo = (int)(center - support + 0.5);
                int hi = (int)(center + support + 0.5);
                if (lo < 0)
                        lo = 0;
                if (hi > in_size)
                        hi = in_size;
                int n = hi - lo;
                for (int x = 0; x < n; x++) {
                        w[x] = bilinear((x + lo - center + 0.5) / filterscale);
                        total += w[x];
                }
                int32_t *k = c->weights + (size_t)xx * c->ksize;
                for (int x = 0; x < n; x++) {
                        double v = total != 0.0 ? w[x] / total : w[x];
                        v *= 1 << PRECISION_BITS;
                        k[x] = (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
                }
                c->first[xx] = lo;
                c->count[xx] = n;
        }
        free(w);
        return true;
}

static uint8_t clip8(int32_t v)
{
        v >>= PRECISION_BITS;
        return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

static void resample_rows(const struct image *in, struct image *out,
                          const struct coeffs *c)
{
#pragma omp parallel for schedule(static)
        for (int y = 0; y < out->height; y++) {
                const uint8_t *src = in->rgb + (size_t)y * in->width * 3;
                uint8_t *dst = out->rgb + (size_t)y * out->width * 3;
                for (int x = 0; x < out->width; x++) {
                        const int32_t *k = c->weights + (size_t)x * c->ksize;
                        const uint8_t *p = src + (size_t)c->first[x] * 3;
                        for (int ch = 0; ch < 3; ch++) {
                                int32_t sum = 1 << (PRECISION_BITS - 1);
                                for (int i = 0; i < c->count[x]; i++)
                                        sum += p[i * 3 + ch] * k[i];
                                dst[x * 3 + ch] = clip8(sum);
                        }
                }
        }
}

static void resample_columns(const struct image *in, struct image *out,
                             const struct coeffs *c)
{
        size_t stride = (size_t)in->width * 3;
#pragma omp parallel for schedule(static)
        for (int y = 0; y < out->height; y++) {
                const int32_t *k = c->weights + (size_t)y * c->ksize;
                const uint8_t *src = in->rgb + (size_t)c->first[y] * stride;
                uint8_t *dst = out->rgb + (size_t)y * stride;
                for (size_t x = 0; x < stride; x++) {
                        int32_t sum = 1 << (PRECISION_BITS - 1);
                        for (int i = 0; i < c->count[y]; i++)
                                sum += src[i * stride + x] * k[i];
                        dst[x] = clip8(sum);
                }
        }
}

static enum an_status alloc_like(struct image *img, int w, int h,
                                 struct an_error *err)
{
        img->rgb = malloc((size_t)w * h * 3);
        img->width = w;
        img->height = h;
        return img->rgb ? AN_OK
                        : an_error_set(err, AN_E_NOMEM, "out of memory");
}

/* One pass along an axis, skipped (a plain copy) when its size is kept, as
 * Pillow does. */
static enum an_status resize_pass(const struct image *in, int out_w, int out_h,
                                  bool horizontal, struct image *out,
                                  struct an_error *err)
{
        struct coeffs c;
        enum an_status st = alloc_like(out, out_w, out_h, err);
        if (st != AN_OK)
                return st;
        if (!coeffs_init(&c, horizontal ? in->width : in->height,
                         horizontal ? out_w : out_h)) {
                image_free(out);
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        }
        if (horizontal)
                resample_rows(in, out, &c);
        else
                resample_columns(in, out, &c);
        coeffs_free(&c);
        return AN_OK;
}

enum an_status image_resize(const struct image *in, int out_w, int out_h,
                            struct image *out, struct an_error *err)
{
        memset(out, 0, sizeof *out);
        if (out_w == in->width && out_h == in->height) {
                enum an_status st = alloc_like(out, out_w, out_h, err);
                if (st == AN_OK)
                        memcpy(out->rgb, in->rgb, (size_t)out_w * out_h * 3);
                return st;
        }
        if (out_h == in->height)
                return resize_pass(in, out_w, out_h, true, out, err);
        if (out_w == in->width)
                return resize_pass(in, out_w, out_h, false, out, err);
        struct image mid;
        enum an_status st = resize_pass(in, out_w, in->height, true, &mid, err);
        if (st != AN_OK)
                return st;
        st = resize_pass(&mid, out_w, out_h, false, out, err);
        image_free(&mid);
        return st;
}

void image_to_tensor_shifted(const struct image *img, int x0, int y0, bool flip,
                             struct shape shape, const struct preprocess *pre,
                             const float shift[3], float *out)
{
        bool bgr = pre->channels[0] == 'B';
        size_t plane = (size_t)shape.h * shape.w;
        for (int c = 0; c < 3; c++) {
                int source = bgr ? 2 - c : c;
                float scale = (float)pre->scale, mean = (float)pre->mean[c];
                float std = (float)pre->std[c], add = shift[source];
                float *dst = out + c * plane;
                for (int y = 0; y < shape.h; y++) {
                        const uint8_t *row =
                                img->rgb +
                                ((size_t)(y0 + y) * img->width + x0) * 3;
                        for (int x = 0; x < shape.w; x++) {
                                int sx = flip ? shape.w - 1 - x : x;
                                float v = ((float)row[sx * 3 + source] + add) *
                                          scale;
                                dst[(size_t)y * shape.w + x] = (v - mean) / std;
                        }
                }
        }
}

void image_to_tensor(const struct image *img, int x0, int y0, bool flip,
                     struct shape shape, const struct preprocess *pre,
                     float *out)
{
        static const float none[3] = {0, 0, 0};
        image_to_tensor_shifted(img, x0, y0, flip, shape, pre, none, out);
}

void image_crop_offsets(int w, int h, int crop_w, int crop_h, int count,
                        int *x0, int *y0, bool *flip)
{
        /* torchvision's CenterCrop: int(round((size - crop) / 2.0)), where
         * Python rounds half to even, as rint does by default. */
        int cx = (int)rint((w - crop_w) / 2.0);
        int cy = (int)rint((h - crop_h) / 2.0);
        const int xs[5] = {cx, 0, w - crop_w, 0, w - crop_w};
        const int ys[5] = {cy, 0, 0, h - crop_h, h - crop_h};
        /* The mirrored five are cut from the mirrored image, as
         * torchvision's TenCrop does: a crop at x there is the mirror of
         * the crop at w - crop_w - x here (which matters for the centre
         * when w - crop_w is odd). */
        for (int i = 0; i < count; i++) {
                flip[i] = i >= 5;
                x0[i] = flip[i] ? w - crop_w - xs[i % 5] : xs[i % 5];
                y0[i] = ys[i % 5];
        }
}

enum an_status image_preprocess(const struct image *img,
                                const struct preprocess *pre,
                                struct shape input, int count, float *out,
                                struct an_error *err)
{
        int w, h;
        image_resized_size(img->width, img->height, pre->resize, &w, &h);
        if (w < input.w || h < input.h)
                return an_error_set(err, AN_E_INVALID,
                                    "resized image %dx%d is smaller than the "
                                    "%dx%d input",
                                    w, h, input.w, input.h);
        struct image resized;
        enum an_status st = image_resize(img, w, h, &resized, err);
        if (st != AN_OK)
                return st;
        int x0[TEN_CROPS], y0[TEN_CROPS];
        bool flip[TEN_CROPS];
        image_crop_offsets(w, h, input.w, input.h, count, x0, y0, flip);
        for (int i = 0; i < count; i++)
                image_to_tensor(&resized, x0[i], y0[i], flip[i], input, pre,
                                out + (size_t)i * shape_count(input));
        image_free(&resized);
        return AN_OK;
}
