/* A packed, cache-blocked SGEMM in the style of BLIS (Van Zee and van de
 * Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS Functionality",
 * 2015): for each NC-wide column block and KC-deep slice of K, B is packed
 * into NR-wide panels shared by all threads; then for each MC-high row block
 * A is packed into MR-high panels and the threads share out the MR x NR
 * tiles, each computed by the register-tiled micro-kernel of
 * gemm_kernels.c and merged into C (beta, bias, ReLU) by merge_tile.
 * For tall, narrow products (fully connected layers at small batches) the
 * threads instead take whole row blocks, each packing its own A block.
 *
 * The blocking (gemm_internal.h: KC 256, MC 144, BLIS's own choice for
 * AMD Zen) keeps the B micro-panel that a thread reuses across a row
 * block (KC x NR floats: 16 KiB for the AVX2 kernel, 32 KiB for AVX-512)
 * in L1 while the packed A block (MC x KC, 144 KiB) streams from L2; with
 * KC 512 the AVX2 panel alone filled a 32 KiB L1.  Every tile of C is
 * accumulated by one thread in a fixed order, so the result does not depend on
 * the thread count. */
#include "gemm/gemm.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm/gemm_bf16.h"
#include "gemm/gemm_internal.h"
#include "gemm/gemm_kernels.h"
#include "base/half.h"

static const struct gemm_kernel *kernel;

const struct gemm_kernel *gemm_kernel(void)
{
        if (!kernel)
                kernel = gemm_kernel_select();
        return kernel;
}

const char *sgemm_kernel_name(void)
{
        return gemm_kernel()->name;
}

bool gemm_vector_packing(void)
{
        return strcmp(gemm_kernel()->name, "portable") != 0;
}

bool sgemm_use_kernel(const char *name)
{
        const struct gemm_kernel *k = gemm_kernel_by_name(name);
        if (k)
                kernel = k;
        return k != NULL;
}

/* Packing buffers of the calling thread, grown on demand and kept: GEMMs
 * run back to back on the same shapes, so steady state allocates nothing. */
struct buffers {
        float *a, *b;
        size_t a_size, b_size;
};
static _Thread_local struct buffers buffers;

bool gemm_reserve(float **p, size_t *have, size_t want)
{
        if (*have >= want)
                return true;
        free(*p);
        *p = aligned_alloc(64, (want * sizeof(float) + 63) / 64 * 64);
        *have = *p ? want : 0;
        return *p != NULL;
}

void gemm_release_thread_buffers(void)
{
        free(buffers.a);
        free(buffers.b);
        buffers = (struct buffers){0};
}

static float a_at(bool trans, const float *a, size_t lda, size_t i, size_t p)
{
        return trans ? a[p * lda + i] : a[i * lda + p];
}

/* One row of a B panel: a whole panel width (16 or 32 floats) is a copy of
 * a size known here, which the compiler turns into a few vector moves; a
 * call to memcpy per 64 bytes cost more than the copy (13% of a conv
 * GEMM). */
static inline void copy_panel_row(float *out, const float *src, size_t cols,
                                  int nr)
{
        if (cols == 16 && nr == 16)
                memcpy(out, src, 16 * sizeof *out);
        else if (cols == 32 && nr == 32)
                memcpy(out, src, 32 * sizeof *out);
        else
                for (size_t j = 0; j < cols; j++)
                        out[j] = src[j];
}

/* Panel q of B[pc:pc+kc, jc:jc+nc], NR wide, zero-padded on the right. */
static void pack_b_panel(bool trans, const float *b, size_t ldb, size_t pc,
                         size_t kc, size_t jc, size_t nc, int nr, bool vector,
                         size_t q, float *out)
{
        size_t j0 = jc + q * nr;
        size_t cols = nc - q * nr < (size_t)nr ? nc - q * nr : (size_t)nr;
        if (trans && cols == (size_t)nr) {
                pack_lanes(vector, b + j0 * ldb + pc, ldb, nr, kc, 1.0f, out);
                return;
        }
        for (size_t p = 0; p < kc; p++, out += nr) {
                if (!trans)
                        copy_panel_row(out, b + (pc + p) * ldb + j0, cols, nr);
                else
                        for (size_t j = 0; j < cols; j++)
                                out[j] = b[(j0 + j) * ldb + pc + p];
                for (size_t j = cols; j < (size_t)nr; j++)
                        out[j] = 0.0f;
        }
}

