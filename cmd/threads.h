/* How many compute threads, and how they wait: chosen for a machine that
 * may be busy.
 *
 * Waiting.  Between parallel regions OpenMP's threads wait for the next
 * one; GCC's libgomp spins 300,000 turns first by default, LLVM's libomp
 * for 200 ms.  On a busy machine a spinning thread burns the time slice
 * its descheduled sibling needed to reach the barrier.  Unless the user
 * chose (OMP_WAIT_POLICY, GOMP_SPINCOUNT, KMP_BLOCKTIME), the spin is
 * bounded to THREADS_SPIN_COUNT turns (libgomp) or THREADS_BLOCK_MS
 * (libomp), then the thread sleeps.  libgomp reads its environment when it
 * is loaded, before main, so the process starts itself again once (execv
 * of /proc/self/exe, same arguments) with that in its environment.
 *
 * How many.  A parallel region runs at the pace of its slowest thread: a
 * thread that shares its core with another busy process makes every
 * layer wait for it, so on a machine whose cores are taken two threads
 * are slower than one.  Unless the user chose (-j, OMP_NUM_THREADS), the
 * number is taken again before each batch (predict) or step (train): the
 * cores this process may use less the runnable tasks of other processes
 * (/proc/loadavg's running count, less this process's own running
 * threads), at least one; the most free of the last three looks, taken at
 * most every 20 ms.  Results do not depend on it: every reduction
 * has a fixed order (the tests check thread invariance). */
#ifndef ALEXNET_THREADS_H
#define ALEXNET_THREADS_H

#define THREADS_SPIN_COUNT "10000"
#define THREADS_BLOCK_MS "0"

/* Returns only when the process already runs with a waiting policy (the
 * user's or ours), or could not start itself again. */
void bound_spin_waiting(char **argv);

/* requested: -j, or 0 for none.  With -j or OMP_NUM_THREADS the number is
 * fixed; otherwise threads_adapt follows the free cores. */
void threads_init(int requested);

/* Sets the threads of the next parallel regions to the cores free now
 * (nothing when the number is fixed). */
void threads_adapt(void);

/* The cores free lately, from 1 to the cores this process may use. */
int free_cores(void);

#endif
