#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void report(const char *what, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "alexnet: %s: ", what);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

void report_error(const char *what, const struct an_error *err)
{
        report(what, "%s", err->message);
}

/* The usage lines are the help text's opening lines up to the first blank
 * line. */
static void print_usage_lines(FILE *out, const char *help)
{
        const char *end = strstr(help, "\n\n");
        fprintf(out, "%.*s\n", end ? (int)(end - help) : (int)strlen(help),
                help);
}

int usage_error(const struct command *cmd, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "alexnet %s: ", cmd->name);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        print_usage_lines(stderr, cmd->help);
        return EXIT_FATAL;
}

int print_help(const struct command *cmd)
{
        fputs(cmd->help, stdout);
        return EXIT_ALL_DONE;
}

int finish_output(int status)
{
        if (fflush(stdout) != 0 || ferror(stdout)) {
                report("standard output", "write error: %s", strerror(errno));
                return EXIT_FATAL;
        }
        return status;
}
