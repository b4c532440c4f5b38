#include "base/half.h"

#include <pthread.h>
#include <string.h>

static uint32_t bits_of(float f)
{
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        return u;
}

static float float_of(uint32_t u)
{
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
}

float f16_to_f32(uint16_t h)
{
        uint32_t sign = (uint32_t)(h & 0x8000) << 16;
        uint32_t exp = h >> 10 & 0x1f, mant = h & 0x3ff;
        if (exp == 0x1f) /* infinity or NaN */
                return float_of(sign | 0x7f800000 | mant << 13);
        if (exp == 0) /* zero or subnormal: mant * 2^-24 exactly */
                return (sign ? -1.0f : 1.0f) * (float)mant * 0x1p-24f;
        return float_of(sign | (exp + 112) << 23 | mant << 13);
}

static float f16_table[1 << 16];
static pthread_once_t f16_table_once = PTHREAD_ONCE_INIT;

static void fill_f16_table(void)
{
        for (uint32_t h = 0; h < 1 << 16; h++)
                f16_table[h] = f16_to_f32((uint16_t)h);
}

void f16_to_f32_array(const uint8_t *le, float *out, size_t n)
{
        pthread_once(&f16_table_once, fill_f16_table);
        for (size_t i = 0; i < n; i++)
                out[i] = f16_table[le[2 * i] | le[2 * i + 1] << 8];
}

uint16_t f32_to_f16(float f)
{
        uint32_t u = bits_of(f);
        uint16_t sign = (uint16_t)(u >> 16 & 0x8000);
        uint32_t abs = u & 0x7fffffff;
        if (abs > 0x7f800000) /* NaN: keep it quiet */
                return sign | 0x7e00;
        if (abs >= 0x477ff000) /* rounds to beyond 65504 */
                return sign | 0x7c00;
        if (abs < 0x38800000) {
                /* F16 subnormal (or zero): scale so that the result's unit
                 * is 2^-24 and let the FPU round to nearest even. */
                float scaled = float_of(abs) * 0x1p24f;
                uint32_t m = (uint32_t)scaled;
                float frac = scaled - (float)m;
                if (frac > 0.5f || (frac == 0.5f && (m & 1)))
                        m++;
                return sign | (uint16_t)m;
        }
        /* Normal: rebias the exponent, round the 13 dropped mantissa bits. */
        uint32_t rounded = abs + 0xfff + (abs >> 13 & 1);
        return sign | (uint16_t)((rounded - 0x38000000) >> 13);
}

uint16_t f32_to_bf16(float f)
{
        uint32_t u = bits_of(f);
        if ((u & 0x7fffffff) > 0x7f800000)
                return (uint16_t)(u >> 16 | 0x40);
        return (uint16_t)((u + 0x7fff + (u >> 16 & 1)) >> 16);
}
