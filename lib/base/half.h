/* IEEE binary16 (F16) and bfloat16 (BF16) to and from float32.
 * Narrowing rounds to nearest, ties to even; NaN stays NaN; values beyond
 * the F16 range become infinities. */
#ifndef ALEXNET_HALF_H
#define ALEXNET_HALF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
/* Widens n little-endian F16 values (2 bytes each, any alignment): by
 * table, about ten times the speed of n calls of f16_to_f32. */
void f16_to_f32_array(const uint8_t *le, float *out, size_t n);

/* Inline: the GEMM widens bfloat16 weights in its inner loops. */
static inline float bf16_to_f32(uint16_t h)
{
        uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
}

#endif
