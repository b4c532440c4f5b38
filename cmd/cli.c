#include "cli.h"
#include "escape.h"

#include <errno.h>
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
        fprintf(stderr, "alexnet%s: %s\n", tag,
                escape_into(shown, sizeof shown, line));
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
#define DEFAULT_MODEL ALEXNET_DATADIR "/default.safetensors"

const char *default_model_path(void)
{
        const char *env = getenv("ALEXNET_MODEL");
        if (env && *env)
                return env;
        return access(DEFAULT_MODEL, F_OK) == 0 ? DEFAULT_MODEL : NULL;
}

const char *data_file_path(const char *name)
{
        static char path[4096];
        const char *dir = getenv("ALEXNET_DATADIR");
        snprintf(path, sizeof path, "%s/%s",
                 dir && *dir ? dir : ALEXNET_DATADIR, name);
        return access(path, R_OK) == 0 ? path : NULL;
}

int report_no_model(void)
{
        report("no model",
               "give -m MODEL or set ALEXNET_MODEL; or install the default "
               "(%s), see 'man alexnet-predict'",
               DEFAULT_MODEL);
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
