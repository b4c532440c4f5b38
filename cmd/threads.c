#include "threads.h"

#include <dirent.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool adaptive;
static int cores; /* the cores this process may use */

void threads_init(int requested)
{
        cores = omp_get_num_procs();
        if (requested > 0)
                omp_set_num_threads(requested);
        const char *env = getenv("OMP_NUM_THREADS");
        adaptive = requested <= 0 && !(env && *env);
        threads_adapt();
}

/* Runnable tasks in the whole system now: /proc/loadavg's "R/T" field;
 * -1 when unreadable. */
static int runnable_tasks(void)
{
        FILE *f = fopen("/proc/loadavg", "r");
        int running = -1;
        if (f) {
                if (fscanf(f, "%*f %*f %*f %d/", &running) != 1)
                        running = -1;
                fclose(f);
        }
        return running;
}

/* This process's threads that are running or runnable now. */
static int own_running_threads(void)
{
        DIR *d = opendir("/proc/self/task");
        int running = 0;
        for (struct dirent *e; d && (e = readdir(d));) {
                if (e->d_name[0] == '.')
                        continue;
                char path[64], line[512];
                snprintf(path, sizeof path, "/proc/self/task/%.20s/stat",
                         e->d_name);
                FILE *f = fopen(path, "r");
                if (!f)
                        continue;
                size_t n = fread(line, 1, sizeof line - 1, f);
                fclose(f);
                line[n] = '\0';
                const char *paren = strrchr(line, ')'); /* after the name */
                running += paren && paren[1] == ' ' && paren[2] == 'R';
        }
        if (d)
                closedir(d);
        return running > 0 ? running : 1; /* this one at least */
}

/* The cores free at one look. */
static int free_now(void)
{
        int all = runnable_tasks();
        if (all < 0)
                return cores;
        int others = all - own_running_threads();
        int free = cores - (others > 0 ? others : 0);
        return free < 1 ? 1 : free;
}

static double seconds_now(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec + t.tv_nsec * 1e-9;
}

int free_cores(void)
{
        /* One look at most every LOOK_EVERY seconds, and the most free
         * of the last LOOKS kept: a task that ran for a moment does not
         * count, a process that computes shows in all of them. */
        enum { LOOKS = 3 };
        static const double LOOK_EVERY = 0.02;
        static int seen[LOOKS], n;
        static double last = -1;
        if (cores < 1)
                cores = omp_get_num_procs();
        double t = seconds_now();
        if (last < 0 || t - last >= LOOK_EVERY) {
                seen[n++ % LOOKS] = free_now();
                last = t;
        }
        int best = 1;
        for (int i = 0; i < LOOKS && i < n; i++)
                best = seen[i] > best ? seen[i] : best;
        return best;
}

void threads_adapt(void)
{
        if (adaptive)
                omp_set_num_threads(free_cores());
}
