/* Dropout (Srivastava et al. 2014), as inverted dropout: in training each
 * value is kept with probability 1 - p and scaled by 1 / (1 - p), so that
 * inference is the identity.  The mask comes from a counter-based
 * generator keyed by (seed, stream, sample, element), so it is a pure
 * function of its key: a resumed run draws the masks an uninterrupted one
 * would, and a sample draws the same mask whichever process of a
 * distributed run, and whichever place in a batch, it lands in. */
#ifndef ALEXNET_DROPOUT_H
#define ALEXNET_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

/* y = x * mask over batch samples of per_sample values, with element j of
 * sample n 0 or 1 / (1 - p), drawn from (seed, stream, id * per_sample +
 * j), where id is ids[n] (NULL: n); x and y may be the same buffer. */
void dropout_forward(double p, int batch, size_t per_sample, const size_t *ids,
                     const float *x, float *y, float *mask, uint64_t seed,
                     uint64_t stream);

/* dx = dy * mask (the mask the forward pass drew). */
void dropout_backward(size_t count, const float *mask, const float *dy,
                      float *dx);

#endif
