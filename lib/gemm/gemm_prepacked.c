/* Matrices packed once for the micro-kernel (a layer's weights at
 * inference), in float32 or bfloat16, and the products that use them: the
 * blocked driver of gemm.c for most shapes, and here a GEMV over the panels
 * for N <= SMALL_N (fully connected layers at batch 1 to 4), where the
 * product is bound by how fast the weights stream from memory, which is why
 * bfloat16 storage, half the bytes, makes it faster (`make bench-gemm`
 * measures both). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "base/huge_alloc.h"
#include "gemm/gemm.h"
#include "gemm/gemm_bf16.h"
#include "gemm/gemm_internal.h"
#include "base/half.h"

/* Eight floats: one AVX2 register, two SSE ones (GCC and Clang map them
 * onto what each target_clones variant has). */
typedef float v8f __attribute__((vector_size(32), aligned(4)));
typedef uint16_t v8h __attribute__((vector_size(16), aligned(2)));
typedef uint32_t v8u __attribute__((vector_size(32)));
enum { LANES = 8 };

static size_t element_size(enum gemm_precision p)
{
        return p == GEMM_FP32 ? sizeof(float) : sizeof(uint16_t);
}

/* Pairs pad the last slice to an even depth (the others are KC deep). */
static size_t packed_elements(size_t m, size_t k, int mr, enum gemm_precision p)
{
        size_t depth = p == GEMM_BF16_PAIRS ? bf16_pair_depth(k) : k;
        return packed_rows(m, mr) * depth + 1; /* never 0 bytes */
}

size_t packed_matrix_bytes(const struct packed_matrix *p)
{
        return p->data ? packed_elements(p->m, p->k, p->kernel->mr,
                                         p->precision) *
                                 element_size(p->precision)
                       : 0;
}

bool sgemm_bf16_dot(void)
{
        return gemm_bf16_kernel(gemm_kernel()) != NULL;
}

void packed_matrix_free(struct packed_matrix *p)
{
        free(p->data);
        memset(p, 0, sizeof *p);
}

/* One kc-deep slice of the panel of rows i0..i0+rows-1 (rows <= mr; the
 * padding rows stay zero), written in order. */
static void pack_panel_f32(const float *a, size_t lda, size_t i0, size_t rows,
                           size_t pc, size_t kc, size_t mr, float *dst)
{
        if (rows == mr) {
                pack_lanes(gemm_vector_packing(), a + i0 * lda + pc, lda,
                           (int)mr, kc, 1.0f, dst);
                return;
        }
        for (size_t p = 0; p < kc; p++, dst += mr) {
                for (size_t r = 0; r < rows; r++)
                        dst[r] = a[(i0 + r) * lda + pc + p];
                for (size_t r = rows; r < mr; r++)
                        dst[r] = 0.0f;
        }
}

static void pack_panel_bf16(const float *a, size_t lda, size_t i0, size_t rows,
                            size_t pc, size_t kc, size_t mr, uint16_t *dst)
{
        for (size_t p = 0; p < kc; p++, dst += mr) {
                for (size_t r = 0; r < rows; r++)
                        dst[r] = f32_to_bf16(a[(i0 + r) * lda + pc + p]);
                for (size_t r = rows; r < mr; r++)
                        dst[r] = 0;
        }
}

void pack_matrix(const float *a, size_t m, size_t k, size_t lda,
                 enum gemm_precision precision, int mr, void *data)
{
        size_t rows = packed_rows(m, mr);
        /* panel by panel, each written in order by one thread */
#pragma omp parallel for schedule(static)
        for (size_t i0 = 0; i0 < m; i0 += (size_t)mr)
                for (size_t pc = 0; pc < k; pc += KC) {
                        size_t kc = k - pc < KC ? k - pc : KC;
                        size_t n = m - i0 < (size_t)mr ? m - i0 : (size_t)mr;
                        size_t at = packed_offset(rows, pc, i0, kc);
                        if (precision == GEMM_BF16_PAIRS)
                                pack_bf16_pairs_a(
                                        a, lda, i0, n, pc, kc, mr,
                                        (uint16_t *)data +
                                                packed_offset(
                                                        rows, pc, i0,
                                                        bf16_pair_depth(kc)));
                        else if (precision == GEMM_BF16)
                                pack_panel_bf16(a, lda, i0, n, pc, kc, mr,
                                                (uint16_t *)data + at);
                        else
                                pack_panel_f32(a, lda, i0, n, pc, kc, mr,
                                               (float *)data + at);
                }
}

