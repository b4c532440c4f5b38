#include "cli.h"
#include "escape.h"

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/atomic_file.h"

static int process_rank = -1;

void report_as_process(int rank)
{
        process_rank = rank;
}

int process_rank_of_job(void)
{
        return process_rank > 0 ? process_rank : 0;
}

void report(const char *what, const char *fmt, ...)
{
        /* One write per message, so that the processes of a job sharing
         * a terminal do not interleave within a line. */
        char line[4096], shown[4 * sizeof line], tag[32] = "";
        if (process_rank > 0)
                snprintf(tag, sizeof tag, "[%d]", process_rank);
        int n = snprintf(line, sizeof line, "%s: ", what);
        va_list ap;
        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < sizeof line)
                vsnprintf(line + n, sizeof line - n, fmt, ap);
        va_end(ap);
        /* Names escaped as stdout escapes them: a file name holding a
         * newline or an ESC byte keeps the message on one line and off
         * the terminal's controls. */
        /* on a terminal, over predict's progress line if one is there
         * (errno kept: a caller may still look at it) */
        int saved = errno;
        fprintf(stderr, "%salexnet%s: %s\n",
                isatty(STDERR_FILENO) ? "\r\033[K" : "", tag,
                escape_into(shown, sizeof shown, line));
        errno = saved;
}

int finish_output(int status)
{
        if (fflush(stdout) != 0 || ferror(stdout)) {
                /* A reader that went away (| head) is not an error to
                 * report; the run still did not complete. */
                if (errno != EPIPE)
                        report("standard output", "write error: %s",
                               strerror(errno));
                return EXIT_FATAL;
        }
        return status;
}

#ifndef ALEXNET_DATADIR
#define ALEXNET_DATADIR "/usr/local/share/alexnet"
#endif
#ifndef ALEXNET_BUILDDIR
#define ALEXNET_BUILDDIR ""
#define ALEXNET_SRCDIR   ""
#endif

/* Whether this binary is the one in the tree it was built in (./alexnet
 * before make install): its data files are then the tree's weights/. */
static bool running_from_build_tree(void)
{
        char exe[4096], *dir, *built;
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0 || !*ALEXNET_BUILDDIR)
                return false;
        exe[n] = '\0';
        *strrchr(exe, '/') = '\0';
        dir = realpath(exe, NULL);
        built = realpath(ALEXNET_BUILDDIR, NULL);
        bool same = dir && built && !strcmp(dir, built);
        free(dir);
        free(built);
        return same;
}

/* The first of dirs (NULL-ended, "" skipped) holding a readable name. */
static const char *first_readable(const char *const *dirs, const char *name)
{
        static char path[4096];
        for (int i = 0; dirs[i]; i++) {
                if (!*dirs[i])
                        continue;
                snprintf(path, sizeof path, "%s/%s", dirs[i], name);
                if (access(path, R_OK) == 0)
                        return path;
        }
        return NULL;
}

/* Where data files are looked for: $ALEXNET_DATADIR alone when set;
 * otherwise a build tree's weights/ (build, then source) before the
 * installed data directory, so that ./alexnet uses its own files. */
static const char *const *data_dirs(void)
{
        static const char *dirs[4];
        const char *env = getenv("ALEXNET_DATADIR");
        bool tree = !(env && *env) && running_from_build_tree();
        dirs[0] = env && *env ? env : tree ? ALEXNET_BUILDDIR "/weights" : "";
        dirs[1] = tree ? ALEXNET_SRCDIR "/weights" : "";
        dirs[2] = env && *env ? NULL : ALEXNET_DATADIR;
        dirs[3] = NULL;
        return dirs;
}

const char *default_model_path(void)
{
        const char *env = getenv("ALEXNET_MODEL");
        if (env && *env)
                return env;
        return first_readable(data_dirs(), "default.safetensors");
}

const char *data_file_path(const char *name)
{
        return first_readable(data_dirs(), name);
}

int report_no_model(void)
{
        report("no model",
               "give -m MODEL or set ALEXNET_MODEL; or install the default "
               "(%s/default.safetensors) with alexnet-fetch-weights; see "
               "'alexnet help predict'",
               running_from_build_tree() ? ALEXNET_BUILDDIR "/weights"
                                         : ALEXNET_DATADIR);
        return EXIT_FATAL;
}

static void remove_partial_and_die(int sig)
{
        atomic_file_remove_partial();
        signal(sig, SIG_DFL);
        raise(sig);
}

void remove_partial_output_on_signals(void)
{
        /* Every signal whose default ends the process and that a user,
         * a closed pipe or a timer may send. */
        static const int signals[] = {SIGINT,  SIGTERM, SIGHUP,
                                      SIGQUIT, SIGPIPE, SIGALRM,
                                      SIGUSR1, SIGUSR2, SIGVTALRM};
        for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
                signal(signals[i], remove_partial_and_die);
        /* Past a file size limit (ulimit -f) the write fails with EFBIG
         * instead, which is reported and cleaned up like a full disk. */
        signal(SIGXFSZ, SIG_IGN);
}
