/* Winograd convolution (see winograd.h).  A layer is computed panel by
 * panel, NR tiles at a time, each thread on its own panels (and, when
 * there are fewer panels than threads, its own output channels):
 *
 *   1. the panel's input tiles, every input channel, are carried to the
 *      36 points (B^T d B) and written as 36 packed B panels (k x NR);
 *   2. block by block of output channels (row tiles whose products take a
 *      quarter of L2), for each point the transformed weights (packed
 *      once) times that point's panel, by the GEMM micro-kernel;
 *   3. while the block's products are in cache, the 36 products of each
 *      output channel and tile are carried back (A^T M A), the bias added
 *      and ReLU applied, and the output tile written into NCHW.
 *
 * The transforms run on LANES tiles at once, in loops over the lanes the
 * compiler vectorises; they are compiled for AVX-512, AVX2 and the
 * baseline and the CPU's best is picked when the program loads
 * (target_clones).  Tiles are read and written with AVX-512 loads and
 * permutes along runs of tiles, AVX2 gathers, or plain C, with the kernel
 * in use. */
#include "gemm/winograd.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/huge_alloc.h"
#include "gemm/cpu_caches.h"
#include "gemm/gemm_internal.h"
#include "gemm/winograd_transforms.h"

#ifdef __x86_64__
#include <immintrin.h>
#endif

bool winograd_suits(const struct window *win, int out_h, int out_w)
{
        int r = win->kernel_h;
        if ((r != 3 && r != 5) || win->kernel_w != r || win->stride_h != 1 ||
            win->stride_w != 1)
                return false;
        return out_h >= tile_side(r) && out_w >= tile_side(r);
}

static size_t min_size(size_t a, size_t b)
{
        return a < b ? a : b;
}

/* ---- weights --------------------------------------------------------- */

/* Where element (o, c) of a point's m x k matrix lies in the packed
 * layout (gemm.h: KC-deep slices of MR-high panels). */
static size_t packed_index(size_t rows, size_t k, int mr, size_t o, size_t c)
{
        size_t k0 = c / KC * KC, kc = min_size(KC, k - k0);
        return packed_offset(rows, k0, o / mr * mr, kc) + (c - k0) * mr +
               o % mr;
}

/* u = G g G^T for the kernels of LANES output channels at once (lane l of
 * g[a * r + col] is tap (a, col) of channel l's kernel). */
static inline void transform_kernels(const lanes *g, int r, lanes *u)
{
        const float *gm = r == 3 ? &g3[0][0] : &g5[0][0];
        lanes t[ALPHA * 5];
        for (int i = 0; i < ALPHA; i++)
                for (int col = 0; col < r; col++) {
                        lanes sum = {0};
                        for (int a = 0; a < r; a++)
                                sum += gm[i * r + a] * g[a * r + col];
                        t[i * 5 + col] = sum;
                }
        for (int i = 0; i < ALPHA; i++)
                for (int j = 0; j < ALPHA; j++) {
                        lanes sum = {0};
                        for (int col = 0; col < r; col++)
                                sum += t[i * 5 + col] * gm[j * r + col];
                        u[i * ALPHA + j] = sum;
                }
}

static size_t point_stride_of(size_t m, size_t k, int mr)
{
        return (packed_rows(m, mr) * k + 15) / 16 * 16; /* 64-byte aligned */
}

/* The kernels of input channel c and output channels row0.. (one MR-high
 * panel, padding rows zero), carried to the points and written into each
 * point's packed panel, where they lie side by side. */
VECTOR_CLONES static void transform_panel(const float *weight, size_t m,
                                          size_t k, int r, int mr, size_t row0,
                                          size_t c, float *data)
{
        size_t taps = (size_t)r * r, stride = point_stride_of(m, k, mr);
        lanes g[25], u[POINTS];
        for (size_t t = 0; t < taps; t++)
                for (int l = 0; l < LANES; l++)
                        g[t]
                         [l] = l < mr && row0 + l < m
                                       ? weight[((row0 + l) * k + c) * taps + t]
                                       : 0.0f;
        transform_kernels(g, r, u);
        size_t at = packed_index(packed_rows(m, mr), k, mr, row0, c);
        for (int p = 0; p < POINTS; p++)
                memcpy(data + p * stride + at, &u[p], mr * sizeof(float));
}

