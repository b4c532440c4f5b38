/* Convolution as an "implicit" GEMM: the unfolded input (im2col) is never
 * stored.  Each thread owns a range of B's NR-wide panels (and, when there
 * are too few panels to go round, a share of A's row tiles), packs those
 * panels straight from the input images, multiplies them by the packed
 * weights and writes each tile straight into the NCHW output.  Unfolding
 * into a buffer, packing that buffer and scattering the product to NCHW
 * cost two more passes over memory and a barrier after each step; with
 * every thread on its own columns nothing waits inside a product.
 *
 * A panel spans at most two images: when a plane has at least NR pixels
 * the panels run on from one image into the next (its tile is then
 * written in two parts), else each image's last panel is padded with zero
 * columns.  MAX_SAMPLE_ELEMENTS in arch.c keeps an image to 2^30 floats,
 * so every offset within a panel fits the gathers' 32 bits. */
#include "gemm/gemm_conv.h"

#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "gemm/gemm_bf16.h"
#include "gemm/gemm_internal.h"

enum {
        MAX_NR = 32,
        /* A thread's block of packed B panels: 64 Ki floats (256 KiB),
         * half of a Zen 3 core's L2, reused by every row tile of A. */
        BLOCK_FLOATS = 64 * 1024,
        /* Below this many panels per thread, threads also split A's rows. */
        MIN_PANELS_PER_THREAD = 8,
        /* Marks a padding column: no tap of it lies inside the image. */
        OUTSIDE = -(1 << 30)
};

/* Where each column of one panel reads the input. */
struct panel_columns {
        const float *origin;            /* the image's channel 0 */
        int32_t iy[MAX_NR], ix[MAX_NR]; /* input position of tap (0, 0) */
        uint32_t at[MAX_NR]; /* iy * w + ix, modulo 2^32 (may be < 0) */
        bool full;           /* nr real columns, none of them padding */
        /* Lanes 8g..8g+7 read floats step[g] apart (1, 2 or 4: a stride-1
         * convolution within an output row, or across rows when the
         * output is as wide as the input; strides 2 and 4 within a row),
         * or 0: not evenly spaced, or not all real columns. */
        uint8_t step[MAX_NR / 8];
        int32_t min_y, max_y, min_x, max_x; /* over the columns, when full */
};

static size_t min_size(size_t a, size_t b)
{
        return a < b ? a : b;
}

typedef void pack_fn(const struct conv_input *b, const struct panel_columns *pc,
                     int nr, size_t k0, size_t kc, float *out);

struct conv_gemm {
        const float *a; /* packed weights: FP32, or bf16 pairs when bf16 */
        const struct gemm_kernel *kern; /* FP32, or its bf16 twin */
        bool bf16;
        size_t m, k, a_rows;
        const struct conv_input *b;
        const struct conv_output *out;
        const struct gemm_epilogue *ep;
        int mr, nr;
        pack_fn *pack;
        size_t plane, panels, row_tiles, block_panels;
        /* Panels run on from one image's plane into the next's (planes of
         * at least nr pixels, so a panel spans at most two images), or
         * each image's last panel is padded (panels_per_image each). */
        bool span;
        size_t panels_per_image;
};

/* Image n and pixel p0 of panel q's first column. */
static void panel_start(const struct conv_gemm *g, size_t q, size_t *n,
                        size_t *p0)
{
        if (g->span) {
                size_t pixel = q * (size_t)g->nr;
                *n = pixel / g->plane;
                *p0 = pixel % g->plane;
        } else {
                *n = q / g->panels_per_image;
                *p0 = q % g->panels_per_image * (size_t)g->nr;
        }
}

/* How many of panel q's columns (starting at image n, pixel p0) lie in
 * image n (cols) and in image n + 1 (cols_next); the rest are padding. */
static void panel_extent(const struct conv_gemm *g, size_t n, size_t p0,
                         size_t *cols, size_t *cols_next)
{
        size_t nr = (size_t)g->nr;
        *cols = min_size(nr, g->plane - p0);
        *cols_next = 0;
        if (g->span && *cols < nr && n + 1 < (size_t)g->b->images)
                *cols_next = nr - *cols; /* plane >= nr */
}

