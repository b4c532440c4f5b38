/* Fine-tuning: a run that starts from a trained model instead of fresh
 * weights, with a new last layer when the classes differ, and optionally
 * only the fully connected layers trained. */
#ifndef ALEXNET_FINETUNE_H
#define ALEXNET_FINETUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/errors.h"
#include "model/model.h"
#include "train/init.h"

/* m becomes a trainable copy of the model file at path (its parameters
 * owned, its preprocessing kept) for `classes` outputs: when its output
 * count differs, its last linear layer is replaced by one of `classes`
 * outputs with fresh weights (mode, seed); everything else is kept. */
enum an_status model_finetune_from(struct model *m, const char *path,
                                   int classes, enum init_mode mode,
                                   uint64_t seed, struct an_error *err);

/* Layers [0, n) that a run leaves as they are: with freeze, every layer
 * before the first fully connected one; otherwise none. */
int model_frozen_layers(const struct model *m, bool freeze);

#endif