/* All kernels of weight (m x k x r x r) transformed into data
 * (POINTS * point_stride floats), in float32. */
static void transform_weights(const float *weight, size_t m, size_t k, int r,
                              int mr, float *data)
{
        size_t row_tiles = packed_rows(m, mr) / mr;
#pragma omp parallel for collapse(2) schedule(static)
        for (size_t it = 0; it < row_tiles; it++)
                for (size_t c = 0; c < k; c++)
                        transform_panel(weight, m, k, r, mr, it * mr, c, data);
}

enum an_status winograd_weights_make(const float *weight, size_t m, size_t k,
                                     int kernel_size,
                                     struct winograd_weights *out)
{
        const struct gemm_kernel *kern = gemm_kernel();
        size_t stride = point_stride_of(m, k, kern->mr);
        *out = (struct winograd_weights){kernel_size, m, k, kern, stride, NULL};
        out->data = huge_alloc(POINTS * stride * sizeof(float), false);
        if (!out->data)
                return AN_E_NOMEM;
        transform_weights(weight, m, k, kernel_size, kern->mr, out->data);
        return AN_OK;
}

void winograd_weights_free(struct winograd_weights *w)
{
        free(w->data);
        w->data = NULL;
}

/* ---- tiles ----------------------------------------------------------- */

/* How tiles are read (gathered) and written (scattered): by vector
 * instructions where the offsets fit them, one float at a time else. */
enum gathers { GATHER_SCALAR, GATHER_AVX2, GATHER_AVX512 };

struct winograd_gemm {
        const float *u; /* transformed weights, POINTS blocks */
        size_t point_stride, u_rows;
        const struct gemm_kernel *kern;
        size_t m, k;
        int side, mr, nr;
        const struct conv_input *b;
        const struct conv_output *out;
        const struct gemm_epilogue *ep;
        int tiles_h, tiles_w;
        size_t tiles_per_image, tiles, panels, row_tiles;
        enum gathers gathers; /* what the CPU and kernel in use allow */
        int by_panels, by_rows;
        size_t share_rows; /* the most output rows a thread takes */
        size_t block_tiles;
};

/* Where the tiles (lanes) of one panel read and write. */
struct panel_tiles {
        int64_t in_at[MAX_NR];  /* input tile's corner, from b->x */
        int64_t out_at[MAX_NR]; /* output tile's corner, from out->y */
        uint8_t rows_in[MAX_NR], cols_in[MAX_NR]; /* bit a: row/col a inside */
        uint8_t out_rows[MAX_NR], out_cols[MAX_NR]; /* 0: a padding lane */
        /* The same offsets from the first tile's image, in 32 bits for
         * the vector gathers and scatters, when every one fits (near32). */
        int64_t in_first, out_first;
        int32_t in_near[MAX_NR], out_near[MAX_NR];
        bool near32;
        enum gathers gathers; /* GATHER_SCALAR unless near32 */
        /* Columns of the tile corners (input, output), and each lane
         * group's runs of lanes along one row of tiles: segment s of group
         * g is lanes seg_start[g][s].. (seg_len[g][s] of them). */
        int32_t in_x[MAX_NR], out_x[MAX_NR];
        uint8_t segments[MAX_NR / LANES];
        uint8_t seg_start[MAX_NR / LANES][LANES],
                seg_len[MAX_NR / LANES][LANES];
};

/* The offsets of the panel's tiles from its first tile's image, in 32
 * bits where all of them (and every tap and output of the tile) fit. */
static void near_offsets(const struct winograd_gemm *g, size_t q,
                         struct panel_tiles *pt)
{
        const struct conv_input *b = g->b;
        size_t n0 = q * (size_t)g->nr / g->tiles_per_image;
        pt->in_first = (int64_t)(n0 * b->image_stride);
        pt->out_first = (int64_t)(n0 * g->out->image_stride);
        int64_t reach = (int64_t)ALPHA * (b->in.w + b->out_w + 1);
        pt->near32 = true;
        for (int j = 0; j < g->nr; j++) {
                int64_t in = pt->in_at[j] - pt->in_first;
                int64_t out = pt->out_at[j] - pt->out_first;
                if (!pt->out_rows[j])
                        in = out = 0; /* a padding lane reads nothing */
                if (in < INT32_MIN + reach || in > INT32_MAX - reach ||
                    out < 0 || out > INT32_MAX - reach)
                        pt->near32 = false;
                pt->in_near[j] = (int32_t)in;
                pt->out_near[j] = (int32_t)out;
        }
}

