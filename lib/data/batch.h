/* Batches with holes: when some samples of a batch could not be made (an
 * image that fails to decode), the others move to the front, in order, so
 * the network runs on a dense batch.  Predict's pipeline and the training
 * loader both compact this way. */
#ifndef ALEXNET_BATCH_H
#define ALEXNET_BATCH_H

#include <stdbool.h>
#include <stddef.h>

/* x holds count samples of sample floats; those with keep[i] move to the
 * front in order.  slot (may be NULL) gets each sample's new index, or -1
 * for those dropped.  Returns how many were kept. */
int batch_compact(float *x, size_t sample, int count, const bool *keep,
                  int *slot);

#endif