/* 1, 2 or 4 when the 8 offsets at[] are that far apart, else 0. */
static uint8_t lane_step(const uint32_t *at, bool real)
{
        uint32_t d = at[1] - at[0];
        if (!real || (d != 1 && d != 2 && d != 4))
                return 0;
        for (int l = 2; l < 8; l++)
                if (at[l] != at[0] + (uint32_t)l * d)
                        return 0;
        return (uint8_t)d;
}

static void locate_columns(const struct conv_gemm *g, size_t q,
                           struct panel_columns *pc)
{
        const struct conv_input *b = g->b;
        size_t n, p0, cols, cols_next;
        panel_start(g, q, &n, &p0);
        panel_extent(g, n, p0, &cols, &cols_next);
        size_t real = cols + cols_next;
        pc->origin = b->x + n * b->image_stride;
        pc->full = real == (size_t)g->nr;
        pc->min_y = pc->min_x = INT32_MAX;
        pc->max_y = pc->max_x = INT32_MIN;
        for (size_t j = 0; j < (size_t)g->nr; j++) {
                if (j >= real) {
                        pc->iy[j] = pc->ix[j] = OUTSIDE;
                        pc->at[j] = 0;
                        continue;
                }
                /* a column of the next image: its offsets from this
                 * image's origin stay below 2^31 (two images) */
                bool next = j >= cols;
                size_t p = next ? j - cols : p0 + j;
                int oy = (int)(p / b->out_w), ox = (int)(p % b->out_w);
                int32_t iy = oy * b->win->stride_h - b->win->pad_top;
                int32_t ix = ox * b->win->stride_w - b->win->pad_left;
                pc->iy[j] = iy;
                pc->ix[j] = ix;
                pc->at[j] = (uint32_t)((int64_t)iy * b->in.w + ix +
                                       (next ? (int64_t)b->image_stride : 0));
                pc->min_y = iy < pc->min_y ? iy : pc->min_y;
                pc->max_y = iy > pc->max_y ? iy : pc->max_y;
                pc->min_x = ix < pc->min_x ? ix : pc->min_x;
                pc->max_x = ix > pc->max_x ? ix : pc->max_x;
        }
        for (size_t j = 0; j < (size_t)g->nr; j += 8)
                pc->step[j / 8] = lane_step(pc->at + j, j + 8 <= real);
}

/* Whether every column of the panel reads tap (ky, kx) inside the image. */
static inline bool all_inside(const struct panel_columns *pc, int ky, int kx,
                              struct shape in)
{
        return pc->full && pc->min_y + ky >= 0 && pc->max_y + ky < in.h &&
               pc->min_x + kx >= 0 && pc->max_x + kx < in.w;
}

/* The (c, ky, kx) of row k0 of B. */
static inline void first_tap(const struct window *win, size_t k0, int *c,
                             int *ky, int *kx)
{
        size_t taps = (size_t)win->kernel_h * win->kernel_w;
        int t = (int)(k0 % taps);
        *c = (int)(k0 / taps);
        *ky = t / win->kernel_w;
        *kx = t % win->kernel_w;
}

/* Steps (c, ky, kx) to the next row of B. */
static inline void next_tap(const struct window *win, int *c, int *ky, int *kx)
{
        if (++*kx == win->kernel_w) {
                *kx = 0;
                if (++*ky == win->kernel_h) {
                        *ky = 0;
                        ++*c;
                }
        }
}

/* Offset from the origin of tap (0, 0) of channel c, row ky, column kx. */
static inline uint32_t tap_offset(struct shape in, int c, int ky, int kx)
{
        return (uint32_t)c * (uint32_t)in.h * (uint32_t)in.w +
               (uint32_t)ky * (uint32_t)in.w + (uint32_t)kx;
}

/* Rows k0.. (kc of them) of a panel, row after row (nr floats each), in
 * plain C. */