/* All of B[pc:pc+kc, jc:jc+nc]'s panels for kernel kern, shared among the
 * team; for a bf16 kernel each panel is packed in FP32 into the thread's
 * scratch (kc * NR floats) and rounded into pairs. */
static void pack_b(const struct gemm_kernel *kern, bool trans, const float *b,
                   size_t ldb, size_t pc, size_t kc, size_t jc, size_t nc,
                   float *dst, float *scratch)
{
        int nr = kern->nr;
        size_t panels = (nc + nr - 1) / nr, size = panel_floats(kern, nr, kc);
        bool vector = gemm_vector_packing();
#pragma omp for schedule(static)
        for (size_t q = 0; q < panels; q++) {
                if (!kern->bf16_pairs) {
                        pack_b_panel(trans, b, ldb, pc, kc, jc, nc, nr, vector,
                                     q, dst + q * size);
                        continue;
                }
                pack_b_panel(trans, b, ldb, pc, kc, jc, nc, nr, vector, q,
                             scratch);
                pack_bf16_pairs_b(scratch, nr, kc,
                                  (uint16_t *)(dst + q * size));
        }
}

/* MR contiguous floats: a copy of a size known here for each kernel's MR
 * (no call to memcpy per few bytes). */
static inline void copy_panel_column(float *out, const float *src, int mr)
{
        if (mr == 6)
                memcpy(out, src, 6 * sizeof *out);
        else if (mr == 12)
                memcpy(out, src, 12 * sizeof *out);
        else
                for (int i = 0; i < mr; i++)
                        out[i] = src[i];
}

/* Panel q of alpha * A[ic:ic+mc, pc:pc+kc] (MR rows, zero-padded below). */
static void pack_a_panel(bool trans, const float *a, size_t lda, float alpha,
                         size_t ic, size_t mc, size_t pc, size_t kc, int mr,
                         bool vector, size_t q, float *dst)
{
        float *out = dst + q * kc * mr;
        size_t i0 = ic + q * mr;
        size_t rows = mc - q * mr < (size_t)mr ? mc - q * mr : (size_t)mr;
        if (!trans && rows == (size_t)mr) {
                pack_lanes(vector, a + i0 * lda + pc, lda, mr, kc, alpha, out);
                return;
        }
        if (trans && alpha == 1.0f && rows == (size_t)mr) {
                /* a panel column is a contiguous run of A's row */
                for (size_t p = 0; p < kc; p++, out += mr)
                        copy_panel_column(out, a + (pc + p) * lda + i0, mr);
                return;
        }
        for (size_t p = 0; p < kc; p++, out += mr) {
                for (size_t i = 0; i < rows; i++)
                        out[i] = alpha * a_at(trans, a, lda, i0 + i, pc + p);
                for (size_t i = rows; i < (size_t)mr; i++)
                        out[i] = 0.0f;
        }
}

/* All of A's block into MR-high panels: shared among the team (shared)
 * or by the calling thread alone. */
static void pack_a(bool trans, const float *a, size_t lda, float alpha,
                   size_t ic, size_t mc, size_t pc, size_t kc, int mr,
                   bool shared, float *dst)
{
        size_t panels = (mc + mr - 1) / mr;
        bool vector = gemm_vector_packing();
        if (!shared) {
                for (size_t q = 0; q < panels; q++)
                        pack_a_panel(trans, a, lda, alpha, ic, mc, pc, kc, mr,
                                     vector, q, dst);
                return;
        }
#pragma omp for schedule(static)
        for (size_t q = 0; q < panels; q++)
                pack_a_panel(trans, a, lda, alpha, ic, mc, pc, kc, mr, vector,
                             q, dst);
}

