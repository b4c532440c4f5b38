#include "gemm/cpu_caches.h"

#include <stdio.h>
#include <unistd.h>

enum {
        KIB = 1024,
        /* What the smallest cores here have (Zen 3: 32 KiB L1d, 512 KiB L2) */
        GUESS_L1D = 32 * KIB,
        GUESS_L2 = 512 * KIB
};

static size_t clamp(size_t v, size_t lo, size_t hi, size_t guess)
{
        if (v == 0)
                return guess;
        return v < lo ? lo : v > hi ? hi : v;
}

/* Size of cache level `level` of type "Data" or "Unified" of cpu0 from
 * sysfs, in bytes; 0 when not found. */
static size_t sysfs_cache(int level)
{
        for (int i = 0; i < 8; i++) {
                char path[96], type[16] = "";
                int lvl = 0;
                unsigned long kib = 0;
                snprintf(path, sizeof path,
                         "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
                FILE *f = fopen(path, "r");
                if (!f)
                        return 0;
                int got = fscanf(f, "%d", &lvl);
                fclose(f);
                snprintf(path, sizeof path,
                         "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
                if (got != 1 || lvl != level || !(f = fopen(path, "r")))
                        continue;
                got = fscanf(f, "%15s", type);
                fclose(f);
                if (got != 1 || type[0] == 'I') /* Instruction */
                        continue;
                snprintf(path, sizeof path,
                         "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
                if (!(f = fopen(path, "r")))
                        continue;
                got = fscanf(f, "%luK", &kib);
                fclose(f);
                return got == 1 ? kib * KIB : 0;
        }
        return 0;
}

static size_t from_sysconf(int name)
{
#ifdef _SC_LEVEL1_DCACHE_SIZE
        long v = sysconf(name);
        return v > 0 ? (size_t)v : 0;
#else
        (void)name;
        return 0;
#endif
}

static struct cpu_caches read_caches(void)
{
        size_t l1d = 0, l2 = 0;
#ifdef _SC_LEVEL1_DCACHE_SIZE
        l1d = from_sysconf(_SC_LEVEL1_DCACHE_SIZE);
        l2 = from_sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
        if (!l1d)
                l1d = sysfs_cache(1);
        if (!l2)
                l2 = sysfs_cache(2);
        return (struct cpu_caches){clamp(l1d, 16 * KIB, 256 * KIB, GUESS_L1D),
                                   clamp(l2, 256 * KIB, 4096 * KIB, GUESS_L2)};
}

const struct cpu_caches *cpu_caches(void)
{
        static struct cpu_caches caches;
        static int once;
#pragma omp critical(cpu_caches)
        if (!once) {
                caches = read_caches();
                once = 1;
        }
        return &caches;
}