/* The runs of lanes of each group that lie along one row of tiles (the
 * same image and tile row, tx one apart), at most so many that a run's
 * taps span 32 floats: 7 tiles of side 4, 14 of side 2.  row_of[j]:
 * lane j's row of tiles over the batch. */
static void plan_segments(const struct winograd_gemm *g, const size_t *row_of,
                          struct panel_tiles *pt)
{
        int max_len = g->side == 4 ? 7 : 14;
        for (int j0 = 0; j0 < g->nr; j0 += LANES) {
                int group = j0 / LANES, n = 0;
                for (int l = 0; l < LANES && pt->out_rows[j0 + l];) {
                        int len = 1;
                        while (l + len < LANES && len < max_len &&
                               pt->out_rows[j0 + l + len] &&
                               row_of[j0 + l + len] == row_of[j0 + l])
                                len++;
                        pt->seg_start[group][n] = (uint8_t)l;
                        pt->seg_len[group][n++] = (uint8_t)len;
                        l += len;
                }
                pt->segments[group] = (uint8_t)n;
        }
}

static void locate_tiles(const struct winograd_gemm *g, size_t q,
                         struct panel_tiles *pt)
{
        const struct conv_input *b = g->b;
        size_t row_of[MAX_NR] = {0};
        memset(pt, 0, sizeof *pt);
        for (int j = 0; j < g->nr; j++) {
                size_t t = q * (size_t)g->nr + (size_t)j;
                if (t >= g->tiles)
                        continue;
                size_t n = t / g->tiles_per_image, rem = t % g->tiles_per_image;
                int oy = (int)(rem / g->tiles_w) * g->side;
                int ox = (int)(rem % g->tiles_w) * g->side;
                int y0 = oy - b->win->pad_top, x0 = ox - b->win->pad_left;
                pt->in_at[j] = (int64_t)(n * b->image_stride) +
                               (int64_t)y0 * b->in.w + x0;
                pt->rows_in[j] = inside_bits(y0, b->in.h);
                pt->cols_in[j] = inside_bits(x0, b->in.w);
                pt->out_at[j] = (int64_t)(n * g->out->image_stride) +
                                (int64_t)oy * b->out_w + ox;
                pt->out_rows[j] = (uint8_t)min_size(g->side, b->out_h - oy);
                pt->out_cols[j] = (uint8_t)min_size(g->side, b->out_w - ox);
                pt->in_x[j] = x0;
                pt->out_x[j] = ox;
                row_of[j] = t / (size_t)g->tiles_w;
        }
        near_offsets(g, q, pt);
        plan_segments(g, row_of, pt);
        /* the AVX-512 path reads and writes by segments, in 64 bits */
        pt->gathers = pt->near32 || g->gathers == GATHER_AVX512 ? g->gathers
                                                                : GATHER_SCALAR;
}

/* Whether the tap (a, col) of lane j lies inside the image. */
static inline bool tap_inside(const struct panel_tiles *pt, int j, int a,
                              int col)
{
        return (pt->rows_in[j] >> a) & (pt->cols_in[j] >> col) & 1;
}

/* The 6 x 6 input tiles of lanes j0.. of one channel (src is its plane
 * in the first tile's image), zero outside the image: d[a * 6 + col].
 * One float at a time. */
static void gather_tiles_scalar(const struct panel_tiles *pt, int j0,
                                const float *src, int width, lanes *d)
{
        for (int a = 0; a < ALPHA; a++)
                for (int col = 0; col < ALPHA; col++) {
                        float *dst = (float *)&d[a * ALPHA + col];
                        int64_t off = (int64_t)a * width + col - pt->in_first;
                        for (int l = 0; l < LANES; l++)
                                dst[l] = tap_inside(pt, j0 + l, a, col)
                                                 ? src[pt->in_at[j0 + l] + off]
                                                 : 0.0f;
                }
}

