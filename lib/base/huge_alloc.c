#include "base/huge_alloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *huge_alloc(size_t bytes, bool zero)
{
        enum { HUGE_PAGE = 2 << 20 };
        if (bytes < HUGE_PAGE)
                return zero ? calloc(1, bytes ? bytes : 1) : malloc(bytes);
        void *p = NULL;
        if (posix_memalign(&p, HUGE_PAGE, bytes) != 0)
                return NULL;
        /* advice only: without transparent huge pages this does nothing */
        madvise(p, bytes, MADV_HUGEPAGE);
        if (zero)
                memset(p, 0, bytes);
        return p;
}
