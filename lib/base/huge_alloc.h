/* Large blocks (parameters, packed weights) on transparent huge pages
 * where the kernel allows it.  Filling 244 MB of fresh 4 KB pages costs
 * 60,000 page faults: on a virtual machine that was most of an F16
 * model's start-up (1.5 s; 0.3 s on 2 MB pages).  Free with free(). */
#ifndef ALEXNET_HUGE_ALLOC_H
#define ALEXNET_HUGE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* NULL when out of memory; zeroed when zero is set. */
void *huge_alloc(size_t bytes, bool zero);

#endif