/* The output tiles of lanes j0.. of one channel (dst is its plane in the
 * first tile's image) from y[i * side + col], the parts inside the
 * output.  One float at a time. */
static void scatter_tiles_scalar(const struct panel_tiles *pt, int j0, int side,
                                 const lanes *y, int width, float *dst)
{
        for (int l = 0; l < LANES; l++) {
                int j = j0 + l;
                float *tile = dst + pt->out_near[j];
                if (!pt->near32)
                        tile = dst + (pt->out_at[j] - pt->out_first);
                for (int i = 0; i < pt->out_rows[j]; i++)
                        for (int col = 0; col < pt->out_cols[j]; col++)
                                tile[i * width + col] = y[i * side + col][l];
        }
}

#ifdef __x86_64__
/* Bits [lo, hi) of 32, clamped. */
static inline uint32_t bit_range(int64_t lo, int64_t hi)
{
        lo = lo < 0 ? 0 : lo;
        hi = hi > 32 ? 32 : hi;
        if (hi <= lo)
                return 0;
        uint64_t bits = ((uint64_t)1 << hi) - ((uint64_t)1 << lo);
        return (uint32_t)bits;
}

/* The same with AVX-512, run by run: each tap row of a run of tiles along
 * a row of tiles is loaded as two vectors (32 floats, the columns outside
 * the image masked to zero, never read) and every lane's six taps picked
 * from them with one permute each, stored under the run's lanes.  16-lane
 * gathers cost a load per lane; this costs two loads per run and row.
 * Runs outermost, so that a run's vectors stay in registers (lanes no
 * run holds stay zero). */
__attribute__((target("avx512f"))) static void
gather_tiles_avx512(const struct panel_tiles *pt, int j0, const float *src,
                    int width, int side, lanes *d)
{
        int group = j0 / LANES, runs = pt->segments[group];
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                               11, 12, 13, 14, 15);
        for (int t = 0; t < POINTS; t++)
                _mm512_storeu_ps((float *)&d[t], _mm512_setzero_ps());
        for (int r = 0; r < runs; r++) {
                int l0 = pt->seg_start[group][r], j = j0 + l0;
                __mmask16 run_lanes =
                        (__mmask16)(((1u << pt->seg_len[group][r]) - 1) << l0);
                /* lane l's first tap: (l - l0) * side floats in */
                __m512i first_tap = _mm512_mullo_epi32(
                        _mm512_sub_epi32(iota, _mm512_set1_epi32(l0)),
                        _mm512_set1_epi32(side));
                int64_t x0 = pt->in_x[j];
                uint32_t ok = bit_range(-x0, width - x0);
                for (int a = 0; a < ALPHA; a++) {
                        if (!((pt->rows_in[j] >> a) & 1))
                                continue;
                        /* formed as an integer: may lie before the row */
                        uintptr_t at = (uintptr_t)src +
                                       (uintptr_t)(pt->in_at[j] - pt->in_first +
                                                   (int64_t)a * width) *
                                               sizeof(float);
                        __m512 lo = _mm512_maskz_loadu_ps((__mmask16)ok,
                                                          (const void *)at);
                        __m512 hi = _mm512_maskz_loadu_ps(
                                (__mmask16)(ok >> 16), (const void *)(at + 64));
#pragma GCC unroll 6
                        for (int col = 0; col < ALPHA; col++)
                                _mm512_mask_storeu_ps(
                                        (float *)&d[a * ALPHA + col], run_lanes,
                                        _mm512_permutex2var_ps(
                                                lo,
                                                _mm512_add_epi32(
                                                        first_tap,
                                                        _mm512_set1_epi32(col)),
                                                hi));
                }
        }
}

/* The same as scatter_tiles_scalar with AVX-512, run by run: the outputs
 * of a run of tiles along a row of tiles are, row by row, one stretch of
 * the output row, put together from the lanes by permutes and written
 * with masked stores (side 2: one permute per 16 floats, side 4:
 * three). */
