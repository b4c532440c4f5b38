/* The weight gradient of a convolution group by Winograd's algorithm (see
 * winograd.h).  The forward pass computes each output tile as
 * Y = A^T ((G g G^T) . (B^T D B)) A, bilinear in the kernel g and the input
 * tile D; read backwards, the gradient of sum(E . Y) with respect to g is
 * G^T ((A E A^T) . (B^T D B)) G.  Summed over every tile t of every image:
 *
 *     dW[o][c] = G^T ( sum over t of U_t,o . V_t,c ) G,
 *     U_t,o = A E_t,o A^T  (channel o's output gradient on the tile),
 *     V_t,c = B^T D_t,c B  (channel c's input tile under it),
 *
 * so that, point by point, the sum over tiles is a product of an m x T
 * and a T x k matrix: 36 GEMMs whose depth is the tiles.  The tiles are
 * taken in chunks whose U and V fit a budget: the chunk's gradients and
 * input tiles are carried to the points (LANES tiles at a time, threads
 * sharing the tile groups), then each point's product is added to the sum
 * of the chunks before by the blocked SGEMM, the points shared among the
 * threads and each product taken by one thread whole: the same order for
 * any number of threads.  Last, G^T P G takes each (o, c) back to r x r
 * taps.
 *
 * For a 3 x 3 layer (F(4x4, 3x3), the only one taken: see
 * winograd_grad_suits) on a 13 x 13 plane that is 2.6 times fewer
 * multiplications than the direct product (16 x 16 tile positions for 169
 * outputs); the transforms and the products' packing cost the rest
 * (`make bench-conv`, conv3-5 at batch 64: 29-32% less time than direct). */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "gemm/gemm.h"
#include "gemm/gemm_internal.h"
#include "gemm/winograd.h"
#include "gemm/winograd_transforms.h"

/* A chunk's U and V together take at most about this many bytes (tests
 * lower it to reach several chunks on small layers). */
static size_t chunk_bytes = 24 << 20;

void winograd_grad_chunk_bytes(size_t bytes)
{
        chunk_bytes = bytes ? bytes : 24 << 20;
}

/* F(4x4, 3x3), the only form taken (winograd_grad_suits): kernel side and
 * output tile side. */
enum { R = 3, SIDE = 4 };

struct grad_plan {
        const float *dy;
        size_t dy_stride; /* floats from one image's gradient to the next */
        size_t m, k;      /* output and input channels of the group */
        const struct conv_input *b;
        int tiles_w;
        size_t tiles_per_image, tiles;
        size_t chunk; /* tiles a chunk holds: the rows' stride in U, V */
        /* tiles read by AVX-512 gathers (with the AVX-512 kernel, so that
         * each kernel's tests test one way of reading) */
        bool gathers;
};

/* Where the LANES tiles from t0 lie: each lane's input tile corner and
 * output tile corner as offsets from the group's input and gradient
 * (image and channel 0), and which of the tile's rows and columns lie
 * inside the input (bits a of in_rows, in_cols) and inside the output
 * (out_rows, out_cols: how many). */
struct tile_group {
        int64_t in_at[LANES], out_at[LANES];
        uint8_t in_rows[LANES], in_cols[LANES];
        uint8_t out_rows[LANES], out_cols[LANES];
        int count; /* lanes that are tiles (the rest read as zero) */
        /* The offsets from lane 0's, in 32 bits when all fit (near32), for
         * the AVX-512 gathers. */
        int32_t in_near[LANES], out_near[LANES];
        bool near32;
};

static int clamp_count(int left)
{
        return left < 0 ? 0 : left < SIDE ? left : SIDE;
}

static void locate_group(const struct grad_plan *g, size_t t0, size_t t_end,
                         struct tile_group *tg)
{
        const struct conv_input *b = g->b;
        memset(tg, 0, sizeof *tg);
        tg->count = (int)(t_end - t0 < LANES ? t_end - t0 : LANES);
        for (int l = 0; l < tg->count; l++) {
                size_t t = t0 + (size_t)l, rem = t % g->tiles_per_image;
                size_t n = t / g->tiles_per_image;
                int oy = (int)(rem / (size_t)g->tiles_w) * SIDE;
                int ox = (int)(rem % (size_t)g->tiles_w) * SIDE;
                int y0 = oy - b->win->pad_top, x0 = ox - b->win->pad_left;
                tg->in_at[l] = (int64_t)(n * b->image_stride) +
                               (int64_t)y0 * b->in.w + x0;
                tg->in_rows[l] = inside_bits(y0, b->in.h);
                tg->in_cols[l] = inside_bits(x0, b->in.w);
                tg->out_at[l] = (int64_t)(n * g->dy_stride) +
                                (int64_t)oy * b->out_w + ox;
                tg->out_rows[l] = (uint8_t)clamp_count(b->out_h - oy);
                tg->out_cols[l] = (uint8_t)clamp_count(b->out_w - ox);
        }
        /* lanes come in order, so their corners only grow from lane 0's;
         * a tile reaches ALPHA rows below its corner */
        int64_t reach = (int64_t)ALPHA * (b->in.w + b->out_w + 1);
        tg->near32 = true;
        for (int l = 0; l < tg->count; l++) {
                int64_t in = tg->in_at[l] - tg->in_at[0];
                int64_t out = tg->out_at[l] - tg->out_at[0];
                if (in < 0 || out < 0 || in > INT32_MAX - reach ||
                    out > INT32_MAX - reach)
                        tg->near32 = false;
                tg->in_near[l] = (int32_t)in;
                tg->out_near[l] = (int32_t)out;
        }
}

