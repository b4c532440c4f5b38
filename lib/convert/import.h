/* Importing weights from other tools' files (alexnet convert).
 *
 * Each importer reads one format into an architecture and a set of named
 * float32 tensors whose names follow the architecture ("<layer>.weight",
 * "<layer>.bias"); model_from_tensors (model.h) then checks every shape and
 * builds the model.  Importers validate every size and offset against the
 * file before reading, and never execute anything from it.
 *
 *   import_torch    torch.save'd state_dicts: the zip container (1.6+) and
 *                   the legacy stream format, via the restricted unpickler
 *   import_onnx     ONNX graphs (protobuf), e.g. torch.onnx exports and the
 *                   model zoo's bvlcalexnet
 *   import_darknet  darknet .cfg + .weights */
#ifndef ALEXNET_IMPORT_H
#define ALEXNET_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "model/arch.h"
#include "base/errors.h"
#include "base/file_read.h"
#include "image/transform.h"

struct named_tensor {
        char name[LAYER_NAME_MAX + 8];
        int rank;
        int64_t shape[8];
        size_t count;
        float *data; /* owned */
};

struct tensor_set {
        struct named_tensor *items;
        size_t n, cap;
};

/* Adds a tensor with zeroed storage of the given shape; NULL on failure
 * (err set).  Refuses duplicate names. */
struct named_tensor *tensor_set_add(struct tensor_set *ts, const char *name,
                                    int rank, const int64_t *shape,
                                    struct an_error *err);
/* The same without storage yet (data NULL): an importer declares every
 * tensor, checks the shapes against the architecture
 * (imported_check_shapes), and only then allocates and reads each one. */
struct named_tensor *tensor_set_declare(struct tensor_set *ts, const char *name,
                                        int rank, const int64_t *shape,
                                        struct an_error *err);
enum an_status named_tensor_alloc(struct named_tensor *t, struct an_error *err);
const struct named_tensor *tensor_set_find(const struct tensor_set *ts,
                                           const char *name);
void tensor_set_free(struct tensor_set *ts);

/* What an importer produces. */
struct imported {
        struct arch arch;
        struct tensor_set tensors;
        struct preprocess pre; /* what the source format's weights expect */
        char source[32];       /* "torch", "onnx", "darknet" */
        char **labels;         /* from the file (an alexnet ONNX export's
                                * metadata), or NULL; owned */
};

void imported_free(struct imported *im);

enum an_status import_torch(struct imported *im, const char *path,
                            struct an_error *err);
enum an_status import_onnx(struct imported *im, const char *path,
                           struct an_error *err);
enum an_status import_darknet(struct imported *im, const char *cfg_path,
                              const char *weights_path, struct an_error *err);

/* The architecture of a state_dict from its tensor names and shapes
 * (import_arch.c). */
enum an_status arch_from_state_dict(struct arch *a, const struct tensor_set *ts,
                                    struct an_error *err);

/* Every tensor of ts is a parameter of a with exactly the shape its layer
 * needs, and every parameter is there: shapes only, no data read. */
enum an_status imported_check_shapes(const struct arch *a,
                                     const struct tensor_set *ts,
                                     struct an_error *err);

/* Builds a model from imported tensors: every parameter the architecture
 * needs must be there with its exact shape, and nothing else. */
struct model;
enum an_status model_from_imported(struct model *m, const struct imported *im,
                                   struct an_error *err);

#endif