__attribute__((target("avx512f"))) static void
scatter_tiles_avx512(const struct panel_tiles *pt, int j0, int side,
                     const lanes *y, int width, float *dst)
{
        int group = j0 / LANES, runs = pt->segments[group];
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                               11, 12, 13, 14, 15);
        /* side 2: float t of a stretch is column t % 2 of lane t / 2 */
        const __m512i pair_col = _mm512_slli_epi32(
                _mm512_and_si512(iota, _mm512_set1_epi32(1)), 4);
        const __m512i half = _mm512_srli_epi32(iota, 1);
        /* side 4: columns 0-1 and 2-3 of 8 lanes' tiles, then merged */
        const __m512i merge = _mm512_add_epi32(
                _mm512_add_epi32(
                        _mm512_slli_epi32(
                                _mm512_srli_epi32(
                                        _mm512_and_si512(iota,
                                                         _mm512_set1_epi32(3)),
                                        1),
                                4),
                        _mm512_slli_epi32(_mm512_srli_epi32(iota, 2), 1)),
                _mm512_and_si512(iota, _mm512_set1_epi32(1)));
        for (int r = 0; r < runs; r++) {
                int l0 = pt->seg_start[group][r], j = j0 + l0;
                int count = pt->seg_len[group][r] * side;
                int valid = width - pt->out_x[j] < count ? width - pt->out_x[j]
                                                         : count;
                float *first = dst + (pt->out_at[j] - pt->out_first);
                for (int i = 0; i < pt->out_rows[j]; i++) {
                        const lanes *yr = y + i * side;
                        float *row = first + (int64_t)i * width;
                        for (int k = 0; k * 16 < valid; k++) {
                                __m512 v;
                                if (side == 2) {
                                        __m512i idx = _mm512_add_epi32(
                                                _mm512_add_epi32(pair_col,
                                                                 half),
                                                _mm512_set1_epi32(l0 + 8 * k));
                                        v = _mm512_permutex2var_ps(
                                                _mm512_loadu_ps(&yr[0]), idx,
                                                _mm512_loadu_ps(&yr[1]));
                                } else {
                                        __m512i idx = _mm512_add_epi32(
                                                _mm512_add_epi32(pair_col,
                                                                 half),
                                                _mm512_set1_epi32(l0 + 4 * k));
                                        __m512 lo = _mm512_permutex2var_ps(
                                                _mm512_loadu_ps(&yr[0]), idx,
                                                _mm512_loadu_ps(&yr[1]));
                                        __m512 hi = _mm512_permutex2var_ps(
                                                _mm512_loadu_ps(&yr[2]), idx,
                                                _mm512_loadu_ps(&yr[3]));
                                        v = _mm512_permutex2var_ps(lo, merge,
                                                                   hi);
                                }
                                __mmask16 keep =
                                        (__mmask16)bit_range(0, valid - 16 * k);
                                _mm512_mask_storeu_ps(row + 16 * k, keep, v);
                        }
                }
        }
}

/* Eight lanes j0.. of the tiles with AVX2 gathers into d, whose lane
 * vectors are LANES floats apart (d may point at the upper half). */
__attribute__((target("avx2"))) static void
gather_tiles_avx2(const struct panel_tiles *pt, int j0, const float *src,
                  int width, lanes *d)
{
        __m256i at = _mm256_loadu_si256((const __m256i *)(pt->in_near + j0));
        __m256i rows = _mm256_cvtepu8_epi32(
                _mm_loadl_epi64((const __m128i *)(pt->rows_in + j0)));
        __m256i cols = _mm256_cvtepu8_epi32(
                _mm_loadl_epi64((const __m128i *)(pt->cols_in + j0)));
        const __m256i zero = _mm256_setzero_si256();
        for (int a = 0; a < ALPHA; a++) {
                __m256i row_bit =
                        _mm256_and_si256(rows, _mm256_set1_epi32(1 << a));
                for (int col = 0; col < ALPHA; col++) {
                        __m256i col_bit = _mm256_and_si256(
                                cols, _mm256_set1_epi32(1 << col));
                        /* all ones where both bits are set */
                        __m256i ok = _mm256_andnot_si256(
                                _mm256_or_si256(
                                        _mm256_cmpeq_epi32(row_bit, zero),
                                        _mm256_cmpeq_epi32(col_bit, zero)),
                                _mm256_set1_epi32(-1));
                        __m256i idx = _mm256_add_epi32(
                                at, _mm256_set1_epi32(a * width + col));
                        _mm256_storeu_ps((float *)&d[a * ALPHA + col],
                                         _mm256_mask_i32gather_ps(
                                                 _mm256_setzero_ps(), src, idx,
                                                 _mm256_castsi256_ps(ok), 4));
                }
        }
}

