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

/* Runs suite s and returns the process exit status. */
int run_suite(Suite *s);

#endif
