/* The initial weights of a network trained from scratch, drawn from a
 * counter-based generator keyed by (seed, layer, element): the same seed
 * gives the same network on any machine and thread count. */
#ifndef ALEXNET_INIT_H
#define ALEXNET_INIT_H

#include <stdint.h>

#include "model/model.h"

enum init_mode {
        INIT_PAPER, /* N(0, 0.01); biases 1 in conv2, conv4, conv5 and the
                     * hidden fully connected layers, 0 elsewhere
                     * (Krizhevsky et al. 2012, section 5) */
        INIT_HE,    /* N(0, 2 / fan_in), biases 0 (He et al. 2015) */
};

/* Fills every parameter of the model (which must own them) from the seeded
 * generator; first_layer > 0 leaves earlier layers as they are (the layers
 * kept when fine-tuning). */
void model_init_weights(struct model *m, enum init_mode mode, uint64_t seed,
                        int first_layer);

#endif
