/* Helpers shared by the Check suites: fixture files, closeness checks, and
 * the seeded number stream that tests/fixtures/generate.py reproduces. */
#ifndef ALEXNET_TESTUTIL_H
#define ALEXNET_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/safetensors.h"

/* $FIXTURES/rel (FIXTURES is set by make check), in a static buffer. */
const char *fixture_path(const char *rel);

/* Opens a fixture file; fails the test if it cannot. */
void fixture_open(struct st_file *f, const char *rel);

/* A float32 copy of tensor `name` (the test fails if it is missing);
 * *count gets its element count when count is not NULL.  free() it. */
float *fixture_tensor(const struct st_file *f, const char *name, size_t *count);

/* Fails unless |got[i] - want[i]| <= tol * max(1, |want[i]|) for all i. */
void assert_close(const float *got, const float *want, size_t n, double tol,
                  const char *what);

/* Output i of SplitMix64(seed) for i in [start, start + count), mapped to
 * float32 (2u - 1) * bound with u the top 24 bits over 2^24. */
void seeded_uniform(uint64_t seed, uint64_t start, size_t count, float bound,
                    float *out);

/* He-uniform bound sqrtf(6 / fan_in) for a weight of the given shape, 0.2
 * for a bias (rank 1). */
float seeded_bound(int rank, const int64_t *shape);

/* A labelled image folder in a new temporary directory: dir/cK/iJ.jpg,
 * `classes` folders of `per_class` w x h JPEGs (synth_jpeg.h, seeded by
 * class and index).  dir holds at least 64 bytes; the test fails if the
 * folder cannot be made. */
void make_image_folder(char *dir, int classes, int per_class, int w, int h);

/* Removes a folder made by make_image_folder (two levels of files). */
void remove_image_folder(const char *dir);

/* Runs suite s and returns the process exit status. */
int run_suite(Suite *s);

#endif
