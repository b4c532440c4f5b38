#include "pool.h"

#include <float.h>

void maxpool_forward(const struct window *win, int batch, struct shape in,
                     const float *x, float *y)
{
        int out_h = window_out_h(win, in.h), out_w = window_out_w(win, in.w);
        int planes = batch * in.c;
#pragma omp parallel for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
                const float *src = x + (size_t)pl * in.h * in.w;
                float *dst = y + (size_t)pl * out_h * out_w;
                for (int oy = 0; oy < out_h; oy++) {
                        int y0 = oy * win->stride_h - win->pad_top;
                        for (int ox = 0; ox < out_w; ox++) {
                                int x0 = ox * win->stride_w - win->pad_left;
                                float best = -FLT_MAX;
                                for (int ky = 0; ky < win->kernel_h; ky++) {
                                        int iy = y0 + ky;
                                        if (iy < 0 || iy >= in.h)
                                                continue;
                                        for (int kx = 0; kx < win->kernel_w;
                                             kx++) {
                                                int ix = x0 + kx;
                                                if (ix < 0 || ix >= in.w)
                                                        continue;
                                                float v = src[iy * in.w + ix];
                                                if (v > best || v != v)
                                                        best = v;
                                        }
                                }
                                dst[oy * out_w + ox] = best;
                        }
                }
        }
}

void adaptive_avgpool_forward(int out_h, int out_w, int batch, struct shape in,
                              const float *x, float *y)
{
        int planes = batch * in.c;
#pragma omp parallel for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
                const float *src = x + (size_t)pl * in.h * in.w;
                float *dst = y + (size_t)pl * out_h * out_w;
                for (int oy = 0; oy < out_h; oy++) {
                        int y0 = oy * in.h / out_h;
                        int y1 = ((oy + 1) * in.h + out_h - 1) / out_h;
                        for (int ox = 0; ox < out_w; ox++) {
                                int x0 = ox * in.w / out_w;
                                int x1 = ((ox + 1) * in.w + out_w - 1) / out_w;
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