/* p + at, formed as an integer: a padded tile's corner may lie before
 * the plane (its taps there are never read). */
static inline const float *shifted(const float *p, int64_t at)
{
        return (const float *)((uintptr_t)p + (uintptr_t)at * sizeof *p);
}

#ifdef __x86_64__
/* The lanes of mask whose bits (row a of rows, column col of cols) are
 * both set. */
__attribute__((target("avx512f"))) static inline __mmask16
both_set(__m512i rows, int a, __m512i cols, int col)
{
        return _mm512_test_epi32_mask(rows, _mm512_set1_epi32(1 << a)) &
               _mm512_test_epi32_mask(cols, _mm512_set1_epi32(1 << col));
}

/* d[a * 6 + col]: tap (a, col) of each lane's input tile, by masked
 * gathers from origin (lane 0's corner; taps outside read as zero, never
 * loaded).  Lane by lane the same loads cost a lane insert each. */
__attribute__((target("avx512f"))) static void
gather_input_avx512(const struct tile_group *tg, const float *origin, int width,
                    lanes *d)
{
        __m512i base = _mm512_loadu_si512(tg->in_near);
        __m512i rows = _mm512_cvtepu8_epi32(
                _mm_loadu_si128((const __m128i *)tg->in_rows));
        __m512i cols = _mm512_cvtepu8_epi32(
                _mm_loadu_si128((const __m128i *)tg->in_cols));
        for (int a = 0; a < ALPHA; a++)
                for (int col = 0; col < ALPHA; col++) {
                        __m512i at = _mm512_add_epi32(
                                base, _mm512_set1_epi32(a * width + col));
                        _mm512_storeu_ps((float *)&d[a * ALPHA + col],
                                         _mm512_mask_i32gather_ps(
                                                 _mm512_setzero_ps(),
                                                 both_set(rows, a, cols, col),
                                                 at, origin, sizeof(float)));
                }
}

/* e[i * 4 + j]: output (i, j) of each lane's gradient tile, likewise
 * (out_rows and out_cols are counts: bits below them set). */
__attribute__((target("avx512f"))) static void
gather_gradient_avx512(const struct tile_group *tg, const float *origin,
                       int width, lanes *e)
{
        __m512i base = _mm512_loadu_si512(tg->out_near);
        __m512i ones = _mm512_set1_epi32(1);
        __m512i rows = _mm512_sub_epi32(
                _mm512_sllv_epi32(ones,
                                  _mm512_cvtepu8_epi32(_mm_loadu_si128(
                                          (const __m128i *)tg->out_rows))),
                ones);
        __m512i cols = _mm512_sub_epi32(
                _mm512_sllv_epi32(ones,
                                  _mm512_cvtepu8_epi32(_mm_loadu_si128(
                                          (const __m128i *)tg->out_cols))),
                ones);
        for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) {
                        __m512i at = _mm512_add_epi32(
                                base, _mm512_set1_epi32(i * width + j));
                        _mm512_storeu_ps((float *)&e[i * 4 + j],
                                         _mm512_mask_i32gather_ps(
                                                 _mm512_setzero_ps(),
                                                 both_set(rows, i, cols, j), at,
                                                 origin, sizeof(float)));
                }
}
#endif

/* The first `count` lanes of each point's vector z[p] to
 * dst + p * point_stride (a whole vector copied as one: a call to memcpy
 * per 64 bytes cost more than the transform). */
static inline void store_points(const lanes *z, int count, size_t point_stride,
                                float *dst)
{
        for (int p = 0; p < POINTS; p++) {
                if (count == LANES)
                        memcpy(dst + p * point_stride, &z[p], sizeof z[p]);
                else
                        memcpy(dst + p * point_stride, &z[p],
                               count * sizeof(float));
        }
}

/* V for input channel c of the group: its 6 x 6 tiles under the group's
 * output tiles (zero outside the image), carried to the points. */
