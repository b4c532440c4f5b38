/* A subcommand as the dispatcher and the user see it: its name, usage,
 * help and option table, and the exit statuses every command returns.
 *
 * Options come from one table per command (the shape of git's
 * parse-options): the parser and the help's option list both read the
 * table, so they cannot disagree.
 *
 *     static int top = 5;
 *     static const struct option_spec options[] = {
 *             OPT_INT('k', "top", "K", "classes per image (default 5)",
 *                     &top, 1, 1 << 24),
 *             OPT_END,
 *     };
 *     int n = options_parse(&predict_command, options, argc, argv, given);
 *
 * Options may come anywhere among the operands (as GNU getopt permits),
 * long ones as --name VALUE, --name=VALUE or an unambiguous prefix, short
 * ones as -k VALUE, -kVALUE or clustered flags (-0q); "--" ends them.  A
 * bad option or value is reported naming the argument as typed. */
#ifndef ALEXNET_COMMAND_H
#define ALEXNET_COMMAND_H

#include <stdbool.h>
#include <stdio.h>

/* The design's exit statuses. */
enum {
        EXIT_ALL_DONE = 0,    /* every input was handled */
        EXIT_SOME_FAILED = 1, /* the run completed, some inputs failed */
        EXIT_FATAL = 2,       /* usage, model or I/O error stopped the run */
};

enum option_kind {
        OPTION_FLAG,   /* bool *, set by the option */
        OPTION_STRING, /* const char ** */
        OPTION_INT,    /* int * within [min, max] */
        OPTION_LONG,   /* long * within [min, max] */
        OPTION_NUMBER, /* double * within [min, max], or [min, max) */
        OPTION_CHOICE, /* int *: the index of the value in choices */
        OPTION_CUSTOM, /* parse(value, target) */
        OPTION_HELP,   /* -h, --help: prints the help */
        OPTION_END,
};

struct option_spec {
        enum option_kind kind;
        char short_name; /* 0: none */
        const char *long_name;
        const char *value_name; /* "N", "FILE"; NULL for flags */
        const char *help;       /* '\n' between lines */
        void *target;
        double min, max;
        bool below_max;             /* NUMBER: max itself is out of range */
        const char *const *choices; /* CHOICE: NULL-ended */
        bool (*parse)(const char *value, void *target); /* CUSTOM */
        const char *wants; /* CUSTOM: what a value must be, for errors */
};

#define OPT_FLAG(s, l, h, t)                                                   \
        {                                                                      \
                OPTION_FLAG, s, l, NULL, h, t, 0, 0, 0, 0, 0, 0                \
        }
#define OPT_STRING(s, l, v, h, t)                                              \
        {                                                                      \
                OPTION_STRING, s, l, v, h, t, 0, 0, 0, 0, 0, 0                 \
        }
#define OPT_INT(s, l, v, h, t, lo, hi)                                         \
        {                                                                      \
                OPTION_INT, s, l, v, h, t, lo, hi, 0, 0, 0, 0                  \
        }
#define OPT_LONG(s, l, v, h, t, lo, hi)                                        \
        {                                                                      \
                OPTION_LONG, s, l, v, h, t, lo, hi, 0, 0, 0, 0                 \
        }
#define OPT_NUMBER(s, l, v, h, t, lo, hi, below)                               \
        {                                                                      \
                OPTION_NUMBER, s, l, v, h, t, lo, hi, below, 0, 0, 0           \
        }
#define OPT_CHOICE(s, l, v, h, t, names)                                       \
        {                                                                      \
                OPTION_CHOICE, s, l, v, h, t, 0, 0, 0, names, 0, 0             \
        }
#define OPT_CUSTOM(s, l, v, h, t, fn, what)                                    \
        {                                                                      \
                OPTION_CUSTOM, s, l, v, h, t, 0, 0, 0, 0, fn, what             \
        }
#define OPT_HELP                                                               \
        {                                                                      \
                OPTION_HELP, 'h', "help", NULL, "show this help", 0, 0, 0, 0,  \
                        0, 0, 0                                                \
        }
#define OPT_END                                                                \
        {                                                                      \
                OPTION_END, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0                    \
        }

/* A subcommand: its help is its usage lines, what it does, its option
 * table and what follows. */
struct command {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary; /* one line for `alexnet --help` */
        const char *usage;   /* "usage: alexnet NAME ..." line(s) */
        const char *about;   /* what it does, its operands */
        const struct option_spec *options;
        const char *epilogue; /* after the options, or NULL */
};

/* Prints cmd's help to stdout; returns EXIT_ALL_DONE. */
int print_help(const struct command *cmd);

/* Prints "alexnet CMD: message" and the usage line(s) to stderr; returns
 * EXIT_FATAL for `return usage_error(...)`. */
int usage_error(const struct command *cmd, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Parses argv[1..argc) against cmd->options; the operands end up in
 * argv[1..n], in order, and n is returned.  given (may be NULL) gets, per
 * table row, whether the option appeared.  Returns -1 after --help (the
 * help is printed: exit 0) and -2 after a usage error (reported: exit 2). */
int options_parse(const struct command *cmd, int argc, char **argv,
                  bool *given);

/* The option list of the help, one row per option, its help beside it. */
void options_print(FILE *out, const struct option_spec *options);

/* Rows in a table (before OPT_END). */
int options_count(const struct option_spec *options);

/* The option's name as help shows it: "--lr" or "-b" when only short. */
const char *option_name(const struct option_spec *o, char buf[64]);

/* The one number parser: a whole number (strtol) or a number (strtod)
 * within [lo, hi], the whole string. */
bool parse_long(const char *s, long lo, long hi, long *out);
bool parse_double(const char *s, double lo, double hi, double *out);

#endif
