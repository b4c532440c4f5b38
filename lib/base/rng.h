/* Counter-based random numbers: value i of stream (seed, stream) is a pure
 * function of its arguments (SplitMix64 of a mixed key), so any thread can
 * draw any element in any order and runs are reproducible bit for bit. */
#ifndef ALEXNET_RNG_H
#define ALEXNET_RNG_H

#include <stdint.h>

uint64_t rng_bits(uint64_t seed, uint64_t stream, uint64_t i);
/* Uniform in [0, 1) with 24 random bits. */
float rng_uniform(uint64_t seed, uint64_t stream, uint64_t i);
/* Standard normal (Box-Muller on two uniforms). */
float rng_normal(uint64_t seed, uint64_t stream, uint64_t i);

#endif
