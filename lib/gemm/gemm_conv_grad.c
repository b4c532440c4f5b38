/* The weight gradient of a convolution group as an implicit GEMM:
 *
 *     dW (m x K) = sum over images n and output pixels p of
 *                  dY_n[:, p] . B_n[:, p]^T
 *
 * where B_n is image n's unfolded input (row k = (c, ky, kx), as in
 * gemm_conv.c).  The product's depth is the pixels of every image, so its
 * K slices are runs of one image's pixels.  Each thread owns a range of
 * dW's NR-wide column panels (runs of taps) and goes through every slice:
 * it packs the slice of dY (all m rows) and, panel by panel, the slice of
 * B for its taps, unfolded into a small buffer and transposed into the
 * panel, then adds every tile's product to dW.  Nothing is unfolded into
 * memory, no thread waits for another inside the product, and each
 * element of dW is summed by one thread in one order, so the result does
 * not depend on the number of threads. */
#include "gemm/gemm_conv.h"

#include <omp.h>
#include <string.h>

#include "gemm/gemm_internal.h"

/* A slice of dY is packed whole and reused by every panel: at most this
 * many floats (192 KiB), which leaves L2 room for the panels and C. */
enum { A_SLICE_FLOATS = 48 * 1024 };

struct grad_gemm {
        const float *dy;
        size_t dy_image_stride, m, k;
        const struct conv_input *b;
        float *dw;
        int mr, nr;
        size_t plane, slice, row_tiles, panels;
        bool vector; /* AVX2 transposes */
};

static size_t min_size(size_t a, size_t b)
{
        return a < b ? a : b;
}

/* Pixels [p0, p0 + count) of one image's row of B for tap (ky, kx) of a
 * channel plane: the input pixel under the tap, 0 in the padding. */
static void unfold_run(const float *plane, struct shape in,
                       const struct window *win, int out_w, int ky, int kx,
                       size_t p0, size_t count, float *out)
{
        int x0 = kx - win->pad_left, sw = win->stride_w;
        /* output columns whose input column lies inside the image */
        int lo = x0 >= 0 ? 0 : (-x0 + sw - 1) / sw;
        int hi = in.w - 1 - x0 < 0 ? 0 : (in.w - 1 - x0) / sw + 1;
        /* the run's first output pixel, then row by row: no division
         * per row (rows are as short as 13 pixels) */
        int oy = (int)(p0 / out_w), ox0 = (int)(p0 % out_w);
        for (size_t p = p0, end = p0 + count; p < end; oy++, ox0 = 0) {
                int ox1 = (int)min_size((size_t)out_w, ox0 + (end - p));
                int iy = oy * win->stride_h - win->pad_top + ky;
                float *o = out + (p - p0); /* o[i]: column ox0 + i */
                int a = ox1, z = ox1;      /* columns [a, z) read the image */
                if (iy >= 0 && iy < in.h) {
                        a = lo > ox0 ? lo : ox0;
                        z = hi < ox1 ? hi : ox1;
                        z = z < a ? a : z;
                }
                const float *row = plane + (size_t)(a < z ? iy : 0) *
                                                   in.w; /* read if a < z */
                for (int ox = ox0; ox < a; ox++)
                        o[ox - ox0] = 0.0f;
                if (sw == 1) /* a copy the compiler vectorises */
                        for (int ox = a; ox < z; ox++)
                                o[ox - ox0] = row[x0 + ox];
                else
                        for (int ox = a; ox < z; ox++)
                                o[ox - ox0] = row[x0 + ox * sw];
                for (int ox = z; ox < ox1; ox++)
                        o[ox - ox0] = 0.0f;
                p += (size_t)(ox1 - ox0);
        }
}

/* Panel q of B's slice (image n, pixels p0..p0+kc) into pb (kc x nr):
 * its taps' runs unfolded into rows (kc apart; taps past K are 0), then
 * transposed. */
static void pack_b_panel(const struct grad_gemm *g, size_t n, size_t q,
                         size_t p0, size_t kc, float *rows, float *pb)
{
        const struct conv_input *b = g->b;
        const struct window *win = b->win;
        size_t taps = (size_t)win->kernel_h * win->kernel_w;
        const float *image = b->x + n * b->image_stride;
        size_t plane_in = (size_t)b->in.h * b->in.w;
        for (int j = 0; j < g->nr; j++) {
                size_t kk = q * (size_t)g->nr + (size_t)j;
                float *row = rows + (size_t)j * kc;
                if (kk >= g->k) {
                        memset(row, 0, kc * sizeof *row);
                        continue;
                }
                size_t c = kk / taps, t = kk % taps;
                unfold_run(image + c * plane_in, b->in, win, b->out_w,
                           (int)(t / win->kernel_w), (int)(t % win->kernel_w),
                           p0, kc, row);
        }
        pack_lanes(g->vector, rows, kc, g->nr, kc, 1.0f, pb);
}

