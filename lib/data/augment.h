/* Training-time augmentation (Krizhevsky et al. 2012, section 4.1): a
 * random crop of the input size from the resized image and a random
 * horizontal flip; and PCA colour noise: for each image, add
 * sum_i alpha_i lambda_i p_i to every pixel, where p_i and lambda_i are the
 * eigenvectors and eigenvalues of the training set's RGB covariance (pixel
 * values in 0..1) and alpha_i ~ N(0, 0.1) is drawn per image.  Every draw
 * comes from the counter-based generator keyed by (seed, epoch, sample), so
 * an epoch's batches can be rebuilt exactly after a restart. */
#ifndef ALEXNET_AUGMENT_H
#define ALEXNET_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "image/transform.h"

enum augment_mode {
        AUGMENT_NONE,
        AUGMENT_FLIP,
        AUGMENT_FLIP_CROP,
        AUGMENT_PAPER
};

struct colour_pca {
        float eigenvalues[3];
        float eigenvectors[3][3]; /* eigenvectors[i] is p_i */
};

/* Principal components of the pixels of n images (up to ~4 M pixels are
 * sampled). */
void colour_pca_fit(const struct image *images, size_t n,
                    struct colour_pca *pca);

/* The network input for one sample of an already resized image. */
void augment_sample(const struct image *img, enum augment_mode mode,
                    const struct colour_pca *pca, uint64_t seed, uint64_t epoch,
                    uint64_t sample, struct shape input,
                    const struct preprocess *pre, float *out);

#endif
