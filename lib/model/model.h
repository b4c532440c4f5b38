/* Model files: a network's weights in a safetensors file, with what is needed
 * to use them in its "__metadata__" (all values are strings, several of them
 * JSON documents):
 *
 *   "format"        "alexnet-model/1"
 *   "architecture"  the layer list (arch_json.c)
 *   "preprocess"    {"resize": 256, "crop": [224, 224], "channels": "RGB",
 *                    "scale": 0.00392156862745098, "mean": [...],
 *                    "std": [...]}  (pixel bytes times scale, minus mean,
 *                    divided by std, in the channel order given)
 *   "labels"        ["tench", "goldfish", ...], one per output, optional
 *   "provenance"    a JSON object: where the weights came from, training
 *                    history; shown by `alexnet inspect`, otherwise opaque
 *
 * Opening validates the container (safetensors.c), then the metadata, then
 * that every parameter tensor the architecture needs is present with the
 * right shape and a float dtype, and that nothing else is there.  F32 tensors
 * are used in place from the mapping; F16 and BF16 are widened once. */
#ifndef ALEXNET_MODEL_H
#define ALEXNET_MODEL_H

#include <jansson.h>

#include "model/arch.h"
#include "base/errors.h"
#include "model/net.h"
#include "formats/safetensors.h"
#include "image/transform.h"

struct model {
        struct net net;
        struct preprocess pre;
        char **labels;       /* [net_outputs()] or NULL */
        json_t *provenance;  /* an object, never NULL once opened */
        struct st_file file; /* the mapping tensors may point into */
        float *owned_params; /* widened or generated parameters */
};

/* torchvision's ImageNet preprocessing for a given resize size. */
struct preprocess preprocess_torchvision(int resize);

enum an_status model_open(struct model *m, const char *path,
                          struct an_error *err);

/* A model of an architecture with parameters allocated (zero) and owned,
 * torchvision preprocessing and no labels. */
enum an_status model_from_arch(struct model *m, const struct arch *a,
                               struct an_error *err);

/* The same for a preset; used by `inspect PRESET`, tests and training. */
enum an_status model_from_preset(struct model *m, const char *preset,
                                 int classes, struct an_error *err);

void model_close(struct model *m);

/* AN_OK while the file model_open mapped is as it was opened: call it
 * after a computation that read parameters from the file, before trusting
 * the result (base/mapped_file.h).  Always AN_OK for models not opened
 * from a file. */
enum an_status model_check_file(const struct model *m, struct an_error *err);

/* Total parameter count of the model's network. */
uint64_t model_param_count(const struct model *m);

/* Writes the model (parameters stored as dtype: ST_F32, ST_F16 or ST_BF16)
 * atomically to path. */
enum an_status model_save(const struct model *m, const char *path,
                          enum st_dtype dtype, struct an_error *err);

/* The same with extra tensors (their names must start with "train.") and
 * extra metadata strings: a training checkpoint.  model_open ignores
 * "train." tensors, so a checkpoint is also a usable model. */
enum an_status model_save_with(const struct model *m, const char *path,
                               enum st_dtype dtype,
                               const struct st_write_tensor *extra,
                               size_t n_extra, const json_t *extra_meta,
                               struct an_error *err);

/* Copies parameters that live in the mapped file (or anywhere) into one
 * owned block in layer order, so that they can be trained. */
enum an_status model_own_params(struct model *m, struct an_error *err);

#endif