#endif

/* The gathers that go with the kernel in use: AVX-512's with the
 * AVX-512 kernel, AVX2's with the AVX2 one, plain C with the portable
 * one, so that testing each kernel tests each way of reading. */
static enum gathers gathers_for_kernel(void)
{
        const char *name = gemm_kernel()->name;
        if (!strcmp(name, "avx512"))
                return GATHER_AVX512;
        return strcmp(name, "avx2") ? GATHER_SCALAR : GATHER_AVX2;
}

static void gather_tiles(const struct panel_tiles *pt, int j0, const float *src,
                         int width, int side, lanes *d)
{
#ifdef __x86_64__
        if (pt->gathers == GATHER_AVX512) {
                gather_tiles_avx512(pt, j0, src, width, side, d);
                return;
        }
        if (pt->gathers == GATHER_AVX2) {
                gather_tiles_avx2(pt, j0, src, width, d);
                gather_tiles_avx2(pt, j0 + 8, src, width,
                                  (lanes *)((float *)d + 8));
                return;
        }
#endif
        gather_tiles_scalar(pt, j0, src, width, d);
}

static void scatter_tiles(const struct panel_tiles *pt, int j0, int side,
                          const lanes *y, int width, float *dst)
{
#ifdef __x86_64__
        if (pt->gathers == GATHER_AVX512) {
                scatter_tiles_avx512(pt, j0, side, y, width, dst);
                return;
        }
#endif
        scatter_tiles_scalar(pt, j0, side, y, width, dst);
}

/* Step 1: every channel's tiles of the panel carried to the points, into
 * v: point p's packed B panel (k x nr) at v + p * k * nr. */
VECTOR_CLONES static void transform_inputs(const struct winograd_gemm *g,
                                           const struct panel_tiles *pt,
                                           float *v)
{
        const struct conv_input *b = g->b;
        size_t plane = (size_t)b->in.h * b->in.w, nr = (size_t)g->nr;
        const float *first = b->x + pt->in_first;
        lanes d[POINTS], t[POINTS];
        for (int j0 = 0; j0 < g->nr; j0 += LANES)
                for (size_t c = 0; c < g->k; c++) {
                        gather_tiles(pt, j0, first + c * plane, b->in.w,
                                     g->side, d);
                        for (int col = 0; col < ALPHA; col++)
                                input_1d(d + col, ALPHA, t + col, ALPHA);
                        for (int i = 0; i < ALPHA; i++)
                                input_1d(t + i * ALPHA, 1, d + i * ALPHA, 1);
                        float *dst = v + c * nr + (size_t)j0;
                        for (int p = 0; p < POINTS; p++) /* 64-byte aligned */
                                *(lanes *)(dst + p * g->k * nr) = d[p];
                }
}

/* Step 3 for one side of output tile (a constant where it is inlined,
 * so that the loops over the tile unroll). */
static inline __attribute__((always_inline)) void
output_tiles(const struct winograd_gemm *g, const struct panel_tiles *pt,
             const float *prod, size_t rows, size_t o0, size_t o1,
             const int side)
{
        const struct conv_input *b = g->b;
        size_t out_plane = (size_t)b->out_h * b->out_w, nr = (size_t)g->nr;
        const float *bias = g->ep ? g->ep->bias : NULL;
        bool relu = g->ep && g->ep->relu;
        lanes m[POINTS], t[POINTS];
        const lanes zero = {0};
        for (size_t o = o0; o < o1; o++)
                for (int j0 = 0; j0 < g->nr; j0 += LANES) {
                        const float *src = prod + (o - o0) * nr + (size_t)j0;
                        for (int p = 0; p < POINTS; p++) /* 64-byte aligned */
                                m[p] = *(const lanes *)(src + p * rows * nr);
                        for (int col = 0; col < ALPHA; col++)
                                output_1d(side, m + col, ALPHA, t + col, ALPHA);
                        for (int i = 0; i < side; i++)
                                output_1d(side, t + i * ALPHA, 1, m + i * side,
                                          1);
                        float add = bias ? bias[o] : 0.0f;
                        for (int e = 0; e < side * side; e++) {
                                m[e] = m[e] + add;
                                if (relu) /* negative lanes cleared */
                                        m[e] = (lanes)((lane_bits)m[e] &
                                                       ~(m[e] < zero));
                        }
                        scatter_tiles(pt, j0, side, m, b->out_w,
                                      g->out->y + pt->out_first +
                                              o * out_plane);
                }
}