VECTOR_CLONES static void transform_input_tiles(const struct grad_plan *g,
                                                const struct tile_group *tg,
                                                size_t c, float *dst)
{
        const float *x = g->b->x + c * g->b->in.h * g->b->in.w;
        int width = g->b->in.w;
        lanes d[POINTS], t[POINTS];
#ifdef __x86_64__
        if (g->gathers && tg->near32)
                gather_input_avx512(tg, shifted(x, tg->in_at[0]), width, d);
        else
#endif
                for (int a = 0; a < ALPHA; a++)
                        for (int col = 0; col < ALPHA; col++)
                                for (int l = 0; l < LANES; l++)
                                        d[a * ALPHA + col][l] =
                                                (tg->in_rows[l] >>
                                                 a) & (tg->in_cols[l] >> col) &
                                                                1
                                                        ? x[tg->in_at[l] +
                                                            a * width + col]
                                                        : 0.0f;
        for (int col = 0; col < ALPHA; col++)
                input_1d(d + col, ALPHA, t + col, ALPHA);
        for (int a = 0; a < ALPHA; a++)
                input_1d(t + a * ALPHA, 1, d + a * ALPHA, 1);
        store_points(d, tg->count, g->k * g->chunk, dst + c * g->chunk);
}

/* U for output channel o of the group: its gradient on the output tiles
 * (zero past the output's edge), carried to the points (A E A^T). */
VECTOR_CLONES static void transform_gradient_tiles(const struct grad_plan *g,
                                                   const struct tile_group *tg,
                                                   size_t o, float *dst)
{
        int width = g->b->out_w;
        const float *dy = g->dy + o * (size_t)g->b->out_h * (size_t)g->b->out_w;
        lanes e[SIDE * SIDE], x[ALPHA * SIDE], z[POINTS];
#ifdef __x86_64__
        if (g->gathers && tg->near32)
                gather_gradient_avx512(tg, shifted(dy, tg->out_at[0]), width,
                                       e);
        else
#endif
                for (int i = 0; i < SIDE; i++)
                        for (int j = 0; j < SIDE; j++)
                                for (int l = 0; l < LANES; l++)
                                        e[i * SIDE + j]
                                         [l] = i < tg->out_rows[l] &&
                                                               j < tg->out_cols[l]
                                                       ? dy[tg->out_at[l] +
                                                            i * width + j]
                                                       : 0.0f;
        /* columns of E to 6 rows (x[a * SIDE + j]), then each row to 6 */
        for (int j = 0; j < SIDE; j++)
                output_adjoint_1d(e + j, SIDE, x + j, SIDE);
        for (int a = 0; a < ALPHA; a++)
                output_adjoint_1d(x + a * SIDE, 1, z + a * ALPHA, 1);
        store_points(z, tg->count, g->m * g->chunk, dst + o * g->chunk);
}

/* Tiles t0..t_end (one chunk) carried to the points: u (m rows a point)
 * and v (k rows), row stride g->chunk. */
static void transform_chunk(const struct grad_plan *g, size_t t0, size_t t_end,
                            float *u, float *v)
{
        size_t groups = (t_end - t0 + LANES - 1) / LANES;
#pragma omp parallel for schedule(static)
        for (size_t q = 0; q < groups; q++) {
                struct tile_group tg;
                size_t first = t0 + q * LANES;
                locate_group(g, first, t_end, &tg);
                for (size_t o = 0; o < g->m; o++)
                        transform_gradient_tiles(g, &tg, o, u + (first - t0));
                for (size_t c = 0; c < g->k; c++)
                        transform_input_tiles(g, &tg, c, v + (first - t0));
        }
}

/* dw[o][c] = G^T P[o][c] G for LANES pairs from pair0 (o * k + c; the
 * sums P at sums + p * pairs + pair), their taps written one by one. */
VECTOR_CLONES static void taps_of_pairs(const float *sums, size_t pairs,
                                        size_t pair0, int count, float *dw)
{
        const float *gm = &g3[0][0];
        lanes p[POINTS], t[ALPHA * R], tap;
        for (int q = 0; q < POINTS; q++)
                for (int l = 0; l < LANES; l++)
                        p[q][l] = l < count ? sums[q * pairs + pair0 + l] : 0;
        for (int i = 0; i < ALPHA; i++)
                for (int col = 0; col < R; col++) {
                        lanes sum = {0};
                        for (int j = 0; j < ALPHA; j++)
                                sum += p[i * ALPHA + j] * gm[j * R + col];
                        t[i * R + col] = sum;
                }
        for (int a = 0; a < R; a++)
                for (int col = 0; col < R; col++) {
                        tap = (lanes){0};
                        for (int i = 0; i < ALPHA; i++)
                                tap += gm[i * R + a] * t[i * R + col];
                        for (int l = 0; l < count; l++)
                                dw[(pair0 + l) * R * R + a * R + col] = tap[l];
                }
}

