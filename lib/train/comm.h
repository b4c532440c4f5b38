/* The processes of a training run (or of predict --eval) and what they
 * exchange.  Started by mpirun or srun, a build with MPI (configure
 * --with-mpi) joins the job's processes; alone, or in a build without MPI,
 * there is one process and every exchange leaves its data as it is.
 *
 *     struct comm c;
 *     comm_init(&c, &err);               // MPI_Init only when launched
 *     comm_broadcast(&c, weights, bytes, &err);   // rank 0's to all
 *     comm_sum_doubles(&c, counts, 3, &err);      // summed on every rank
 *     comm_finalize(&c);
 *
 * Every exchange is collective: each process must make the same calls in
 * the same order, or the job waits forever.  Calls come from one thread at
 * a time (the gradient reducer's thread while a step's gradients travel,
 * the main thread otherwise). */
#ifndef ALEXNET_COMM_H
#define ALEXNET_COMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"

struct comm {
        int rank, size;
        bool mpi;     /* MPI was initialised here */
        bool threads; /* MPI may be called from a second thread */
};

/* One process, alone: every exchange leaves its data as it is. */
struct comm comm_alone(void);

/* Joins the launcher's job (MPI_Init) when started by one; else one
 * process.  Fails when launched with more than one process and the build
 * has no MPI. */
enum an_status comm_init(struct comm *c, struct an_error *err);
void comm_finalize(struct comm *c);

/* Ends every process of the job with status (MPI_Abort); returns only
 * when alone. */
void comm_abort(const struct comm *c, int status);

/* buf on every process becomes rank 0's. */
enum an_status comm_broadcast(const struct comm *c, void *buf, size_t bytes,
                              struct an_error *err);

/* v[0..n) on every process becomes the sum of all processes' v. */
enum an_status comm_sum_doubles(const struct comm *c, double *v, size_t n,
                                struct an_error *err);
enum an_status comm_sum_u64(const struct comm *c, uint64_t *v, size_t n,
                            struct an_error *err);

/* The same for floats, sent as float32 when scratch is NULL, else as
 * bfloat16 (half the bytes, each partial sum rounded to bfloat16) through
 * scratch[0..n). */
enum an_status comm_sum_floats(const struct comm *c, float *v, size_t n,
                               uint16_t *scratch, struct an_error *err);

/* The first rank whose value differs from rank 0's, or -1: every process
 * gets the same answer. */
enum an_status comm_first_differing(const struct comm *c, uint64_t value,
                                    int *rank, struct an_error *err);

#endif