/* Step 3: output channels o0..o1 of the panel from their products
 * (channel o's point p at prod + (p * rows + o - o0) * nr). */
VECTOR_CLONES static void transform_outputs(const struct winograd_gemm *g,
                                            const struct panel_tiles *pt,
                                            const float *prod, size_t rows,
                                            size_t o0, size_t o1)
{
        if (g->side == 4)
                output_tiles(g, pt, prod, rows, o0, o1, 4);
        else
                output_tiles(g, pt, prod, rows, o0, o1, 2);
}

/* Step 2: row tiles it0..it1 of every point's product with the panel,
 * into prod (channel o's point p at prod + (p * rows + o - it0 * MR) * NR
 * for rows = (it1 - it0) * MR). */
static void multiply_points(const struct winograd_gemm *g, const float *v,
                            size_t it0, size_t it1, float *prod)
{
        size_t nr = (size_t)g->nr, rows = (it1 - it0) * g->mr;
        for (int p = 0; p < POINTS; p++) {
                const float *u = g->u + p * g->point_stride;
                const float *vp = v + p * g->k * nr;
                for (size_t it = it0; it < it1; it++) {
                        size_t row0 = it * g->mr;
                        int tile_rows = (int)min_size(g->mr, g->m - row0);
                        float *c = prod + (p * rows + row0 - it0 * g->mr) * nr;
                        for (size_t k0 = 0; k0 < g->k; k0 += KC) {
                                size_t kc = min_size(KC, g->k - k0);
                                struct tile_output to = {c, nr, k0 > 0, NULL,
                                                         false};
                                g->kern->run(tile_rows, kc,
                                             packed_panels(u, false, g->u_rows,
                                                           k0, row0, kc),
                                             vp + k0 * nr, &to);
                        }
                }
        }
}

/* Thread t's panels and row tiles, all three steps per panel. */
static void run_share(const struct winograd_gemm *g, int t, float *v,
                      float *prod)
{
        if (t >= g->by_panels * g->by_rows)
                return;
        size_t tp = (size_t)(t % g->by_panels), tr = (size_t)(t / g->by_panels);
        size_t q0 = g->panels * tp / g->by_panels,
               q1 = g->panels * (tp + 1) / g->by_panels;
        size_t it0 = g->row_tiles * tr / g->by_rows,
               it1 = g->row_tiles * (tr + 1) / g->by_rows;
        struct panel_tiles pt;
        for (size_t q = q0; q < q1; q++) {
                locate_tiles(g, q, &pt);
                transform_inputs(g, &pt, v);
                for (size_t b0 = it0; b0 < it1; b0 += g->block_tiles) {
                        size_t b1 = min_size(b0 + g->block_tiles, it1);
                        multiply_points(g, v, b0, b1, prod);
                        transform_outputs(g, &pt, prod, (b1 - b0) * g->mr,
                                          b0 * g->mr,
                                          min_size(b1 * g->mr, g->m));
                }
        }
}

/* The calling thread's buffers: weights transformed per call, and each
 * team thread's transformed panel and products. */
static _Thread_local struct {
        float *u, *work;
        size_t u_size, work_size;
} buffers;

/* gemm_reserve on huge pages: the weights transformed per call reach
 * 15 MB (conv4), and on 4 KB pages a one-image predict took 6,000 more
 * page faults than the direct path, 40 ms on this virtual machine. */
static bool reserve_huge(float **p, size_t *have, size_t want)
{
        if (*have >= want)
                return true;
        free(*p);
        *p = huge_alloc(want * sizeof(float), false);
        *have = *p ? want : 0;
        return *p != NULL;
}

