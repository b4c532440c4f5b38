/* The data caches of the CPU this runs on, for choosing block sizes: the
 * core's L1 data cache and L2, as the C library reads them from cpuid
 * (sysconf), else from sysfs, else a conservative guess; clamped to
 * plausible sizes (a virtual machine's cpuid can report anything: one
 * here gave a 508 MiB L3).  The L3 is not used: it is shared, and what a
 * core gets of it depends on its neighbours. */
#ifndef ALEXNET_CPU_CACHES_H
#define ALEXNET_CPU_CACHES_H

#include <stddef.h>

struct cpu_caches {
        size_t l1d, l2; /* bytes, per core */
};

/* Read once, on first call; thread-safe after that. */
const struct cpu_caches *cpu_caches(void);

#endif
