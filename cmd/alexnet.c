/* alexnet: the command table and dispatch.  Each subcommand lives in its own
 * file as a `struct command` (see command.h); adding one is a new file, a row
 * in `commands` below, its man page and its tests. */
#include <stdio.h>
#include <string.h>

#include "base/mapped_file.h"
#include "cli.h"
#include "config.h"

static const struct command *const commands[] = {
        &convert_command,
        &inspect_command,
        &predict_command,
        &train_command,
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static const char main_usage[] =
        "usage: alexnet [--version] [--help] COMMAND [ARGS...]\n";

static void print_main_help(FILE *out)
{
        fputs(main_usage, out);
        fputs("\nClassify images with AlexNet and train AlexNet-family "
              "networks on multicore CPUs.\n\ncommands:\n",
              out);
        for (int i = 0; i < N_COMMANDS; i++)
                fprintf(out, "  %-10s %s\n", commands[i]->name,
                        commands[i]->summary);
        fputs("\n'alexnet help COMMAND' or 'alexnet COMMAND --help' shows a "
              "command's options;\n'man alexnet-COMMAND' tells more "
              "once installed.\n",
              out);
}

static const struct command *find_command(const char *name)
{
        for (int i = 0; i < N_COMMANDS; i++)
                if (!strcmp(commands[i]->name, name))
                        return commands[i];
        return NULL;
}

static int unknown_command(const char *name)
{
        fprintf(stderr,
                "alexnet: '%s' is not a command (see 'alexnet "
                "--help')\n",
                name);
        fputs(main_usage, stderr);
        return EXIT_FATAL;
}

static int help(int argc, char **argv)
{
        if (argc < 2) {
                print_main_help(stdout);
                return EXIT_ALL_DONE;
        }
        const struct command *cmd = find_command(argv[1]);
        return cmd ? print_help(cmd) : unknown_command(argv[1]);
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fputs(main_usage, stderr);
                return EXIT_FATAL;
        }
        const char *first = argv[1];
        if (!strcmp(first, "--help") || !strcmp(first, "-h")) {
                print_main_help(stdout);
                return EXIT_ALL_DONE;
        }
        if (!strcmp(first, "--version") || !strcmp(first, "-V")) {
                printf("alexnet %s\n", PACKAGE_VERSION);
                return EXIT_ALL_DONE;
        }
        if (!strcmp(first, "help"))
                return help(argc - 1, argv + 1);
        if (first[0] == '-') {
                fprintf(stderr, "alexnet: unknown option '%s'\n", first);
                fputs(main_usage, stderr);
                return EXIT_FATAL;
        }
        const struct command *cmd = find_command(first);
        if (!cmd)
                return unknown_command(first);
        /* A model file truncated by another program while mapped becomes
         * an error the commands report, not a silent SIGBUS death. */
        struct an_error err;
        if (mapped_file_guard_sigbus(&err) != AN_OK) {
                fprintf(stderr, "alexnet: %s\n", err.message);
                return EXIT_FATAL;
        }
        return cmd->run(argc - 1, argv + 1);
}
