/* inspect's pictures: a layer's kernels (--filters) and a training log's
 * curves (--curves). */
#ifndef ALEXNET_INSPECT_PICTURES_H
#define ALEXNET_INSPECT_PICTURES_H

#include "model/model.h"

/* Draws the kernels of the conv layer named `layer` (the first `most`
 * kernels; 0: all) of m into the PNG at path; the exit status, reported.
 * `what` names the model in messages. */
int draw_layer_filters(const struct model *m, const char *what,
                       const char *layer, int most, const char *path);

/* Draws the training log at log_path into the PNG at path; the exit
 * status, reported. */
int draw_log_curves(const char *log_path, const char *path);

#endif
