/* Training checkpoints: a model file (model.h) that also holds
 *
 *   tensor "train.velocity"   the SGD momentum of every parameter, F32
 *   "train_settings"          what shapes the run (settings.h), JSON
 *   "train_state"             where it stands (schedule.h), JSON
 *
 * so a checkpoint is itself a usable model, and --resume continues it
 * exactly: the weights, velocity, step count (which keys dropout and the
 * batches) and schedule are those the run had.  Written atomically (temp
 * file, fsync, rename) like every model. */
#ifndef ALEXNET_CHECKPOINT_H
#define ALEXNET_CHECKPOINT_H

#include <stddef.h>

#include "base/errors.h"
#include "model/model.h"
#include "train/schedule.h"
#include "train/settings.h"

enum an_status checkpoint_save(const char *path, const struct model *m,
                               const float *velocity, size_t n_params,
                               const struct train_settings *settings,
                               const struct train_state *state,
                               struct an_error *err);

/* The settings a checkpoint's run was started with. */
enum an_status checkpoint_read_settings(const char *path,
                                        struct train_settings *settings,
                                        struct an_error *err);

/* Its state and the velocity of its n_params parameters (the model's own
 * parameters come from model_open). */
enum an_status checkpoint_read_state(const char *path,
                                     struct train_state *state, float *velocity,
                                     size_t n_params, struct an_error *err);

#endif
