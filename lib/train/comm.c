#include "train/comm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "base/half.h"

#ifdef HAVE_MPI
#include <mpi.h>
#endif

/* The variables launchers set for each process they start, with the job's
 * size: Open MPI, MPICH and Intel MPI (and Slurm's PMI-2), MVAPICH, and
 * Slurm's srun itself. */
static const char *const launcher_size_vars[] = {
        "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE",
        "SLURM_STEP_NUM_TASKS", NULL};

struct comm comm_alone(void)
{
        return (struct comm){0, 1, false, true};
}

#ifdef HAVE_MPI

/* The bfloat16 sum, made once per process by comm_init. */
static MPI_Op bf16_sum_op = MPI_OP_NULL;

static void bf16_sum(void *in, void *inout, int *len, MPI_Datatype *type);

static bool launched(void)
{
        for (int i = 0; launcher_size_vars[i]; i++)
                if (getenv(launcher_size_vars[i]))
                        return true;
        return false;
}

static enum an_status mpi_failed(int code, const char *what,
                                 struct an_error *err)
{
        char text[MPI_MAX_ERROR_STRING];
        int len = 0;
        if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
                snprintf(text, sizeof text, "error %d", code);
        return an_error_set(err, AN_E_IO, "MPI %s: %s", what, text);
}

enum an_status comm_init(struct comm *c, struct an_error *err)
{
        *c = comm_alone();
        c->threads = false;
        if (!launched())
                return AN_OK;
        int provided = MPI_THREAD_SINGLE;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
        if (rc != MPI_SUCCESS)
                return mpi_failed(rc, "initialisation", err);
        /* Failures come back as codes, so that a message can say what was
         * being done; the caller then ends the job. */
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c->size);
        c->mpi = true;
        c->threads = provided >= MPI_THREAD_SERIALIZED;
        rc = MPI_Op_create(bf16_sum, 1, &bf16_sum_op);
        return rc == MPI_SUCCESS ? AN_OK : mpi_failed(rc, "reduction", err);
}

void comm_finalize(struct comm *c)
{
        if (c->mpi && bf16_sum_op != MPI_OP_NULL)
                MPI_Op_free(&bf16_sum_op);
        if (c->mpi)
                MPI_Finalize();
        c->mpi = false;
}

void comm_abort(const struct comm *c, int status)
{
        if (c->mpi && c->size > 1)
                MPI_Abort(MPI_COMM_WORLD, status);
}

/* MPI counts are ints: large buffers go in pieces. */
enum { PIECE = 1 << 28 };

enum an_status comm_broadcast(const struct comm *c, void *buf, size_t bytes,
                              struct an_error *err)
{
        for (size_t done = 0; c->size > 1 && done < bytes; done += PIECE) {
                size_t n = bytes - done < PIECE ? bytes - done : PIECE;
                int rc = MPI_Bcast((char *)buf + done, (int)n, MPI_BYTE, 0,
                                   MPI_COMM_WORLD);
                if (rc != MPI_SUCCESS)
                        return mpi_failed(rc, "broadcast", err);
        }
        return AN_OK;
}

static enum an_status sum_in_place(const struct comm *c, void *v, size_t n,
                                   size_t size, MPI_Datatype type, MPI_Op op,
                                   struct an_error *err)
{
        for (size_t done = 0; c->size > 1 && done < n; done += PIECE) {
                size_t k = n - done < PIECE ? n - done : PIECE;
                int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)v + done * size,
                                       (int)k, type, op, MPI_COMM_WORLD);
                if (rc != MPI_SUCCESS)
                        return mpi_failed(rc, "allreduce", err);
        }
        return AN_OK;
}

enum an_status comm_sum_doubles(const struct comm *c, double *v, size_t n,
                                struct an_error *err)
{
        return sum_in_place(c, v, n, sizeof *v, MPI_DOUBLE, MPI_SUM, err);
}

enum an_status comm_sum_u64(const struct comm *c, uint64_t *v, size_t n,
                            struct an_error *err)
{
        return sum_in_place(c, v, n, sizeof *v, MPI_UINT64_T, MPI_SUM, err);
}

