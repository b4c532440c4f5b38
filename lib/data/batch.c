#include "data/batch.h"

#include <string.h>

int batch_compact(float *x, size_t sample, int count, const bool *keep,
                  int *slot)
{
        int kept = 0;
        for (int i = 0; i < count; i++) {
                if (!keep[i]) {
                        if (slot)
                                slot[i] = -1;
                        continue;
                }
                if (kept != i)
                        memmove(x + (size_t)kept * sample,
                                x + (size_t)i * sample, sample * sizeof *x);
                if (slot)
                        slot[i] = kept;
                kept++;
        }
        return kept;
}
