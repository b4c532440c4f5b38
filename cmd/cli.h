/* Shared by the subcommands: the command table's entries, exit statuses, and
 * the one way errors reach the user ("alexnet: WHAT: message" on stderr). */
#ifndef ALEXNET_CLI_H
#define ALEXNET_CLI_H

#include "base/errors.h"

/* The design's exit statuses. */
enum {
        EXIT_ALL_DONE = 0,    /* every input was handled */
        EXIT_SOME_FAILED = 1, /* the run completed, some inputs failed */
        EXIT_FATAL = 2,       /* usage, model or I/O error stopped the run */
};

struct command {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary; /* one line for `alexnet --help` */
        const char *help;    /* usage line(s) and options */
};

extern const struct command convert_command;
extern const struct command inspect_command;
extern const struct command predict_command;
extern const struct command train_command;

/* Prints "alexnet: what: message" to stderr. */
void report(const char *what, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void report_error(const char *what, const struct an_error *err);

/* Prints "alexnet CMD: message" and the usage line(s) to stderr; returns
 * EXIT_FATAL for `return usage_error(...)`. */
int usage_error(const struct command *cmd, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Flushes stdout; a failed write (full disk, closed pipe) is reported and
 * turns status into EXIT_FATAL. */
int finish_output(int status);

/* The model to use when -m is absent: $ALEXNET_MODEL, else the installed
 * default if it exists; NULL when there is none. */
const char *default_model_path(void);
/* A file of the package's data directory ($ALEXNET_DATADIR, else the
 * installed one), or NULL if it does not exist there. */
const char *data_file_path(const char *name);

/* Says how to get a model; returns EXIT_FATAL. */
int report_no_model(void);

/* The usage error for what getopt_long returned as c (':' for a missing
 * value, anything else for an unknown option); returns EXIT_FATAL. */
int option_error(const struct command *cmd, int c, char **argv);

/* From now on SIGINT, SIGTERM and SIGHUP remove the temporary file of an
 * output being written before they end the process, so an interrupted
 * command leaves neither a partial file nor litter beside it. */
void remove_partial_output_on_signals(void);

/* Prints cmd's help to stdout; returns EXIT_ALL_DONE. */
int print_help(const struct command *cmd);

#endif
