#include "base/rng.h"

#include <math.h>

static uint64_t mix(uint64_t z)
{
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
}

uint64_t rng_bits(uint64_t seed, uint64_t stream, uint64_t i)
{
        return mix(mix(seed ^ mix(stream + 0x9E3779B97F4A7C15ull)) +
                   (i + 1) * 0x9E3779B97F4A7C15ull);
}

float rng_uniform(uint64_t seed, uint64_t stream, uint64_t i)
{
        return (float)(rng_bits(seed, stream, i) >> 40) * 0x1p-24f;
}

float rng_normal(uint64_t seed, uint64_t stream, uint64_t i)
{
        double u1 =
                ((double)(rng_bits(seed, stream, 2 * i) >> 11) + 1.0) * 0x1p-53;
        double u2 = (double)(rng_bits(seed, stream, 2 * i + 1) >> 11) * 0x1p-53;
        return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}