enum an_status sgemm_pack(const float *a, size_t m, size_t k, size_t lda,
                          enum gemm_precision precision,
                          struct packed_matrix *out)
{
        const struct gemm_kernel *kern = gemm_kernel();
        memset(out, 0, sizeof *out);
        if (precision == GEMM_BF16_PAIRS && !sgemm_bf16_dot())
                return AN_E_INVALID;
        size_t elements = packed_elements(m, k, kern->mr, precision);
        size_t esize = element_size(precision);
        /* not zeroed: the packers write every element, padding included
         * (zeroing fc6-fc8 first cost a pass over 234 MB per process) */
        out->data = elements <= SIZE_MAX / esize
                            ? huge_alloc(elements * esize, false)
                            : NULL;
        if (!out->data)
                return AN_E_NOMEM;
        out->m = m;
        out->k = k;
        out->precision = precision;
        out->kernel = kern;
        pack_matrix(a, m, k, lda, precision, kern->mr, out->data);
        return AN_OK;
}

/* The GEMV streams each panel slice as the flat array it is (element
 * e = p * MR + r holds A[row0 + r][pc + p]) against B's column expanded to
 * match (bx[e] = b[pc + e / MR]), so that every lane of every vector does
 * useful work: one load of A, one of bx and one multiply-add per element.
 * Lane l of the PERIOD partial sums collects the elements e with
 * e % PERIOD == l, which all belong to row l % MR (MR divides PERIOD). */
enum { PERIOD = 48 };

/* Six named accumulators of eight lanes, one period: GCC keeps named
 * vector variables in registers but arrays of them, or vectors wider than
 * the registers, in memory. */
#define SLICE_DOT(LOAD_A)                                                      \
        v8f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, s4 = {0}, s5 = {0};        \
        size_t e = 0;                                                          \
        for (; e + PERIOD <= count; e += PERIOD) {                             \
                const float *x = bx + e;                                       \
                s0 += LOAD_A(e) * *(const v8f *)x;                             \
                s1 += LOAD_A(e + 8) * *(const v8f *)(x + 8);                   \
                s2 += LOAD_A(e + 16) * *(const v8f *)(x + 16);                 \
                s3 += LOAD_A(e + 24) * *(const v8f *)(x + 24);                 \
                s4 += LOAD_A(e + 32) * *(const v8f *)(x + 32);                 \
                s5 += LOAD_A(e + 40) * *(const v8f *)(x + 40);                 \
        }                                                                      \
        for (int l = 0; l < LANES; l++) {                                      \
                lanes[l] += s0[l];                                             \
                lanes[8 + l] += s1[l];                                         \
                lanes[16 + l] += s2[l];                                        \
                lanes[24 + l] += s3[l];                                        \
                lanes[32 + l] += s4[l];                                        \
                lanes[40 + l] += s5[l];                                        \
        }

#define LOAD_F32(at) (*(const v8f *)(a + (at)))

__attribute__((target_clones("avx512f", "avx2", "default"))) static void
slice_dot_f32(const float *a, const float *bx, size_t count, float *lanes)
{
        SLICE_DOT(LOAD_F32)
        for (; e < count; e++)
                lanes[e % PERIOD] += a[e] * bx[e];
}

/* Eight bfloat16 as float32: the same bits in the upper half. */
#define LOAD_BF16(at)                                                          \
        ((v8f)(__builtin_convertvector(*(const v8h *)(a + (at)), v8u) << 16))

__attribute__((target_clones("avx512f", "avx2", "default"))) static void
slice_dot_bf16(const uint16_t *a, const float *bx, size_t count, float *lanes)
{
        SLICE_DOT(LOAD_BF16)
        for (; e < count; e++)
                lanes[e % PERIOD] += bf16_to_f32(a[e]) * bx[e];
}

#ifdef __x86_64__
/* Sixteen bfloat16 at p as float32 (the same bits in the upper half). */
__attribute__((target("avx512f"))) static inline __m512
widen_bf16(const uint16_t *p)
{
        return _mm512_castsi512_ps(_mm512_slli_epi32(
                _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)),
                16));
}

/* The same dot products with AVX-512 written out: one period is three
 * vectors of 16 lanes, each multiply-add fused.  GCC compiled the vector
 * extension above, even for AVX-512, to half-width conversions and
 * separate multiplies and adds: the bfloat16 GEMV streamed its weights
 * at 36 GB/s where the FP32 one reached 52 (fc6 at batch 1). */
