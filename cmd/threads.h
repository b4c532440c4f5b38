/* How many compute threads, chosen for a machine that may be busy.
 *
 * A parallel region runs at the pace of its slowest thread: a thread that
 * shares its core with another busy process makes every layer wait for
 * it, and while it waits its siblings spin at the barrier (GCC's libgomp
 * spins 300,000 turns before it sleeps), taking the time slices the
 * others needed; so on a machine whose cores are taken two threads are
 * slower than one, up to several times.
 *
 * Unless the user chose (-j, OMP_NUM_THREADS), the number is taken again
 * before each batch (predict) or step (train): the cores this process may
 * use less the runnable tasks of other processes (/proc/loadavg's running
 * count, less this process's own running threads), at least one; the
 * most free of the last three looks, taken at most every 20 ms.  Results
 * do not depend on it: every reduction has a fixed order (the tests check
 * thread invariance). */
#ifndef ALEXNET_THREADS_H
#define ALEXNET_THREADS_H

/* requested: -j, or 0 for none.  With -j or OMP_NUM_THREADS the number is
 * fixed; otherwise threads_adapt follows the free cores. */
void threads_init(int requested);

/* Sets the threads of the next parallel regions to the cores free now
 * (nothing when the number is fixed). */
void threads_adapt(void);

/* The cores free lately, from 1 to the cores this process may use. */
int free_cores(void);

#endif