static void pack_panel_portable(const struct conv_input *b,
                                const struct panel_columns *pc, int nr,
                                size_t k0, size_t kc, float *out)
{
        const struct window *win = b->win;
        int c, ky, kx;
        first_tap(win, k0, &c, &ky, &kx);
        for (size_t p = 0; p < kc; p++, out += nr) {
                uint32_t off = tap_offset(b->in, c, ky, kx);
                for (int j = 0; j < nr; j++) {
                        bool inside =
                                (uint32_t)(pc->iy[j] + ky) <
                                        (uint32_t)b->in.h &&
                                (uint32_t)(pc->ix[j] + kx) < (uint32_t)b->in.w;
                        /* the index is formed only for taps inside */
                        out[j] = inside ? pc->origin[(int32_t)(pc->at[j] + off)]
                                        : 0.0f;
                }
                next_tap(win, &c, &ky, &kx);
        }
}

#ifdef __x86_64__
/* Lanes j..j+7 of tap (ky, kx) whose input position lies inside the
 * image, as a mask. */
__attribute__((target("avx2"))) static inline __m256
inside_mask(const struct panel_columns *pc, int j, int ky, int kx,
            struct shape in)
{
        const __m256i minus_one = _mm256_set1_epi32(-1);
        __m256i y = _mm256_add_epi32(
                _mm256_loadu_si256((const __m256i *)(pc->iy + j)),
                _mm256_set1_epi32(ky));
        __m256i x = _mm256_add_epi32(
                _mm256_loadu_si256((const __m256i *)(pc->ix + j)),
                _mm256_set1_epi32(kx));
        __m256i ok = _mm256_and_si256(
                _mm256_and_si256(
                        _mm256_cmpgt_epi32(y, minus_one),
                        _mm256_cmpgt_epi32(_mm256_set1_epi32(in.h), y)),
                _mm256_and_si256(
                        _mm256_cmpgt_epi32(x, minus_one),
                        _mm256_cmpgt_epi32(_mm256_set1_epi32(in.w), x)));
        return _mm256_castsi256_ps(ok);
}

/* Eight floats step (2 or 4) apart from src: whole vectors loaded and
 * shuffled instead of gathered, which is slower on every core here. */