/* dY's rows, pixels p0..p0+kc of image n, into MR-high panels. */
static void pack_dy_slice(const struct grad_gemm *g, size_t n, size_t p0,
                          size_t kc, float *pa)
{
        const float *dy = g->dy + n * g->dy_image_stride + p0;
        for (size_t it = 0; it < g->row_tiles; it++) {
                size_t i0 = it * (size_t)g->mr;
                size_t rows = min_size((size_t)g->mr, g->m - i0);
                float *out = pa + i0 * kc;
                if (rows == (size_t)g->mr) {
                        pack_lanes(g->vector, dy + i0 * g->plane, g->plane,
                                   g->mr, kc, 1.0f, out);
                        continue;
                }
                for (size_t p = 0; p < kc; p++)
                        for (size_t i = 0; i < (size_t)g->mr; i++)
                                out[p * g->mr + i] =
                                        i < rows ? dy[(i0 + i) * g->plane + p]
                                                 : 0.0f;
        }
}

/* Thread's panels [q_lo, q_hi) of dW over every slice; buf holds the
 * packed dY slice, one B panel and the unfolded rows of one panel. */
static void accumulate_share(const struct grad_gemm *g, size_t q_lo,
                             size_t q_hi, float *buf)
{
        float *pa = buf;
        float *pb = pa + g->row_tiles * g->mr * g->slice;
        float *rows = pb + g->slice * g->nr;
        bool first = true;
        for (size_t n = 0; n < (size_t)g->b->images; n++)
                for (size_t p0 = 0; p0 < g->plane; p0 += g->slice) {
                        size_t kc = min_size(g->slice, g->plane - p0);
                        struct merge mg = {0.0f, first, true, NULL};
                        pack_dy_slice(g, n, p0, kc, pa);
                        for (size_t q = q_lo; q < q_hi; q++) {
                                pack_b_panel(g, n, q, p0, kc, rows, pb);
                                size_t j0 = q * (size_t)g->nr;
                                size_t cols =
                                        min_size((size_t)g->nr, g->k - j0);
                                for (size_t it = 0; it < g->row_tiles; it++) {
                                        size_t i0 = it * (size_t)g->mr;
                                        multiply_tile(gemm_kernel(),
                                                      pa + i0 * kc, pb, kc, i0,
                                                      min_size((size_t)g->mr,
                                                               g->m - i0),
                                                      cols,
                                                      g->dw + i0 * g->k + j0,
                                                      g->k, &mg);
                                }
                        }
                        first = false;
                }
}

static _Thread_local struct {
        float *buf;
        size_t size;
} buffers;

enum an_status sgemm_conv_weight_grad(const float *dy, size_t dy_image_stride,
                                      size_t m, const struct conv_input *b,
                                      float *dw)
{
        const struct gemm_kernel *kern = gemm_kernel();
        size_t k = (size_t)b->channels * b->win->kernel_h * b->win->kernel_w;
        size_t plane = (size_t)b->out_h * b->out_w;
        if (m == 0 || k == 0)
                return AN_OK;
        if (plane == 0 || b->images <= 0) {
                memset(dw, 0, m * k * sizeof *dw);
                return AN_OK;
        }
        size_t row_tiles = (m + kern->mr - 1) / kern->mr;
        /* slices a multiple of 16 deep: whole transposed blocks, and
         * every buffer below 64-byte aligned */
        size_t slice = A_SLICE_FLOATS / (row_tiles * kern->mr) / 16 * 16;
        slice = slice < 16 ? 16 : slice > KC ? KC : slice;
        struct grad_gemm g = {.dy = dy,
                              .dy_image_stride = dy_image_stride,
                              .m = m,
                              .k = k,
                              .b = b,
                              .dw = dw,
                              .mr = kern->mr,
                              .nr = kern->nr,
                              .plane = plane,
                              .slice = slice,
                              .row_tiles = row_tiles,
                              .panels = (k + kern->nr - 1) / kern->nr,
                              .vector = gemm_vector_packing()};
        size_t per_thread = slice * (row_tiles * kern->mr + 2 * kern->nr);
        int threads = omp_get_max_threads();
        if ((size_t)threads > g.panels)
                threads = (int)g.panels;
        if (!gemm_reserve(&buffers.buf, &buffers.size, per_thread * threads))
                return AN_E_NOMEM;
        float *bufs = buffers.buf;
#pragma omp parallel num_threads(threads)
        {
                size_t t = (size_t)omp_get_thread_num();
                size_t nt = (size_t)omp_get_num_threads();
                accumulate_share(&g, g.panels * t / nt, g.panels * (t + 1) / nt,
                                 bufs + per_thread * t);
        }
        return AN_OK;
}