#define SLICE_DOT_AVX512(WIDEN)                                                \
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0;                     \
        size_t e = 0;                                                          \
        for (; e + PERIOD <= count; e += PERIOD) {                             \
                s0 = _mm512_fmadd_ps(WIDEN(e), _mm512_loadu_ps(bx + e), s0);   \
                s1 = _mm512_fmadd_ps(WIDEN(e + 16),                            \
                                     _mm512_loadu_ps(bx + e + 16), s1);        \
                s2 = _mm512_fmadd_ps(WIDEN(e + 32),                            \
                                     _mm512_loadu_ps(bx + e + 32), s2);        \
        }                                                                      \
        _mm512_storeu_ps(lanes, _mm512_add_ps(_mm512_loadu_ps(lanes), s0));    \
        _mm512_storeu_ps(lanes + 16,                                           \
                         _mm512_add_ps(_mm512_loadu_ps(lanes + 16), s1));      \
        _mm512_storeu_ps(lanes + 32,                                           \
                         _mm512_add_ps(_mm512_loadu_ps(lanes + 32), s2));

#define WIDEN_F32(at)  _mm512_loadu_ps(a + (at))
#define WIDEN_BF16(at) widen_bf16(a + (at))

__attribute__((target("avx512f"))) static void
slice_dot_f32_avx512(const float *a, const float *bx, size_t count,
                     float *lanes)
{
        SLICE_DOT_AVX512(WIDEN_F32)
        for (; e < count; e++)
                lanes[e % PERIOD] += a[e] * bx[e];
}

__attribute__((target("avx512f"))) static void
slice_dot_bf16_avx512(const uint16_t *a, const float *bx, size_t count,
                      float *lanes)
{
        SLICE_DOT_AVX512(WIDEN_BF16)
        for (; e < count; e++)
                lanes[e % PERIOD] += bf16_to_f32(a[e]) * bx[e];
}
#endif

/* Whether the AVX-512 dot products run here (with the AVX-512 kernel,
 * so that each kernel's tests test its own path). */
static bool gemv_avx512(void)
{
#ifdef __x86_64__
        return strcmp(gemm_kernel()->name, "avx512") == 0;
#else
        return false;
#endif
}

/* One K slice of one panel times one expanded column of B, added to the
 * panel's PERIOD partial sums for that column. */
static void slice_column(const struct packed_matrix *a, size_t at,
                         const float *bx, size_t count, float *lanes,
                         bool avx512)
{
#ifdef __x86_64__
        if (avx512 && a->precision != GEMM_FP32) {
                slice_dot_bf16_avx512((const uint16_t *)a->data + at, bx, count,
                                      lanes);
                return;
        }
        if (avx512) {
                slice_dot_f32_avx512((const float *)a->data + at, bx, count,
                                     lanes);
                return;
        }
#else
        (void)avx512;
#endif
        if (a->precision != GEMM_FP32)
                slice_dot_bf16((const uint16_t *)a->data + at, bx, count,
                               lanes);
        else
                slice_dot_f32((const float *)a->data + at, bx, count, lanes);
}

/* Row r of a panel is the sum of its lanes r, r + MR, ...; in pairs
 * (2 MR elements per step of two along K, 2 MR dividing PERIOD) of lanes
 * 2r, 2r + 1, 2r + 2 MR, ... */
static float row_sum(const float *lanes, size_t r, size_t mr, bool pairs)
{
        float sum = 0.0f;
        if (pairs) {
                for (size_t l = 2 * r; l < PERIOD; l += 2 * mr)
                        sum += lanes[l] + lanes[l + 1];
                return sum;
        }
        for (size_t l = r; l < PERIOD; l += mr)
                sum += lanes[l];
        return sum;
}

/* The depth of a K slice as stored (pairs: rounded up to even). */
static size_t stored_depth(const struct packed_matrix *a, size_t kc)
{
        return a->precision == GEMM_BF16_PAIRS ? bf16_pair_depth(kc) : kc;
}

/* C = epilogue(A B) for N <= SMALL_N from B's columns expanded (bx: n of
 * them, k * MR floats each), with lanes[panels][n][PERIOD] (zeroed) for the
 * partial sums.  K slices are the outer loop, so that the slice of bx in use
 * (KC * MR floats) stays in L1 while the weights stream past; each thread
 * keeps the same panels in every slice (static schedule over the same
 * range), so the sums are added in one fixed order. */
