/* A portable, cache-blocked SGEMM.
 *
 * B is packed one (KC x NC) panel at a time into a contiguous row-major
 * buffer, so the inner loop streams it with unit stride whatever the
 * transposition.  Each task owns ROWS rows of C and a COLS-wide strip of the
 * panel: the four C rows stay in L1 while the panel strip comes from L2, and
 * the innermost loop is a plain axpy the compiler vectorises.  Every element
 * of C is accumulated by one task in a fixed order, so results are identical
 * for any number of threads. */
#include "gemm.h"

#include <stdlib.h>
#include <string.h>

enum {
        KC = 256,  /* depth of a packed panel */
        NC = 1024, /* width of a packed panel */
        ROWS = 4,  /* rows of C one task updates together */
        COLS = 128 /* columns of C one task updates */
};

static float a_at(bool trans, const float *a, size_t lda, size_t i, size_t p)
{
        return trans ? a[p * lda + i] : a[i * lda + p];
}

static void pack_b(bool trans_b, const float *b, size_t ldb, size_t pc,
                   size_t kc, size_t jc, size_t nc, float *packed)
{
#pragma omp for schedule(static)
        for (size_t p = 0; p < kc; p++) {
                float *dst = packed + p * nc;
                if (!trans_b) {
                        memcpy(dst, b + (pc + p) * ldb + jc, nc * sizeof *dst);
                } else {
                        for (size_t j = 0; j < nc; j++)
                                dst[j] = b[(jc + j) * ldb + pc + p];
                }
        }
}

/* C[rows, cols] (+)= alpha * A[rows, pc:pc+kc] * packed[:, cols] */
static void update_tile(bool trans_a, const float *a, size_t lda, float alpha,
                        size_t i0, size_t rows, size_t pc, size_t kc,
                        const float *packed, size_t nc, size_t j0, size_t cols,
                        float *c, size_t ldc)
{
        for (size_t r = 0; r < rows; r += 2) {
                float *restrict c0 = c + (i0 + r) * ldc + j0;
                float *restrict c1 = r + 1 < rows ? c0 + ldc : NULL;
                for (size_t p = 0; p < kc; p++) {
                        const float *restrict bp = packed + p * nc + j0;
                        float a0 =
                                alpha * a_at(trans_a, a, lda, i0 + r, pc + p);
                        if (c1) {
                                float a1 = alpha * a_at(trans_a, a, lda,
                                                        i0 + r + 1, pc + p);
                                for (size_t j = 0; j < cols; j++) {
                                        c0[j] += a0 * bp[j];
                                        c1[j] += a1 * bp[j];
                                }
                        } else {
                                for (size_t j = 0; j < cols; j++)
                                        c0[j] += a0 * bp[j];
                        }
                }
        }
}

static void scale_c(size_t m, size_t n, float beta, float *c, size_t ldc)
{
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < m; i++) {
                float *row = c + i * ldc;
                if (beta == 0.0f)
                        memset(row, 0, n * sizeof *row);
                else if (beta != 1.0f)
                        for (size_t j = 0; j < n; j++)
                                row[j] *= beta;
        }
}

enum an_status sgemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                     float alpha, const float *a, size_t lda, const float *b,
                     size_t ldb, float beta, float *c, size_t ldc)
{
        if (m == 0 || n == 0)
                return AN_OK;
        scale_c(m, n, beta, c, ldc);
        if (k == 0 || alpha == 0.0f)
                return AN_OK;

        size_t panel_cols = n < NC ? n : NC;
        size_t panel_depth = k < KC ? k : KC;
        float *packed = malloc(panel_cols * panel_depth * sizeof *packed);
        if (!packed)
                return AN_E_NOMEM;

        for (size_t jc = 0; jc < n; jc += NC) {
                size_t nc = n - jc < NC ? n - jc : NC;
                for (size_t pc = 0; pc < k; pc += KC) {
                        size_t kc = k - pc < KC ? k - pc : KC;
                        size_t row_tasks = (m + ROWS - 1) / ROWS;
                        size_t col_tasks = (nc + COLS - 1) / COLS;
#pragma omp parallel
                        {
                                pack_b(trans_b, b, ldb, pc, kc, jc, nc, packed);
#pragma omp for collapse(2) schedule(static)
                                for (size_t rt = 0; rt < row_tasks; rt++)
                                        for (size_t ct = 0; ct < col_tasks;
                                             ct++) {
                                                size_t i0 = rt * ROWS;
                                                size_t j0 = ct * COLS;
                                                size_t rows = m - i0 < ROWS
                                                                      ? m - i0
                                                                      : ROWS;
                                                size_t cols = nc - j0 < COLS
                                                                      ? nc - j0
                                                                      : COLS;
                                                update_tile(trans_a, a, lda,
                                                            alpha, i0, rows, pc,
                                                            kc, packed, nc, j0,
                                                            cols, c + jc, ldc);
                                        }
                        }
                }
        }
        free(packed);
        return AN_OK;
}