static void merge_tile(const float *tile, int nr, float *c, size_t ldc,
                       size_t row0, size_t rows, size_t cols,
                       const struct merge *m)
{
        const float *bias = m->epilogue ? m->epilogue->bias : NULL;
        bool relu = m->epilogue && m->epilogue->relu && m->last;
        for (size_t i = 0; i < rows; i++) {
                float *ci = c + i * ldc;
                const float *ti = tile + i * nr;
                float add = m->last && bias ? bias[row0 + i] : 0.0f;
                if (m->first && m->beta == 0.0f)
                        for (size_t j = 0; j < cols; j++)
                                ci[j] = ti[j] + add;
                else if (m->first && m->beta != 1.0f)
                        for (size_t j = 0; j < cols; j++)
                                ci[j] = m->beta * ci[j] + ti[j] + add;
                else /* in the kernels' order: a tile's result does not
                      * depend on whether it was merged here */
                        for (size_t j = 0; j < cols; j++)
                                ci[j] = (ci[j] + ti[j]) + add;
                if (relu)
                        for (size_t j = 0; j < cols; j++)
                                ci[j] = ci[j] > 0.0f ? ci[j] : 0.0f;
        }
}

/* One MR x NR tile (rows x cols of it inside C): a tile as wide as NR
 * goes straight to C through the kernel, which computes only its rows
 * and adds the bias and applies ReLU on the last K slice; a narrower one
 * is computed into a buffer and merged. */
void multiply_tile(const struct gemm_kernel *kern, const float *pa,
                   const float *pb, size_t kc, size_t row0, size_t rows,
                   size_t cols, float *c, size_t ldc, const struct merge *m)
{
        const struct gemm_epilogue *ep = m->epilogue;
        if (cols == (size_t)kern->nr) {
                if (m->first && m->beta != 0.0f && m->beta != 1.0f)
                        for (size_t i = 0; i < rows; i++)
                                for (size_t j = 0; j < cols; j++)
                                        c[i * ldc + j] *= m->beta;
                struct tile_output out = {
                        c, ldc, !(m->first && m->beta == 0.0f),
                        m->last && ep && ep->bias ? ep->bias + row0 : NULL,
                        m->last && ep && ep->relu};
                kern->run((int)rows, kc, pa, pb, &out);
                return;
        }
        multiply_split_tile(kern, pa, pb, kc, row0, rows, c, cols, NULL, 0, ldc,
                            m);
}

void multiply_split_tile(const struct gemm_kernel *kern, const float *pa,
                         const float *pb, size_t kc, size_t row0, size_t rows,
                         float *c, size_t cols, float *c_next, size_t cols_next,
                         size_t ldc, const struct merge *m)
{
        int nr = kern->nr;
        _Alignas(64) float tile[MAX_TILE];
        struct tile_output out = {tile, (size_t)nr, false, NULL, false};
        kern->run((int)rows, kc, pa, pb, &out);
        merge_tile(tile, nr, c, ldc, row0, rows, cols, m);
        if (cols_next)
                merge_tile(tile + cols, nr, c_next, ldc, row0, rows, cols_next,
                           m);
}

/* Tile (it, jt) of one packed A block against the packed B panels. */
static void block_tile(const struct gemm_kernel *kern, const float *pa,
                       const float *pb, size_t kc, size_t ic, size_t mc,
                       size_t jc, size_t nc, float *c, size_t ldc,
                       const struct merge *m, size_t it, size_t jt)
{
        int mr = kern->mr, nr = kern->nr;
        size_t i0 = it * mr, j0 = jt * nr;
        size_t rows = mc - i0 < (size_t)mr ? mc - i0 : (size_t)mr;
        size_t cols = nc - j0 < (size_t)nr ? nc - j0 : (size_t)nr;
        multiply_tile(kern, pa + it * panel_floats(kern, mr, kc),
                      pb + jt * panel_floats(kern, nr, kc), kc, ic + i0, rows,
                      cols, c + (ic + i0) * ldc + jc + j0, ldc, m);
}

