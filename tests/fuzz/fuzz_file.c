/* In-memory files for harnesses whose parsers take a path (see fuzz.h). */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

enum { SLOTS = 2 };

const char *fuzz_file(int slot, const uint8_t *data, size_t size)
{
        static int fd[SLOTS] = {-1, -1};
        static char path[SLOTS][40];
        if (slot < 0 || slot >= SLOTS)
                return NULL;
        if (fd[slot] < 0) {
                fd[slot] = memfd_create("alexnet-fuzz", MFD_CLOEXEC);
                if (fd[slot] < 0)
                        return NULL;
                snprintf(path[slot], sizeof path[slot], "/proc/self/fd/%d",
                         fd[slot]);
        }
        if (ftruncate(fd[slot], 0) != 0)
                return NULL;
        size_t done = 0;
        while (done < size) {
                ssize_t n =
                        pwrite(fd[slot], data + done, size - done, (off_t)done);
                if (n <= 0)
                        return NULL;
                done += (size_t)n;
        }
        return path[slot];
}
