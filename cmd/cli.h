/* Shared by the subcommands: the command table's entries, and the one way
 * errors reach the user ("alexnet: WHAT: message" on stderr). */
#ifndef ALEXNET_CLI_H
#define ALEXNET_CLI_H

#include "base/errors.h"

#include "command.h"

extern const struct command convert_command;
extern const struct command inspect_command;
extern const struct command predict_command;
extern const struct command train_command;

/* Prints "alexnet: what: message" to stderr, as one write; from process
 * N > 0 of a distributed job "alexnet[N]: what: message". */
void report(const char *what, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* This process's rank in a distributed job, for report's tag. */
void report_as_process(int rank);
/* That rank (0 outside a job). */
int process_rank_of_job(void);

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

/* From now on the signals that end a process (SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2, SIGVTALRM) remove the
 * temporary file of an output being written before they end it, and
 * SIGXFSZ is ignored (the write then fails with EFBIG, reported as an
 * error), so an interrupted command leaves neither a partial file nor
 * litter beside it. */
void remove_partial_output_on_signals(void);

#endif
