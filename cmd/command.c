#include "command.h"
#include "escape.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

bool parse_long(const char *s, long lo, long hi, long *out)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < lo || v > hi)
                return false;
        *out = v;
        return true;
}

bool parse_double(const char *s, double lo, double hi, double *out)
{
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || *end || !(v >= lo && v <= hi))
                return false;
        *out = v;
        return true;
}

int options_count(const struct option_spec *options)
{
        int n = 0;
        while (options[n].kind != OPTION_END)
                n++;
        return n;
}

const char *option_name(const struct option_spec *o, char buf[64])
{
        if (o->long_name)
                snprintf(buf, 64, "--%s", o->long_name);
        else
                snprintf(buf, 64, "-%c", o->short_name);
        return buf;
}

/* ---- usage and help
 * ---------------------------------------------------------- */

int usage_error(const struct command *cmd, const char *fmt, ...)
{
        char line[1024], shown[4 * sizeof line];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        fprintf(stderr, "alexnet %s: %s\n", cmd->name,
                escape_into(shown, sizeof shown, line));
        fputs(cmd->usage, stderr);
        return EXIT_FATAL;
}

int print_help(const struct command *cmd)
{
        printf("%s\n%s\n", cmd->usage, cmd->about);
        options_print(stdout, cmd->options);
        if (cmd->epilogue)
                printf("\n%s", cmd->epilogue);
        return EXIT_ALL_DONE;
}

/* ---- values ------------------------------------------------------------ */

/* "paper, step or cosine" */
static void list_choices(const char *const *names, char *buf, size_t size)
{
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; names[i] && used < size; i++) {
                const char *sep = !i ? "" : names[i + 1] ? ", " : " or ";
                used += (size_t)snprintf(buf + used, size - used, "%s%s", sep,
                                         names[i]);
        }
}

/* What a value of o must be, for the error message. */
static void describe_wanted(const struct option_spec *o, char *buf, size_t size)
{
        switch (o->kind) {
        case OPTION_INT:
        case OPTION_LONG:
                snprintf(buf, size, "a whole number from %.0f to %.0f", o->min,
                         o->max);
                break;
        case OPTION_NUMBER:
                snprintf(buf, size, "a number from %g to %s%g", o->min,
                         o->below_max ? "below " : "", o->max);
                break;
        case OPTION_CHOICE: list_choices(o->choices, buf, size); break;
        default: snprintf(buf, size, "%s", o->wants ? o->wants : "a value");
        }
}

static bool store_value(const struct option_spec *o, const char *value)
{
        long l;
        double d;
        switch (o->kind) {
        case OPTION_STRING: *(const char **)o->target = value; return true;
        case OPTION_INT:
                if (!parse_long(value, (long)o->min, (long)o->max, &l))
                        return false;
                *(int *)o->target = (int)l;
                return true;
        case OPTION_LONG:
                return parse_long(value, (long)o->min, (long)o->max,
                                  (long *)o->target);
        case OPTION_NUMBER:
                if (!parse_double(value, o->min, o->max, &d) ||
                    (o->below_max && d >= o->max))
                        return false;
                *(double *)o->target = d;
                return true;
        case OPTION_CHOICE:
                for (int i = 0; o->choices[i]; i++)
                        if (!strcmp(o->choices[i], value)) {
                                *(int *)o->target = i;
                                return true;
                        }
                return false;
        case OPTION_CUSTOM: return o->parse(value, o->target);
        default: return false;
        }
}

/* ---- finding options ---------------------------------------------------- */

static const struct option_spec *find_short(const struct option_spec *options,
                                            char c)
{
        for (int i = 0; options[i].kind != OPTION_END; i++)
                if (options[i].short_name == c)
                        return &options[i];
        return NULL;
}

/* The option named name (len bytes), or the only one it abbreviates. */
static const struct option_spec *find_long(const struct option_spec *options,
                                           const char *name, size_t len,
                                           bool *ambiguous)
{
        const struct option_spec *found = NULL;
        int prefixes = 0;
        *ambiguous = false;
        for (int i = 0; options[i].kind != OPTION_END; i++) {
                const char *l = options[i].long_name;
                if (!l || strncmp(l, name, len))
                        continue;
                if (strlen(l) == len)
                        return &options[i];
                found = &options[i];
                prefixes++;
        }
        *ambiguous = prefixes > 1;
        return prefixes == 1 ? found : NULL;
}

/* ---- the parser ---------------------------------------------------------- */

struct parser {
        const struct command *cmd;
        int argc, next; /* argv[next] is the argument to read next */
        char **argv;
        bool *given;
};

/* Applies option o with its value (NULL for flags): 0 to go on, or
 * options_parse's -1 / -2. */