static void taps_from_points(const struct grad_plan *g, const float *sums,
                             float *dw)
{
        size_t pairs = g->m * g->k, groups = (pairs + LANES - 1) / LANES;
#pragma omp parallel for schedule(static)
        for (size_t q = 0; q < groups; q++) {
                size_t pair0 = q * LANES;
                int count =
                        (int)(pairs - pair0 < LANES ? pairs - pair0 : LANES);
                taps_of_pairs(sums, pairs, pair0, count, dw);
        }
}

static _Thread_local struct {
        float *buf;
        size_t size;
} scratch;

/* Tiles a chunk holds: as many as the budget allows, in whole KC-deep
 * slices of the products where at least one fits (a short last slice
 * runs the micro-kernel at a fraction of its speed), else in LANES. */
static size_t chunk_tiles(size_t m, size_t k, size_t tiles)
{
        size_t per_tile = (size_t)POINTS * (m + k) * sizeof(float);
        size_t fit = chunk_bytes / per_tile;
        size_t unit = fit >= KC ? KC : LANES;
        size_t chunk = fit / unit * unit;
        size_t all = (tiles + LANES - 1) / LANES * LANES;
        chunk = chunk < LANES ? LANES : chunk;
        return chunk < all ? chunk : all;
}

/* Each point's product of the chunk (t tiles) added to its sums: the
 * points shared among the threads, each product by one thread alone (no
 * barrier inside it; the same bits as the team's). */
static enum an_status multiply_chunk(const struct grad_plan *g, size_t t,
                                     bool first, const float *u, const float *v,
                                     float *sums)
{
        enum an_status failed = AN_OK;
#pragma omp parallel
        {
#pragma omp for schedule(static)
                for (int p = 0; p < POINTS; p++) {
                        enum an_status st =
                                sgemm(false, true, g->m, g->k, t, 1.0f,
                                      u + p * g->m * g->chunk, g->chunk,
                                      v + p * g->k * g->chunk, g->chunk,
                                      first ? 0.0f : 1.0f,
                                      sums + p * g->m * g->k, g->k);
                        if (st != AN_OK) {
#pragma omp atomic write
                                failed = st;
                        }
                }
                /* the pool's threads packed into buffers of their own,
                 * which would be lost when the pool shrinks */
                if (omp_get_thread_num() != 0)
                        gemm_release_thread_buffers();
        }
        return failed;
}

bool winograd_grad_suits(const struct window *win, int out_h, int out_w)
{
        return win->kernel_h == R && winograd_suits(win, out_h, out_w);
}

enum an_status winograd_weight_grad(const float *dy, size_t dy_image_stride,
                                    size_t m, const struct conv_input *b,
                                    float *dw)
{
        const struct window *win = b->win;
        size_t k = (size_t)b->channels;
        if (!winograd_grad_suits(win, b->out_h, b->out_w))
                return AN_E_INVALID;
        if (m == 0 || k == 0)
                return AN_OK;
        if (b->images <= 0 || b->out_h <= 0 || b->out_w <= 0) {
                memset(dw, 0,
                       m * k * win->kernel_h * win->kernel_w * sizeof *dw);
                return AN_OK;
        }
        struct grad_plan g = {
                .dy = dy,
                .dy_stride = dy_image_stride,
                .m = m,
                .k = k,
                .b = b,
                .gathers = strcmp(gemm_kernel()->name, "avx512") == 0};
        int tiles_h = (b->out_h + SIDE - 1) / SIDE;
        g.tiles_w = (b->out_w + SIDE - 1) / SIDE;
        g.tiles_per_image = (size_t)tiles_h * g.tiles_w;
        g.tiles = g.tiles_per_image * (size_t)b->images;
        g.chunk = chunk_tiles(m, k, g.tiles);
        size_t sums_size = (size_t)POINTS * m * k;
        size_t u_size = (size_t)POINTS * m * g.chunk;
        size_t v_size = (size_t)POINTS * k * g.chunk;
        if (!gemm_reserve(&scratch.buf, &scratch.size,
                          sums_size + u_size + v_size))
                return AN_E_NOMEM;
        float *sums = scratch.buf, *u = sums + sums_size, *v = u + u_size;
        for (size_t t0 = 0; t0 < g.tiles; t0 += g.chunk) {
                size_t t_end = t0 + g.chunk < g.tiles ? t0 + g.chunk : g.tiles;
                transform_chunk(&g, t0, t_end, u, v);
                enum an_status st =
                        multiply_chunk(&g, t_end - t0, t0 == 0, u, v, sums);
                if (st != AN_OK)
                        return st;
        }
        taps_from_points(&g, sums, dw);
        return AN_OK;
}