/* All MR x NR tiles of one packed A block against the packed B panels:
 * shared among the team (shared) or by the calling thread alone. */
static void multiply_block(const struct gemm_kernel *kern, const float *pa,
                           const float *pb, size_t kc, size_t ic, size_t mc,
                           size_t jc, size_t nc, float *c, size_t ldc,
                           const struct merge *m, bool shared)
{
        int mr = kern->mr, nr = kern->nr;
        size_t row_tiles = (mc + mr - 1) / mr, col_tiles = (nc + nr - 1) / nr;
        if (!shared) {
                for (size_t it = 0; it < row_tiles; it++)
                        for (size_t jt = 0; jt < col_tiles; jt++)
                                block_tile(kern, pa, pb, kc, ic, mc, jc, nc, c,
                                           ldc, m, it, jt);
                return;
        }
#pragma omp for collapse(2) schedule(static)
        for (size_t jt = 0; jt < col_tiles; jt++)
                for (size_t it = 0; it < row_tiles; it++)
                        block_tile(kern, pa, pb, kc, ic, mc, jc, nc, c, ldc, m,
                                   it, jt);
}

/* bfloat16 panels widened to float32 (the kernel multiplies float32). */
static void widen_panels(const uint16_t *src, size_t count, bool shared,
                         float *dst)
{
        enum { CHUNK = 4096 };
        if (!shared) {
                for (size_t i = 0; i < count; i++)
                        dst[i] = bf16_to_f32(src[i]);
                return;
        }
#pragma omp for schedule(static)
        for (size_t at = 0; at < count; at += CHUNK) {
                size_t end = count - at < CHUNK ? count : at + CHUNK;
                for (size_t i = at; i < end; i++)
                        dst[i] = bf16_to_f32(src[i]);
        }
}

/* The packed MR-high panels of A[ic:ic+mc, pc:pc+kc]: packed into buffer
 * now, found in a prepacked float32 or bfloat16-pairs matrix, or widened
 * from a bfloat16 one.  Shared: called by every thread of the team, which
 * share the work; else by one thread for itself. */
static const float *a_block(const struct a_operand *a, size_t m, size_t ic,
                            size_t mc, size_t pc, size_t kc, bool shared,
                            float *buffer)
{
        int mr = kernel->mr;
        if (!a->packed) {
                pack_a(a->trans, a->a, a->lda, a->alpha, ic, mc, pc, kc, mr,
                       shared, buffer);
                return buffer;
        }
        enum gemm_precision precision = a->packed->precision;
        if (precision != GEMM_BF16)
                return packed_panels(a->packed->data,
                                     precision == GEMM_BF16_PAIRS,
                                     packed_rows(m, mr), pc, ic, kc);
        size_t at = packed_offset(packed_rows(m, mr), pc, ic, kc);
        widen_panels((const uint16_t *)a->packed->data + at,
                     packed_rows(mc, mr) * kc, shared, buffer);
        return buffer;
}

/* Whether the threads take whole row blocks of C (each packing its own
 * A block and multiplying it by all of B's few panels) rather than share
 * the tiles of each block: for the tall, narrow products of fully
 * connected layers at small batches, where sharing a block cost a barrier
 * after its packing and another after its few tiles, and a thread
 * streaming A from memory could not overlap another's arithmetic. */
static bool by_row_blocks(size_t m, size_t n, int threads)
{
        size_t blocks = (m + MC - 1) / MC;
        return n <= ROW_BLOCKS_MAX_N && blocks >= 2 * (size_t)threads;
}