__attribute__((target("avx2"))) static inline __m256
load_strided(const float *src, int step)
{
        __m256 v0 = _mm256_loadu_ps(src), v1 = _mm256_loadu_ps(src + 8);
        if (step == 2) /* [0 2 8 10 | 4 6 12 14] */
                return _mm256_castpd_ps(_mm256_permute4x64_pd(
                        _mm256_castps_pd(_mm256_shuffle_ps(
                                v0, v1, _MM_SHUFFLE(2, 0, 2, 0))),
                        _MM_SHUFFLE(3, 1, 2, 0)));
        __m256 v2 = _mm256_loadu_ps(src + 16), v3 = _mm256_loadu_ps(src + 24);
        /* [0 8 16 24 | 4 12 20 28] */
        __m256 t = _mm256_shuffle_ps(_mm256_unpacklo_ps(v0, v1),
                                     _mm256_unpacklo_ps(v2, v3),
                                     _MM_SHUFFLE(1, 0, 1, 0));
        return _mm256_permutevar8x32_ps(
                t, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* How one group of eight lanes reads a tap, the same for every channel:
 * with one whole-vector load (lanes one float apart), a masked load (the
 * same, but the vector may reach outside the input), whole-vector loads
 * and shuffles (lanes 2 or 4 floats apart), or a gather. */
enum lane_read { READ_LOAD, READ_MASKLOAD, READ_STRIDED, READ_GATHER };

struct tap_read {
        enum lane_read how;
        int step;      /* READ_STRIDED: 2 or 4 */
        int64_t first; /* offset of lane 0 in the first channel read */
        __m256i at;    /* READ_GATHER: every lane's offset there */
        __m256 mask;   /* lanes inside the image (all set: every lane) */
};

/* How lanes j..j+7 read channels c0..c1 (inclusive) of a tap at offset
 * off from the origin of channel 0; the input holds `limit` floats from
 * there.  A whole-vector read is used only when it stays inside the input
 * for every channel; lanes outside the image are zeroed by the mask. */
__attribute__((target("avx2"))) static struct tap_read
plan_tap_read(const struct panel_columns *pc, int j, uint32_t off, size_t plane,
              size_t c0, size_t c1, int64_t limit, __m256 mask)
{
        struct tap_read r = {.step = pc->step[j / 8], .mask = mask};
        r.first = (int32_t)(pc->at[j] + off) + (int64_t)(c0 * plane);
        int64_t last = r.first + (int64_t)((c1 - c0) * plane);
        int span = 8 * (r.step > 1 ? r.step : 1);
        bool fits = r.first >= 0 && last + span <= limit;
        if (r.step == 1)
                r.how = fits ? READ_LOAD : READ_MASKLOAD;
        else if (r.step > 1 && fits)
                r.how = READ_STRIDED;
        else
                r.how = READ_GATHER;
        r.at = _mm256_add_epi32(
                _mm256_loadu_si256((const __m256i *)(pc->at + j)),
                _mm256_set1_epi32((int32_t)(off + c0 * plane)));
        return r;
}

/* Eight lanes of `channels` panel rows, dst_step floats apart, read as
 * planned; one loop per way of reading, so the channel loop is short. */
__attribute__((target("avx2"))) static void
read_channels(const struct tap_read *r, const float *origin, size_t plane,
              size_t channels, float *dst, size_t dst_step)
{
        switch (r->how) {
        case READ_LOAD:
                for (const float *s = origin + r->first; channels--;
                     s += plane, dst += dst_step)
                        _mm256_store_ps(dst, _mm256_and_ps(_mm256_loadu_ps(s),
                                                           r->mask));
                break;
        case READ_MASKLOAD: {
                /* the base may lie outside the input: formed as an integer */
                uintptr_t s = (uintptr_t)origin + (uintptr_t)r->first * 4;
                __m256i m = _mm256_castps_si256(r->mask);
                for (; channels--; s += plane * 4, dst += dst_step)
                        _mm256_store_ps(
                                dst, _mm256_maskload_ps((const float *)s, m));
                break;
        }
        case READ_STRIDED:
                for (const float *s = origin + r->first; channels--;
                     s += plane, dst += dst_step)
                        _mm256_store_ps(dst,
                                        _mm256_and_ps(load_strided(s, r->step),
                                                      r->mask));
                break;
        case READ_GATHER: {
                __m256i at = r->at, next = _mm256_set1_epi32((int32_t)plane);
                for (; channels--;
                     at = _mm256_add_epi32(at, next), dst += dst_step)
                        _mm256_store_ps(dst, _mm256_mask_i32gather_ps(
                                                     _mm256_setzero_ps(),
                                                     origin, at, r->mask, 4));
                break;
        }
        }
}

/* The same with AVX2, eight columns at a time (nr is a multiple of 8),
 * tap by tap: where the lanes of a tap read, and which of them lie inside
 * the image, is worked out once and holds for every channel. */
__attribute__((target("avx2"))) static void
pack_panel_avx2(const struct conv_input *b, const struct panel_columns *pc,
                int nr, size_t k0, size_t kc, float *out)
{
        const struct window *win = b->win;
        size_t taps = (size_t)win->kernel_h * win->kernel_w;
        size_t plane = (size_t)b->in.h * b->in.w;
        int64_t limit = (int64_t)b->channels * (int64_t)plane;
        const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
        /* tap t's rows c * taps + t within [k0, k0 + kc) are those of
         * channels c0 (q0, or q0 + 1 before t0) to c_end (q1 + 1 before
         * t1, else q1): no division per tap (conv1 has 1-3 rows per tap) */
        size_t q0 = k0 / taps, t0 = k0 % taps;
        size_t q1 = (k0 + kc) / taps, t1 = (k0 + kc) % taps;
        int ky = 0, kx = 0;
        for (size_t t = 0; t < taps;
             t++, kx = kx + 1 < win->kernel_w ? kx + 1 : 0, ky += kx == 0) {
                size_t c0 = t >= t0 ? q0 : q0 + 1;
                size_t c_end = t < t1 ? q1 + 1 : q1;
                if (c_end <= c0)
                        continue;
                bool inside = all_inside(pc, ky, kx, b->in);
                uint32_t off = tap_offset(b->in, 0, ky, kx);
                float *dst = out + (c0 * taps + t - k0) * (size_t)nr;
                for (int j = 0; j < nr; j += 8) {
                        __m256 mask =
                                inside ? all
                                       : inside_mask(pc, j, ky, kx, b->in);
                        struct tap_read r = plan_tap_read(
                                pc, j, off, plane, c0, c_end - 1, limit, mask);
                        read_channels(&r, pc->origin, plane, c_end - c0,
                                      dst + j, taps * (size_t)nr);
                }
        }
}
#endif

/* Tile (row tile it, panel q) of the product into the output. */
static void multiply_output_tile(const struct conv_gemm *g, const float *pa,
                                 const float *pb, size_t kc, size_t it,
                                 size_t q, const struct merge *mg)
{
        size_t row0 = it * (size_t)g->mr, rows = min_size(g->mr, g->m - row0);
        size_t n, p0, cols, cols_next;
        panel_start(g, q, &n, &p0);
        panel_extent(g, n, p0, &cols, &cols_next);
        float *c = g->out->y + n * g->out->image_stride + row0 * g->plane + p0;
        if (!cols_next) {
                multiply_tile(g->kern, pa, pb, kc, row0, rows, cols, c,
                              g->plane, mg);
                return;
        }
        float *c_next =
                g->out->y + (n + 1) * g->out->image_stride + row0 * g->plane;
        multiply_split_tile(g->kern, pa, pb, kc, row0, rows, c, cols, c_next,
                            cols_next, g->plane, mg);
}

/* Row tile it of the weights' slice at k0 (kc deep). */
static const float *weight_tile(const struct conv_gemm *g, size_t k0, size_t it,
                                size_t kc)
{
        return packed_panels(g->a, g->bf16, g->a_rows, k0, it * g->mr, kc);
}

/* Panel q's rows k0.. into dst; in bf16 through an FP32 panel (the
 * scratch) rounded into pairs. */
static void pack_panel(const struct conv_gemm *g, size_t q, size_t k0,
                       size_t kc, float *dst, float *scratch)
{
        struct panel_columns pc;
        locate_columns(g, q, &pc);
        if (!g->bf16) {
                g->pack(g->b, &pc, g->nr, k0, kc, dst);
                return;
        }
        g->pack(g->b, &pc, g->nr, k0, kc, scratch);
        pack_bf16_pairs_b(scratch, g->nr, kc, (uint16_t *)dst);
}

/* Panels [q_lo, q_hi) against row tiles [it_lo, it_hi): blocks of panels
 * packed into buf, each block used by all the row tiles before the next. */
static void multiply_share(const struct conv_gemm *g, size_t q_lo, size_t q_hi,
                           size_t it_lo, size_t it_hi, float *buf,
                           float *scratch)
{
        for (size_t q0 = q_lo; q0 < q_hi; q0 += g->block_panels) {
                size_t q1 = min_size(q0 + g->block_panels, q_hi);
                for (size_t k0 = 0; k0 < g->k; k0 += KC) {
                        size_t kc = min_size(KC, g->k - k0);
                        size_t panel_size = panel_floats(g->kern, g->nr, kc);
                        for (size_t q = q0; q < q1; q++)
                                pack_panel(g, q, k0, kc,
                                           buf + (q - q0) * panel_size,
                                           scratch);
                        struct merge mg = {0.0f, k0 == 0, k0 + kc == g->k,
                                           g->ep};
                        for (size_t it = it_lo; it < it_hi; it++) {
                                const float *pa = weight_tile(g, k0, it, kc);
                                for (size_t q = q0; q < q1; q++)
                                        multiply_output_tile(
                                                g, pa,
                                                buf + (q - q0) * panel_size, kc,
                                                it, q, &mg);
                        }
                }
        }
}

/* Thread t of nt: its panels and row tiles.  Threads split the panels
 * while each gets at least MIN_PANELS_PER_THREAD, then the rows. */
static void run_share(const struct conv_gemm *g, int t, int nt, float *buf,
                      float *scratch)
{
        int by_panels = nt;
        while (by_panels > 1 &&
               g->panels < (size_t)MIN_PANELS_PER_THREAD * by_panels)
                by_panels--;
        int by_rows = nt / by_panels;
        if (t >= by_panels * by_rows)
                return;
        size_t tp = (size_t)(t % by_panels), tr = (size_t)(t / by_panels);
        multiply_share(g, g->panels * tp / by_panels,
                       g->panels * (tp + 1) / by_panels,
                       g->row_tiles * tr / by_rows,
                       g->row_tiles * (tr + 1) / by_rows, buf, scratch);
}

/* The x86 kernels' CPUs all have AVX2; the portable kernel gets the
 * portable packing, so that testing it tests both. */
static pack_fn *packer(const struct gemm_kernel *kern)
{
#ifdef __x86_64__
        if (strcmp(kern->name, "portable") != 0)
                return pack_panel_avx2;
#endif
        (void)kern;
        return pack_panel_portable;
}

/* Buffers of the calling thread: the weights packed per call, and one
 * block of B panels per thread of the team. */
static _Thread_local struct {
        float *a, *b;
        size_t a_size, b_size;
} buffers;

static const float *packed_weights(const struct packed_matrix *packed,
                                   const float *weight, size_t m, size_t k,
                                   int mr, enum an_status *st)
{
        *st = AN_OK;
        if (packed) {
                if (packed->kernel != gemm_kernel() ||
                    packed->precision == GEMM_BF16 || packed->m != m ||
                    packed->k != k)
                        *st = AN_E_INVALID;
                return packed->data;
        }
        if (!gemm_reserve(&buffers.a, &buffers.a_size,
                          packed_rows(m, mr) * k)) {
                *st = AN_E_NOMEM;
                return NULL;
        }
        pack_matrix(weight, m, k, k, GEMM_FP32, mr, buffers.a);
        return buffers.a;
}

enum an_status sgemm_conv(const struct packed_matrix *packed,
                          const float *weight, size_t m,
                          const struct conv_input *b,
                          const struct conv_output *out,
                          const struct gemm_epilogue *ep)
{
        const struct gemm_kernel *kern = gemm_kernel();
        bool bf16 = packed && packed->precision == GEMM_BF16_PAIRS;
        size_t k = (size_t)b->channels * b->win->kernel_h * b->win->kernel_w;
        size_t plane = (size_t)b->out_h * b->out_w;
        if (m == 0 || plane == 0 || b->images <= 0)
                return AN_OK;
        enum an_status st;
        const float *a = packed_weights(packed, weight, m, k, kern->mr, &st);
        if (st != AN_OK)
                return st;
        size_t nr = (size_t)kern->nr, per_image = (plane + nr - 1) / nr;
        /* 13 x 13 planes (conv3-5) would waste 7 of every 176 columns */
        bool span = plane >= nr;
        size_t pixels = plane * (size_t)b->images;
        struct conv_gemm g = {.a = a,
                              .kern = bf16 ? gemm_bf16_kernel(kern) : kern,
                              .bf16 = bf16,
                              .m = m,
                              .k = k,
                              .a_rows = packed_rows(m, kern->mr),
                              .b = b,
                              .out = out,
                              .ep = ep,
                              .mr = kern->mr,
                              .nr = kern->nr,
                              .pack = packer(kern),
                              .plane = plane,
                              .span = span,
                              .panels_per_image = per_image,
                              .panels = span ? (pixels + nr - 1) / nr
                                             : per_image * (size_t)b->images,
                              .row_tiles = (m + kern->mr - 1) / kern->mr,
                              .block_panels = BLOCK_FLOATS / (KC * nr)};
        /* per thread: a block of panels, and in bf16 one FP32 panel */
        size_t block = g.block_panels * KC * g.nr, scratch = KC * g.nr;
        size_t per_thread = block + (bf16 ? scratch : 0);
        int threads = omp_get_max_threads();
        if (!g.kern)
                return AN_E_INVALID;
        if (!gemm_reserve(&buffers.b, &buffers.b_size, per_thread * threads))
                return AN_E_NOMEM;
        float *bufs = buffers.b;
#pragma omp parallel num_threads(threads)
        {
                float *mine = bufs + per_thread * omp_get_thread_num();
                run_share(&g, omp_get_thread_num(), omp_get_num_threads(), mine,
                          mine + block);
        }
        return AN_OK;
}