static void panel_gemv(const struct packed_matrix *a, size_t n, const float *bx,
                       float *lanes, float *c, size_t ldc,
                       const struct gemm_epilogue *ep)
{
        size_t mr = (size_t)a->kernel->mr;
        size_t rows = packed_rows(a->m, (int)mr), panels = rows / mr;
        size_t column = stored_depth(a, a->k) * mr; /* floats of bx each */
        bool pairs = a->precision == GEMM_BF16_PAIRS;
        bool avx512 = gemv_avx512();
#pragma omp parallel
        {
                for (size_t pc = 0; pc < a->k; pc += KC) {
                        size_t kc = stored_depth(a, a->k - pc < KC ? a->k - pc
                                                                   : KC);
#pragma omp for schedule(static) nowait
                        for (size_t q = 0; q < panels; q++)
                                for (size_t j = 0; j < n; j++)
                                        slice_column(a,
                                                     packed_offset(rows, pc,
                                                                   q * mr, kc),
                                                     bx + j * column + pc * mr,
                                                     kc * mr,
                                                     lanes + (q * n + j) *
                                                                     PERIOD,
                                                     avx512);
                }
#pragma omp barrier
#pragma omp for schedule(static)
                for (size_t i = 0; i < a->m; i++)
                        for (size_t j = 0; j < n; j++) {
                                size_t q = i / mr;
                                float v = row_sum(lanes + (q * n + j) * PERIOD,
                                                  i % mr, mr, pairs);
                                if (ep && ep->bias)
                                        v += ep->bias[i];
                                if (ep && ep->relu && v < 0.0f)
                                        v = 0.0f;
                                c[i * ldc + j] = v;
                        }
        }
}

/* The GEMV's scratch, kept by the calling thread (shared by its team):
 * B's expanded columns and the partial sums. */
static _Thread_local struct {
        float *bx, *lanes;
        size_t bx_size, lanes_size;
} scratch;

/* op(B)'s columns, each value repeated MR times to match A's elements
 * (bx[j][p * MR + r] = op(B)[p][j]); for pairs, in A's pair order
 * (bx[j][(p / 2) * 2 MR + 2 r + p % 2]), rounded to bfloat16 as the dot
 * product rounds them, and a zero past an odd K. */
static const float *expanded_columns(bool trans_b, size_t n, size_t k,
                                     const float *b, size_t ldb, size_t mr,
                                     bool pairs)
{
        size_t depth = pairs ? bf16_pair_depth(k) : k;
        if (!gemm_reserve(&scratch.bx, &scratch.bx_size, n * depth * mr))
                return NULL;
        float *bx = scratch.bx; /* the team shares this thread's buffer */
#pragma omp parallel for schedule(static)
        for (size_t p = 0; p < depth; p++)
                for (size_t j = 0; j < n; j++) {
                        float v = p >= k    ? 0.0f
                                  : trans_b ? b[j * ldb + p]
                                            : b[p * ldb + j];
                        float *col = bx + j * depth * mr;
                        if (!pairs) {
                                for (size_t r = 0; r < mr; r++)
                                        col[p * mr + r] = v;
                                continue;
                        }
                        v = bf16_to_f32(f32_to_bf16(v));
                        for (size_t r = 0; r < mr; r++)
                                col[p / 2 * 2 * mr + 2 * r + p % 2] = v;
                }
        return bx;
}

/* `count` zeroed floats for the partial sums. */
static float *zeroed_lanes(size_t count)
{
        if (!gemm_reserve(&scratch.lanes, &scratch.lanes_size, count))
                return NULL;
        memset(scratch.lanes, 0, count * sizeof *scratch.lanes);
        return scratch.lanes;
}

enum an_status sgemm_prepacked(const struct packed_matrix *a, bool trans_b,
                               size_t n, const float *b, size_t ldb, float *c,
                               size_t ldc, const struct gemm_epilogue *ep)
{
        const struct gemm_kernel *kern = gemm_kernel();
        if (a->kernel != kern)
                return AN_E_INVALID;
        if (n == 0 || a->m == 0)
                return AN_OK;
        if (n <= SMALL_N && a->k > 0) {
                const float *bx = expanded_columns(
                        trans_b, n, a->k, b, ldb, (size_t)kern->mr,
                        a->precision == GEMM_BF16_PAIRS);
                size_t panels = packed_rows(a->m, kern->mr) / kern->mr;
                float *lanes = zeroed_lanes(panels * n * PERIOD);
                if (!bx || !lanes)
                        return AN_E_NOMEM;
                panel_gemv(a, n, bx, lanes, c, ldc, ep);
                return AN_OK;
        }
        if (a->k == 0)
                return sgemm_fused(false, trans_b, a->m, n, 0, 1.0f, NULL, 1, b,
                                   ldb, 0.0f, c, ldc, ep);
        struct a_operand op = {false, NULL, a->k, 1.0f, a};
        return gemm_blocked(&op, trans_b, a->m, n, a->k, b, ldb, 0.0f, c, ldc,
                            ep);
}
