/* The JSON documents of a model file's metadata besides the architecture:
 * preprocessing, class labels and provenance (see model.h for the
 * keys). */
#ifndef ALEXNET_MODEL_META_H
#define ALEXNET_MODEL_META_H

#include <jansson.h>
#include <stddef.h>

#include "base/errors.h"
#include "base/shape.h"
#include "image/transform.h"

json_t *preprocess_to_json(const struct preprocess *p, struct shape input);
enum an_status preprocess_from_json(struct preprocess *p, const json_t *j,
                                    struct shape input, struct an_error *err);

json_t *labels_to_json(char *const *labels);
void labels_free(char **labels);
/* Whether s can be a class label, by the rule files are read with: valid
 * UTF-8, one line (no newline), no tab (records are tab-separated), at
 * most 1024 bytes.  The error says which rule s breaks. */
enum an_status label_check(const char *s, struct an_error *err);
/* Reads exactly `count` labels into a new NULL-terminated array. */
enum an_status labels_from_json(char ***labels, const json_t *j, size_t count,
                                struct an_error *err);

/* Sets provenance[time_key] to the current UTC time (ISO 8601) and
 * provenance["tool"] to this program and version: what every writer of a
 * model (train, convert) records beside its own keys. */
void provenance_stamp(json_t *provenance, const char *time_key);

#endif
