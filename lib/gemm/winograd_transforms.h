/* What Winograd's convolution (winograd.c) and its weight gradient
 * (winograd_grad.c) share: the transforms of F(4x4, 3x3) and F(2x2, 5x5)
 * on 6 x 6 tiles, at the points 0, 1, -1, 2, -2 and infinity, one
 * dimension at a time over vectors of LANES tiles (or kernels).
 * Internal to lib/gemm. */
#ifndef ALEXNET_WINOGRAD_TRANSFORMS_H
#define ALEXNET_WINOGRAD_TRANSFORMS_H

#include <stdint.h>

#include "gemm/winograd.h"

enum {
        ALPHA = 6, /* input tile side */
        POINTS = WINOGRAD_POINTS,
        LANES = 16, /* tiles transformed together */
        MAX_NR = 32
};

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES                                                          \
        __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* G (6 x r) for r = 3 and 5: row i is the kernel's polynomial evaluated at
 * point p_i divided by the product of (p_i - p_j) over the other finite
 * points; the last row, the point at infinity, takes the highest
 * coefficient.  (B^T is the same for both: it depends on the points
 * only.) */
static const float g3[ALPHA][3] = {{1.0f / 4, 0, 0},
                                   {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                                   {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                                   {1.0f / 24, 1.0f / 12, 1.0f / 6},
                                   {1.0f / 24, -1.0f / 12, 1.0f / 6},
                                   {0, 0, 1}};
static const float g5[ALPHA][5] = {
        {1.0f / 4, 0, 0, 0, 0},
        {-1.0f / 6, -1.0f / 6, -1.0f / 6, -1.0f / 6, -1.0f / 6},
        {-1.0f / 6, 1.0f / 6, -1.0f / 6, 1.0f / 6, -1.0f / 6},
        {1.0f / 24, 1.0f / 12, 1.0f / 6, 1.0f / 3, 2.0f / 3},
        {1.0f / 24, -1.0f / 12, 1.0f / 6, -1.0f / 3, 2.0f / 3},
        {0, 0, 0, 0, 1}};

/* Side of the output tile for a kernel of side r. */
static inline int tile_side(int r)
{
        return ALPHA + 1 - r;
}

/* Bit a set where row (or column) first + a of a tile lies inside
 * [0, size). */
static inline uint8_t inside_bits(int first, int size)
{
        uint8_t bits = 0;
        for (int a = 0; a < ALPHA; a++)
                if (first + a >= 0 && first + a < size)
                        bits |= (uint8_t)(1u << a);
        return bits;
}

/* LANES floats: GCC's vector extension, compiled for the widest vectors
 * of each clone.  Lanes are tiles in the transforms of the input and
 * output, output channels in that of the weights. */
typedef float lanes __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t lane_bits __attribute__((vector_size(LANES * sizeof(float))));

/* y = B^T x for six lane vectors x[e * sx], written to y[e * sy]. */
static inline void input_1d(const lanes *x, int sx, lanes *y, int sy)
{
        lanes d0 = x[0], d1 = x[sx], d2 = x[2 * sx], d3 = x[3 * sx],
              d4 = x[4 * sx], d5 = x[5 * sx];
        y[0] = 4.0f * d0 - 5.0f * d2 + d4;
        y[sy] = d3 + d4 - 4.0f * (d1 + d2);
        y[2 * sy] = d4 - d3 + 4.0f * (d1 - d2);
        y[3 * sy] = d4 - d2 + 2.0f * (d3 - d1);
        y[4 * sy] = d4 - d2 + 2.0f * (d1 - d3);
        y[5 * sy] = 4.0f * d1 - 5.0f * d3 + d5;
}

/* y = A^T x (side rows) for six lane vectors x[e * sx]. */
static inline void output_1d(int side, const lanes *x, int sx, lanes *y, int sy)
{
        lanes m0 = x[0], m1 = x[sx], m2 = x[2 * sx], m3 = x[3 * sx],
              m4 = x[4 * sx], m5 = x[5 * sx];
        lanes s1 = m1 + m2, d1 = m1 - m2, s2 = m3 + m4, d2 = m3 - m4;
        y[0] = m0 + s1 + s2;
        if (side == 4) {
                y[sy] = d1 + 2.0f * d2;
                y[2 * sy] = s1 + 4.0f * s2;
                y[3 * sy] = d1 + 8.0f * d2 + m5;
        } else {
                y[sy] = d1 + 2.0f * d2 + m5;
        }
}

/* x = A y for four lane vectors y[e * sy] (F(4x4, 3x3)), six written to
 * x[e * sx]: the adjoint of output_1d, which carries a gradient at a
 * tile's outputs to the points. */
static inline void output_adjoint_1d(const lanes *y, int sy, lanes *x, int sx)
{
        lanes y0 = y[0], y1 = y[sy], y2 = y[2 * sy], y3 = y[3 * sy];
        lanes even = y0 + y2, odd = y1 + y3;
        lanes even2 = y0 + 4.0f * y2, odd2 = 2.0f * y1 + 8.0f * y3;
        x[0] = y0;
        x[sx] = even + odd;
        x[2 * sx] = even - odd;
        x[3 * sx] = even2 + odd2;
        x[4 * sx] = even2 - odd2;
        x[5 * sx] = y3;
}

#endif
