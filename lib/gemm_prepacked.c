/* Matrices packed once for the micro-kernel (a layer's weights at
 * inference), in float32 or bfloat16, and the products that use them: the
 * blocked driver of gemm.c for most shapes, and here a GEMV over the panels
 * for N <= SMALL_N (fully connected layers at batch 1 to 4), where the
 * product is bound by how fast the weights stream from memory, which is why
 * bfloat16 storage makes it about twice as fast. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "gemm_internal.h"
#include "half.h"

/* Sixteen floats, whatever the vector registers (GCC and Clang split or
 * map them onto what each target_clones variant has). */
typedef float v16f __attribute__((vector_size(64), aligned(4)));
typedef uint16_t v16h __attribute__((vector_size(32), aligned(2)));
typedef uint32_t v16u __attribute__((vector_size(64)));
enum { LANES = 16, UNROLL = 4 };

static size_t element_size(enum gemm_precision p)
{
        return p == GEMM_BF16 ? sizeof(uint16_t) : sizeof(float);
}

static size_t packed_elements(size_t m, size_t k, int mr)
{
        return packed_rows(m, mr) * k + PACKED_SLACK;
}

size_t packed_matrix_bytes(const struct packed_matrix *p)
{
        const struct gemm_kernel *kern = p->kernel;
        return p->data ? packed_elements(p->m, p->k, kern->mr) *
                                 element_size(p->precision)
                       : 0;
}

void packed_matrix_free(struct packed_matrix *p)
{
        free(p->data);
        memset(p, 0, sizeof *p);
}

/* Element (i, p) of A (zero below the last row) into its slot. */
static void store(void *data, enum gemm_precision precision, size_t at, float v)
{
        if (precision == GEMM_BF16)
                ((uint16_t *)data)[at] = f32_to_bf16(v);
        else
                ((float *)data)[at] = v;
}

enum an_status sgemm_pack(const float *a, size_t m, size_t k, size_t lda,
                          enum gemm_precision precision,
                          struct packed_matrix *out)
{
        const struct gemm_kernel *kern = gemm_kernel();
        size_t mr = (size_t)kern->mr, rows = packed_rows(m, kern->mr);
        memset(out, 0, sizeof *out);
        out->data = calloc(packed_elements(m, k, kern->mr),
                           element_size(precision));
        if (!out->data)
                return AN_E_NOMEM;
        out->m = m;
        out->k = k;
        out->precision = precision;
        out->kernel = kern;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < m; i++)
                for (size_t pc = 0; pc < k; pc += KC) {
                        size_t kc = k - pc < KC ? k - pc : KC;
                        size_t at = packed_offset(rows, pc, i / mr * mr, kc) +
                                    i % mr;
                        for (size_t p = 0; p < kc; p++)
                                store(out->data, precision, at + p * mr,
                                      a[i * lda + pc + p]);
                }
        return AN_OK;
}

/* LANES partial dot products of one kc-deep panel slice with column b:
 * sum[r] += sum over p of panel[p * mr + r] * b[p].  Lanes r >= mr read the
 * next rows of the panel (or the slack after it) and are ignored; UNROLL
 * independent sums hide the FMA latency. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
panel_dot_f32(const float *panel, size_t kc, size_t mr, const float *b,
              v16f *sum)
{
        v16f part[UNROLL] = {0};
        size_t p = 0;
        for (; p + UNROLL <= kc; p += UNROLL)
                for (int u = 0; u < UNROLL; u++)
                        part[u] += *(const v16f *)(panel + (p + u) * mr) *
                                   b[p + u];
        for (; p < kc; p++)
                part[0] += *(const v16f *)(panel + p * mr) * b[p];
        *sum += (part[0] + part[1]) + (part[2] + part[3]);
}

/* Sixteen bfloat16 as float32: the same bits in the upper half. */
#define WIDEN16(h)                                                             \
        ((v16f)(__builtin_convertvector(*(const v16h *)(h), v16u) << 16))

