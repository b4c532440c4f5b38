#include "layers/avgpool.h"

#include <string.h>

/* Cell o of out along an axis of in elements covers [*lo, *hi). */
static inline void avgpool_cell(int o, int in, int out, int *lo, int *hi)
{
        *lo = o * in / out;
        *hi = ((o + 1) * in + out - 1) / out;
}

void adaptive_avgpool_forward(int out_h, int out_w, int batch, struct shape in,
                              const float *x, float *y)
{
        int planes = batch * in.c;
        if (in.h == out_h && in.w == out_w) { /* each cell averages itself */
                if (x != y)
                        memcpy(y, x, (size_t)planes * in.h * in.w * sizeof *y);
                return;
        }
#pragma omp parallel for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
                const float *src = x + (size_t)pl * in.h * in.w;
                float *dst = y + (size_t)pl * out_h * out_w;
                for (int oy = 0; oy < out_h; oy++) {
                        int y0, y1;
                        avgpool_cell(oy, in.h, out_h, &y0, &y1);
                        for (int ox = 0; ox < out_w; ox++) {
                                int x0, x1;
                                avgpool_cell(ox, in.w, out_w, &x0, &x1);
                                float sum = 0.0f;
                                for (int iy = y0; iy < y1; iy++)
                                        for (int ix = x0; ix < x1; ix++)
                                                sum += src[iy * in.w + ix];
                                dst[oy * out_w + ox] =
                                        sum / (float)((y1 - y0) * (x1 - x0));
                        }
                }
        }
}

void adaptive_avgpool_backward(int out_h, int out_w, int batch, struct shape in,
                               const float *dy, float *dx)
{
        int planes = batch * in.c;
#pragma omp parallel for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
                float *dst = dx + (size_t)pl * in.h * in.w;
                const float *g = dy + (size_t)pl * out_h * out_w;
                memset(dst, 0, (size_t)in.h * in.w * sizeof *dst);
                for (int oy = 0; oy < out_h; oy++) {
                        int y0, y1;
                        avgpool_cell(oy, in.h, out_h, &y0, &y1);
                        for (int ox = 0; ox < out_w; ox++) {
                                int x0, x1;
                                avgpool_cell(ox, in.w, out_w, &x0, &x1);
                                float share = g[oy * out_w + ox] /
                                              (float)((y1 - y0) * (x1 - x0));
                                for (int iy = y0; iy < y1; iy++)
                                        for (int ix = x0; ix < x1; ix++)
                                                dst[iy * in.w + ix] += share;
                        }
                }
        }
}