/* The reduction of bfloat16 vectors: each sum rounded to bfloat16. */
static void bf16_sum(void *in, void *inout, int *len, MPI_Datatype *type)
{
        (void)type;
        const uint16_t *a = in;
        uint16_t *b = inout;
        for (int i = 0; i < *len; i++)
                b[i] = f32_to_bf16(bf16_to_f32(a[i]) + bf16_to_f32(b[i]));
}

enum an_status comm_sum_floats(const struct comm *c, float *v, size_t n,
                               uint16_t *scratch, struct an_error *err)
{
        if (c->size < 2)
                return AN_OK;
        if (!scratch)
                return sum_in_place(c, v, n, sizeof *v, MPI_FLOAT, MPI_SUM,
                                    err);
        for (size_t i = 0; i < n; i++)
                scratch[i] = f32_to_bf16(v[i]);
        enum an_status st = sum_in_place(c, scratch, n, sizeof *scratch,
                                         MPI_UINT16_T, bf16_sum_op, err);
        for (size_t i = 0; st == AN_OK && i < n; i++)
                v[i] = bf16_to_f32(scratch[i]);
        return st;
}

enum an_status comm_first_differing(const struct comm *c, uint64_t value,
                                    int *rank, struct an_error *err)
{
        *rank = -1;
        if (c->size < 2)
                return AN_OK;
        uint64_t *all = malloc((size_t)c->size * sizeof *all);
        if (!all)
                return an_error_set(err, AN_E_NOMEM, "out of memory");
        int rc = MPI_Allgather(&value, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T,
                               MPI_COMM_WORLD);
        for (int r = 1; rc == MPI_SUCCESS && r < c->size && *rank < 0; r++)
                if (all[r] != all[0])
                        *rank = r;
        free(all);
        return rc == MPI_SUCCESS ? AN_OK : mpi_failed(rc, "allgather", err);
}

#else /* no MPI: one process */

/* How many processes the launcher (mpirun, srun, mpiexec) started, read
 * from the environment it sets; 1 when not started by one. */
static int launched_size(void)
{
        for (int i = 0; launcher_size_vars[i]; i++) {
                const char *v = getenv(launcher_size_vars[i]);
                long n = v ? strtol(v, NULL, 10) : 0;
                if (n > 1)
                        return n < INT_MAX ? (int)n : INT_MAX;
        }
        return 1;
}

enum an_status comm_init(struct comm *c, struct an_error *err)
{
        *c = comm_alone();
        int n = launched_size();
        if (n > 1)
                return an_error_set(err, AN_E_UNSUPPORTED,
                                    "started as one of %d processes, but this "
                                    "build has no MPI support (configure "
                                    "--with-mpi)",
                                    n);
        return AN_OK;
}

void comm_finalize(struct comm *c)
{
        c->mpi = false;
}

void comm_abort(const struct comm *c, int status)
{
        (void)c;
        (void)status;
}

enum an_status comm_broadcast(const struct comm *c, void *buf, size_t bytes,
                              struct an_error *err)
{
        (void)c, (void)buf, (void)bytes, (void)err;
        return AN_OK;
}

enum an_status comm_sum_doubles(const struct comm *c, double *v, size_t n,
                                struct an_error *err)
{
        (void)c, (void)v, (void)n, (void)err;
        return AN_OK;
}

enum an_status comm_sum_u64(const struct comm *c, uint64_t *v, size_t n,
                            struct an_error *err)
{
        (void)c, (void)v, (void)n, (void)err;
        return AN_OK;
}

enum an_status comm_sum_floats(const struct comm *c, float *v, size_t n,
                               uint16_t *scratch, struct an_error *err)
{
        (void)c, (void)v, (void)n, (void)scratch, (void)err;
        return AN_OK;
}

enum an_status comm_first_differing(const struct comm *c, uint64_t value,
                                    int *rank, struct an_error *err)
{
        (void)c, (void)value, (void)err;
        *rank = -1;
        return AN_OK;
}

#endif
