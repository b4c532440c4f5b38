#include "data/augment.h"

#include <math.h>
#include <string.h>

#include "base/rng.h"

enum { STREAM_AUGMENT = 0x41554700 };

/* Jacobi rotations on a symmetric 3x3 matrix: eigenvalues on the diagonal,
 * eigenvectors in the columns of v. */
static void eigen3(double a[3][3], double v[3][3])
{
        memset(v, 0, 9 * sizeof(double));
        for (int i = 0; i < 3; i++)
                v[i][i] = 1;
        for (int sweep = 0; sweep < 50; sweep++) {
                double off = fabs(a[0][1]) + fabs(a[0][2]) + fabs(a[1][2]);
                if (off < 1e-15)
                        break;
                for (int p = 0; p < 2; p++)
                        for (int q = p + 1; q < 3; q++) {
                                if (fabs(a[p][q]) < 1e-300)
                                        continue;
                                double theta =
                                        (a[q][q] - a[p][p]) / (2 * a[p][q]);
                                double t =
                                        (theta >= 0 ? 1 : -1) /
                                        (fabs(theta) + sqrt(theta * theta + 1));
                                double c = 1 / sqrt(t * t + 1), s = t * c;
                                for (int k = 0; k < 3; k++) {
                                        double akp = a[k][p], akq = a[k][q];
                                        a[k][p] = c * akp - s * akq;
                                        a[k][q] = s * akp + c * akq;
                                }
                                for (int k = 0; k < 3; k++) {
                                        double apk = a[p][k], aqk = a[q][k];
                                        a[p][k] = c * apk - s * aqk;
                                        a[q][k] = s * apk + c * aqk;
                                }
                                for (int k = 0; k < 3; k++) {
                                        double vkp = v[k][p], vkq = v[k][q];
                                        v[k][p] = c * vkp - s * vkq;
                                        v[k][q] = s * vkp + c * vkq;
                                }
                        }
        }
}

void colour_pca_fit(const struct image *images, size_t n,
                    struct colour_pca *pca)
{
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
                total += (size_t)images[i].width * images[i].height;
        size_t stride = total / 4000000 + 1;
        double sum[3] = {0}, cross[3][3] = {{0}};
        size_t count = 0, k = 0;
        for (size_t i = 0; i < n; i++) {
                size_t pixels = (size_t)images[i].width * images[i].height;
                for (size_t p = 0; p < pixels; p++, k++) {
                        if (k % stride)
                                continue;
                        const uint8_t *rgb = images[i].rgb + 3 * p;
                        for (int a = 0; a < 3; a++) {
                                sum[a] += rgb[a] / 255.0;
                                for (int b = 0; b < 3; b++)
                                        cross[a][b] += rgb[a] / 255.0 *
                                                       (rgb[b] / 255.0);
                        }
                        count++;
                }
        }
        double cov[3][3], vec[3][3];
        for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                        cov[a][b] = count ? cross[a][b] / count -
                                                    sum[a] / count *
                                                            (sum[b] / count)
                                          : 0;
        eigen3(cov, vec);
        for (int i = 0; i < 3; i++) {
                pca->eigenvalues[i] = (float)(cov[i][i] > 0 ? cov[i][i] : 0);
                for (int c = 0; c < 3; c++)
                        pca->eigenvectors[i][c] = (float)vec[c][i];
        }
}

void augment_sample(const struct image *img, enum augment_mode mode,
                    const struct colour_pca *pca, uint64_t seed, uint64_t epoch,
                    uint64_t sample, struct shape input,
                    const struct preprocess *pre, float *out)
{
        uint64_t stream = STREAM_AUGMENT + epoch;
        uint64_t base = sample * 8;
        int x0, y0;
        bool flip = false;
        float shift[3] = {0, 0, 0};
        if (mode == AUGMENT_NONE || mode == AUGMENT_FLIP) {
                bool unused;
                image_crop_offsets(img->width, img->height, input.w, input.h, 1,
                                   &x0, &y0, &unused);
                if (mode == AUGMENT_FLIP)
                        flip = rng_bits(seed, stream, base + 2) & 1;
        } else {
                int span_x = img->width - input.w + 1;
                int span_y = img->height - input.h + 1;
                x0 = (int)(rng_bits(seed, stream, base) % (uint64_t)span_x);
                y0 = (int)(rng_bits(seed, stream, base + 1) % (uint64_t)span_y);
                flip = rng_bits(seed, stream, base + 2) & 1;
        }
        if (mode == AUGMENT_PAPER && pca)
                for (int i = 0; i < 3; i++) {
                        float alpha =
                                0.1f * rng_normal(seed, stream, base + 3 + i);
                        for (int c = 0; c < 3; c++)
                                shift[c] += alpha * pca->eigenvalues[i] *
                                            pca->eigenvectors[i][c] * 255.0f;
                }
        image_to_tensor_shifted(img, x0, y0, flip, input, pre, shift, out);
}