__attribute__((target_clones("avx512f", "avx2", "default"))) static void
panel_dot_bf16(const uint16_t *panel, size_t kc, size_t mr, const float *b,
               v16f *sum)
{
        v16f part[UNROLL] = {0};
        size_t p = 0;
        for (; p + UNROLL <= kc; p += UNROLL)
                for (int u = 0; u < UNROLL; u++)
                        part[u] += WIDEN16(panel + (p + u) * mr) * b[p + u];
        for (; p < kc; p++)
                part[0] += WIDEN16(panel + p * mr) * b[p];
        *sum += (part[0] + part[1]) + (part[2] + part[3]);
}

/* Rows row0.. of one panel (mr of them, `rows` real) times column j of
 * op(B) (bt: the columns, each k contiguous floats), every K slice. */
static void panel_column(const struct packed_matrix *a, size_t row0,
                         size_t rows, int mr, const float *bj, float *out)
{
        size_t all_rows = packed_rows(a->m, mr);
        v16f sum = {0};
        for (size_t pc = 0; pc < a->k; pc += KC) {
                size_t kc = a->k - pc < KC ? a->k - pc : KC;
                size_t at = packed_offset(all_rows, pc, row0, kc);
                if (a->precision == GEMM_BF16)
                        panel_dot_bf16((const uint16_t *)a->data + at, kc, mr,
                                       bj + pc, &sum);
                else
                        panel_dot_f32((const float *)a->data + at, kc, mr,
                                      bj + pc, &sum);
        }
        for (size_t r = 0; r < rows; r++)
                out[r] = sum[r];
}

/* C = epilogue(A B) for N <= SMALL_N, B's columns contiguous (bt). */
static void panel_gemv(const struct packed_matrix *a, size_t n, const float *bt,
                       float *c, size_t ldc, const struct gemm_epilogue *ep)
{
        const struct gemm_kernel *kern = a->kernel;
        int mr = kern->mr;
        size_t panels = packed_rows(a->m, mr) / mr;
#pragma omp parallel for schedule(static)
        for (size_t q = 0; q < panels; q++) {
                size_t row0 = q * mr;
                size_t rows =
                        a->m - row0 < (size_t)mr ? a->m - row0 : (size_t)mr;
                for (size_t j = 0; j < n; j++) {
                        float dot[LANES];
                        panel_column(a, row0, rows, mr, bt + j * a->k, dot);
                        for (size_t r = 0; r < rows; r++) {
                                float v = dot[r];
                                if (ep && ep->bias)
                                        v += ep->bias[row0 + r];
                                if (ep && ep->relu && v < 0.0f)
                                        v = 0.0f;
                                c[(row0 + r) * ldc + j] = v;
                        }
                }
        }
}

/* Columns of op(B) made contiguous for the GEMV, in a buffer kept by the
 * calling thread. */
static const float *columns_of(bool trans_b, size_t n, size_t k, const float *b,
                               size_t ldb)
{
        static _Thread_local float *buffer;
        static _Thread_local size_t have;
        if (trans_b && ldb == k)
                return b;
        if (have < n * k) {
                free(buffer);
                buffer = malloc(n * k * sizeof *buffer);
                have = buffer ? n * k : 0;
                if (!buffer)
                        return NULL;
        }
        for (size_t j = 0; j < n; j++)
                for (size_t p = 0; p < k; p++)
                        buffer[j * k + p] =
                                trans_b ? b[j * ldb + p] : b[p * ldb + j];
        return buffer;
}

enum an_status sgemm_prepacked(const struct packed_matrix *a, bool trans_b,
                               size_t n, const float *b, size_t ldb, float *c,
                               size_t ldc, const struct gemm_epilogue *ep)
{
        if (a->kernel != gemm_kernel())
                return AN_E_INVALID;
        if (n == 0 || a->m == 0)
                return AN_OK;
        if (n <= SMALL_N && a->k > 0) {
                const float *bt = columns_of(trans_b, n, a->k, b, ldb);
                if (!bt)
                        return AN_E_NOMEM;
                panel_gemv(a, n, bt, c, ldc, ep);
                return AN_OK;
        }
        if (a->k == 0)
                return sgemm_fused(false, trans_b, a->m, n, 0, 1.0f, NULL, 1, b,
                                   ldb, 0.0f, c, ldc, ep);
        struct a_operand op = {false, NULL, a->k, 1.0f, a};
        return gemm_blocked(&op, trans_b, a->m, n, a->k, b, ldb, 0.0f, c, ldc,
                            ep);
}