/* The kernel for A and n columns: the one in use, its bf16 twin for
 * pairs, or a narrower twin for few columns. */
static const struct gemm_kernel *kernel_for(const struct a_operand *a, size_t n)
{
        if (a->packed && a->packed->precision == GEMM_BF16_PAIRS) {
                const struct gemm_kernel *k = gemm_bf16_kernel(kernel);
                return k ? gemm_bf16_narrow_kernel(k, n) : NULL;
        }
        return gemm_narrow_kernel(kernel, n);
}

static void packed_gemm(const struct gemm_kernel *kern,
                        const struct a_operand *a, bool trans_b, size_t m,
                        size_t n, size_t k, const float *b, size_t ldb,
                        float beta, float *c, size_t ldc,
                        const struct gemm_epilogue *ep, int threads,
                        float *scratch)
{
        bool rows = by_row_blocks(m, n, threads);
        size_t kc_max = k < KC ? k : KC;
        size_t a_size = (size_t)(MC + kernel->mr) * kc_max;
        size_t scratch_size = (size_t)kern->nr * kc_max;
        /* The calling thread's buffers, shared by the team. */
        float *packed_a = buffers.a, *packed_b = buffers.b;
#pragma omp parallel num_threads(threads)
        {
                float *own_a = packed_a + a_size * omp_get_thread_num();
                float *own_scratch =
                        scratch + scratch_size * omp_get_thread_num();
                for (size_t jc = 0; jc < n; jc += NC) {
                        size_t nc = n - jc < NC ? n - jc : NC;
                        for (size_t pc = 0; pc < k; pc += KC) {
                                size_t kc = k - pc < KC ? k - pc : KC;
                                struct merge mg = {beta, pc == 0, pc + kc == k,
                                                   ep};
                                pack_b(kern, trans_b, b, ldb, pc, kc, jc, nc,
                                       packed_b, own_scratch);
                                if (rows) {
#pragma omp for schedule(static)
                                        for (size_t ic = 0; ic < m; ic += MC) {
                                                size_t mc = m - ic < MC ? m - ic
                                                                        : MC;
                                                const float *pa = a_block(
                                                        a, m, ic, mc, pc, kc,
                                                        false, own_a);
                                                multiply_block(kern, pa,
                                                               packed_b, kc, ic,
                                                               mc, jc, nc, c,
                                                               ldc, &mg, false);
                                        }
                                        continue;
                                }
                                for (size_t ic = 0; ic < m; ic += MC) {
                                        size_t mc = m - ic < MC ? m - ic : MC;
                                        const float *pa =
                                                a_block(a, m, ic, mc, pc, kc,
                                                        true, packed_a);
                                        multiply_block(kern, pa, packed_b, kc,
                                                       ic, mc, jc, nc, c, ldc,
                                                       &mg, true);
                                }
                        }
                }
        }
}

enum an_status gemm_blocked(const struct a_operand *a, bool trans_b, size_t m,
                            size_t n, size_t k, const float *b, size_t ldb,
                            float beta, float *c, size_t ldc,
                            const struct gemm_epilogue *ep)
{
        gemm_kernel();
        const struct gemm_kernel *kern = kernel_for(a, n);
        if (!kern)
                return AN_E_INVALID;
        int threads = omp_get_max_threads();
        size_t nc = n < NC ? n : NC, kc = k < KC ? k : KC;
        size_t b_panel = (nc + kern->nr - 1) / kern->nr * kern->nr * kc;
        size_t a_panel = (size_t)(MC + kernel->mr) * kc;
        if (by_row_blocks(m, n, threads))
                a_panel *= (size_t)threads; /* one block per thread */
        /* behind B's panels, a scratch panel per thread for rounding
         * into pairs */
        size_t scratch = kern->bf16_pairs ? (size_t)kern->nr * kc * threads : 0;
        if (!gemm_reserve(&buffers.b, &buffers.b_size, b_panel + scratch) ||
            !gemm_reserve(&buffers.a, &buffers.a_size, a_panel))
                return AN_E_NOMEM;
        packed_gemm(kern, a, trans_b, m, n, k, b, ldb, beta, c, ldc, ep,
                    threads, buffers.b + b_panel);
        return AN_OK;
}