static const float *weights_for(const struct winograd_weights *u,
                                const float *weight, size_t m, size_t k, int r,
                                enum an_status *st)
{
        const struct gemm_kernel *kern = gemm_kernel();
        *st = AN_OK;
        if (u) {
                if (u->kernel != kern || u->m != m || u->k != k ||
                    u->kernel_size != r)
                        *st = AN_E_INVALID;
                return u->data;
        }
        if (!reserve_huge(&buffers.u, &buffers.u_size,
                          POINTS * point_stride_of(m, k, kern->mr))) {
                *st = AN_E_NOMEM;
                return NULL;
        }
        transform_weights(weight, m, k, r, kern->mr, buffers.u);
        return buffers.u;
}

/* The kernel for a product of `tiles` columns: a narrower twin (same A
 * panels) when the tiles fill only part of a panel, whole lane groups. */
static const struct gemm_kernel *kernel_for(size_t tiles)
{
        const struct gemm_kernel *base = gemm_kernel();
        const struct gemm_kernel *narrow = gemm_narrow_kernel(base, tiles);
        return narrow->nr % LANES == 0 ? narrow : base;
}

/* Row tiles whose products step 3 reads back from cache: the 36 points'
 * products of a block take at most a quarter of L2, so that they stay
 * there beside the panel of B the block reads (each point's k x NR) and
 * the stream of A.  One block of everything thrashed: conv2 at batch 32
 * took 30 ms against 23 ms in blocks of 3 to 8 row tiles (Zen 5,
 * 1 MiB L2). */
static size_t block_tiles(const struct winograd_gemm *g)
{
        size_t tile_bytes = POINTS * (size_t)g->mr * g->nr * sizeof(float);
        size_t n = cpu_caches()->l2 / 4 / tile_bytes;
        return n ? n : 1;
}

static void split_threads(struct winograd_gemm *g, int threads)
{
        g->by_panels = (int)min_size((size_t)threads, g->panels);
        g->by_rows = threads / g->by_panels;
        if ((size_t)g->by_rows > g->row_tiles)
                g->by_rows = (int)g->row_tiles;
        size_t tiles_each = (g->row_tiles + g->by_rows - 1) / g->by_rows;
        g->share_rows = tiles_each * g->mr;
}

enum an_status winograd_conv(const struct winograd_weights *u,
                             const float *weight, size_t m,
                             const struct conv_input *b,
                             const struct conv_output *out,
                             const struct gemm_epilogue *ep)
{
        int r = b->win->kernel_h;
        if (!winograd_suits(b->win, b->out_h, b->out_w))
                return AN_E_INVALID;
        if (m == 0 || b->images <= 0)
                return AN_OK;
        size_t k = (size_t)b->channels;
        enum an_status st;
        const float *data = weights_for(u, weight, m, k, r, &st);
        if (st != AN_OK)
                return st;
        int side = tile_side(r);
        struct winograd_gemm g = {
                .u = data,
                .point_stride = point_stride_of(m, k, gemm_kernel()->mr),
                .u_rows = packed_rows(m, gemm_kernel()->mr),
                .m = m,
                .k = k,
                .side = side,
                .mr = gemm_kernel()->mr,
                .b = b,
                .out = out,
                .ep = ep,
                .tiles_h = (b->out_h + side - 1) / side,
                .tiles_w = (b->out_w + side - 1) / side};
        g.tiles_per_image = (size_t)g.tiles_h * g.tiles_w;
        g.tiles = g.tiles_per_image * (size_t)b->images;
        g.kern = kernel_for(g.tiles);
        g.nr = g.kern->nr;
        g.panels = (g.tiles + g.nr - 1) / g.nr;
        g.row_tiles = (m + g.mr - 1) / g.mr;
        g.gathers = gathers_for_kernel();
        int threads = omp_get_max_threads();
        split_threads(&g, threads);
        size_t v_floats = POINTS * k * (size_t)g.nr;
        g.block_tiles = block_tiles(&g);
        size_t per_thread = v_floats + POINTS * g.share_rows * (size_t)g.nr;
        if (!gemm_reserve(&buffers.work, &buffers.work_size,
                          per_thread * threads))
                return AN_E_NOMEM;
        float *work = buffers.work;
#pragma omp parallel num_threads(threads)
        {
                float *mine = work + per_thread * omp_get_thread_num();
                run_share(&g, omp_get_thread_num(), mine, mine + v_floats);
        }
        return AN_OK;
}