static int apply(struct parser *p, const struct option_spec *o,
                 const char *value, const char *typed)
{
        if (p->given)
                p->given[o - p->cmd->options] = true;
        if (o->kind == OPTION_HELP) {
                print_help(p->cmd);
                return -1;
        }
        if (o->kind == OPTION_FLAG) {
                *(bool *)o->target = true;
                return 0;
        }
        if (store_value(o, value))
                return 0;
        char wanted[160];
        describe_wanted(o, wanted, sizeof wanted);
        usage_error(p->cmd, "'%s' needs %s, not '%s'", typed, wanted, value);
        return -2;
}

/* The value of an option that takes one: attached, else the next
 * argument. */
static const char *take_value(struct parser *p, const char *attached)
{
        if (attached)
                return attached;
        return p->next < p->argc ? p->argv[p->next++] : NULL;
}

static int missing_value(struct parser *p, const char *typed)
{
        usage_error(p->cmd, "option '%s' needs a value", typed);
        return -2;
}

static int parse_long_option(struct parser *p, const char *arg)
{
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        bool ambiguous;
        const struct option_spec *o =
                find_long(p->cmd->options, name, len, &ambiguous);
        if (!o) {
                usage_error(p->cmd, "%s option '%.*s'",
                            ambiguous ? "ambiguous" : "unknown", (int)(len + 2),
                            arg);
                return -2;
        }
        char typed[64];
        option_name(o, typed);
        bool wants_value = o->value_name != NULL;
        if (!wants_value && eq) {
                usage_error(p->cmd, "option '%s' takes no value", typed);
                return -2;
        }
        const char *value =
                wants_value ? take_value(p, eq ? eq + 1 : NULL) : NULL;
        if (wants_value && !value)
                return missing_value(p, typed);
        return apply(p, o, value, typed);
}

/* -abc: flags clustered, the last may take a value (also -kVALUE). */
static int parse_short_options(struct parser *p, const char *arg)
{
        for (const char *c = arg + 1; *c; c++) {
                const struct option_spec *o = find_short(p->cmd->options, *c);
                char typed[3] = {'-', *c, '\0'};
                if (!o) {
                        /* -x.jpg from a glob: say how to name such a file */
                        bool file_like = strpbrk(arg, "./") != NULL;
                        usage_error(p->cmd, "%s '%s'%s",
                                    c == arg + 1 ? "unknown option"
                                                 : "unknown option in",
                                    arg,
                                    file_like ? " (a file? write ./NAME, or "
                                                "put it after --)"
                                              : "");
                        return -2;
                }
                if (!o->value_name) {
                        int rc = apply(p, o, NULL, typed);
                        if (rc)
                                return rc;
                        continue;
                }
                const char *value = take_value(p, c[1] ? c + 1 : NULL);
                if (!value)
                        return missing_value(p, typed);
                return apply(p, o, value, typed);
        }
        return 0;
}

int options_parse(const struct command *cmd, int argc, char **argv, bool *given)
{
        struct parser p = {cmd, argc, 1, argv, given};
        int operands = 0;
        bool only_operands = false;
        if (given)
                memset(given, 0,
                       (size_t)options_count(cmd->options) * sizeof *given);
        while (p.next < argc) {
                char *arg = argv[p.next++];
                int rc = 0;
                if (only_operands || arg[0] != '-' || !arg[1])
                        argv[1 + operands++] = arg; /* never ahead of next */
                else if (!strcmp(arg, "--"))
                        only_operands = true;
                else if (arg[1] == '-')
                        rc = parse_long_option(&p, arg);
                else
                        rc = parse_short_options(&p, arg);
                if (rc)
                        return rc;
        }
        return operands;
}

/* ---- help -----------------------------------------------------------------
 */

enum { HELP_COLUMN = 30 };

void options_print(FILE *out, const struct option_spec *options)
{
        for (int i = 0; options[i].kind != OPTION_END; i++) {
                const struct option_spec *o = &options[i];
                char left[96];
                int n = snprintf(left, sizeof left, "  ");
                if (o->short_name)
                        n += snprintf(left + n, sizeof left - n, "-%c%s",
                                      o->short_name, o->long_name ? ", " : "");
                else
                        n += snprintf(left + n, sizeof left - n, "    ");
                if (o->long_name)
                        n += snprintf(left + n, sizeof left - n, "--%s",
                                      o->long_name);
                if (o->value_name)
                        n += snprintf(left + n, sizeof left - n, " %s",
                                      o->value_name);
                const char *h = o->help;
                fputs(left, out);
                for (bool first = true; h;) {
                        const char *nl = strchr(h, '\n');
                        /* a long left part puts the help on its own line */
                        if (first && n >= HELP_COLUMN)
                                fputc('\n', out);
                        int width = first && n < HELP_COLUMN ? HELP_COLUMN - n
                                                             : HELP_COLUMN;
                        fprintf(out, "%*s%.*s\n", width, "",
                                nl ? (int)(nl - h) : (int)strlen(h), h);
                        h = nl ? nl + 1 : NULL;
                        first = false;
                }
        }
}