/* C = epilogue(alpha A B + beta C) for N <= SMALL_N: one pass over A, rows
 * shared among threads; each dot product keeps 16 partial sums the compiler
 * turns into vector registers. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
small_n_gemm(bool trans_a, size_t m, size_t n, size_t k, float alpha,
             const float *a, size_t lda, const float *bt, float beta, float *c,
             size_t ldc, const struct gemm_epilogue *ep)
{
        enum { LANES = 16 };
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < m; i++) {
                for (size_t j = 0; j < n; j++) {
                        const float *bj = bt + j * k;
                        float part[LANES] = {0};
                        size_t p = 0;
                        if (!trans_a) {
                                const float *ai = a + i * lda;
                                for (; p + LANES <= k; p += LANES)
                                        for (int u = 0; u < LANES; u++)
                                                part[u] +=
                                                        ai[p + u] * bj[p + u];
                        }
                        float sum = 0.0f;
                        for (; p < k; p++)
                                sum += a_at(trans_a, a, lda, i, p) * bj[p];
                        for (int u = 0; u < LANES; u++)
                                sum += part[u];
                        float v = alpha * sum;
                        if (beta != 0.0f)
                                v += beta * c[i * ldc + j];
                        if (ep && ep->bias)
                                v += ep->bias[i];
                        if (ep && ep->relu && v < 0.0f)
                                v = 0.0f;
                        c[i * ldc + j] = v;
                }
        }
}

static void scale_c(size_t m, size_t n, float beta, float *c, size_t ldc,
                    const struct gemm_epilogue *ep)
{
        for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                        float v = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
                        if (ep && ep->bias)
                                v += ep->bias[i];
                        if (ep && ep->relu && v < 0.0f)
                                v = 0.0f;
                        c[i * ldc + j] = v;
                }
}

enum an_status sgemm_fused(bool trans_a, bool trans_b, size_t m, size_t n,
                           size_t k, float alpha, const float *a, size_t lda,
                           const float *b, size_t ldb, float beta, float *c,
                           size_t ldc, const struct gemm_epilogue *ep)
{
        gemm_kernel(); /* selects the kernel on first use */
        if (m == 0 || n == 0)
                return AN_OK;
        if (k == 0 || alpha == 0.0f) {
                scale_c(m, n, beta, c, ldc, ep);
                return AN_OK;
        }
        if (n <= SMALL_N) {
                /* B's columns, contiguous: B itself when transposed. */
                if (trans_b && ldb == k)
                        small_n_gemm(trans_a, m, n, k, alpha, a, lda, b, beta,
                                     c, ldc, ep);
                else {
                        if (!gemm_reserve(&buffers.b, &buffers.b_size, n * k))
                                return AN_E_NOMEM;
                        for (size_t j = 0; j < n; j++)
                                for (size_t p = 0; p < k; p++)
                                        buffers.b[j * k + p] =
                                                trans_b ? b[j * ldb + p]
                                                        : b[p * ldb + j];
                        small_n_gemm(trans_a, m, n, k, alpha, a, lda, buffers.b,
                                     beta, c, ldc, ep);
                }
                return AN_OK;
        }
        struct a_operand op = {trans_a, a, lda, alpha, NULL};
        return gemm_blocked(&op, trans_b, m, n, k, b, ldb, beta, c, ldc, ep);
}

enum an_status sgemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                     float alpha, const float *a, size_t lda, const float *b,
                     size_t ldb, float beta, float *c, size_t ldc)
{
        return sgemm_fused(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                           beta, c, ldc, NULL);
}
