#!/bin/sh
# The command table and the option parser: help, version, unknown commands
# and options, values checked and blamed as typed, --help from the table.
. "${top_srcdir:-.}/tests/clilib.sh"

main_help() {
        expect 0 "$ALEXNET" --help
        grep -q '^usage: alexnet ' "$out" || fail "--help lacks the usage line"
        grep -q '^  inspect ' "$out" || fail "--help does not list inspect"
        expect 0 "$ALEXNET" --version
        grep -Eq '^alexnet [0-9]+\.[0-9]+\.[0-9]+$' "$out" || fail "--version: $(cat "$out")"
}
test_expect "alexnet --help lists the commands; --version" main_help

command_help() {
        expect 0 "$ALEXNET" help inspect
        grep -q '^usage: alexnet inspect' "$out" || fail "help inspect"
        expect 0 "$ALEXNET" inspect --help
        grep -q '^usage: alexnet inspect' "$out" || fail "inspect --help"
        grep -q '^  -c, --classes N  *outputs of a preset' "$out" || fail "option row"
        for cmd in convert inspect predict train; do
                expect 0 "$ALEXNET" help "$cmd"
                grep -q '^  -h, --help  *show this help$' "$out" || fail "$cmd: --help row"
        done
}
test_expect "help COMMAND and COMMAND --help show the option table" command_help

every_option_in_help_parses() {
        # each option the help lists is one the parser takes
        for cmd in convert inspect predict train; do
                "$ALEXNET" help "$cmd" | grep -oE '^  (-[a-z0-9], )?--[a-z-]+' |
                        sed 's/.*--/--/' >"$tmp/opts"
                while read -r opt; do
                        "$ALEXNET" "$cmd" "$opt" </dev/null >"$out" 2>"$err"
                        grep -q "unknown option" "$err" &&
                                fail "$cmd $opt: listed but unknown"
                done <"$tmp/opts"
        done
        true
}
test_expect "every option the help lists is one the parser knows" every_option_in_help_parses

unknown_commands() {
        expect 2 "$ALEXNET"
        grep -q '^usage: alexnet' "$err" || fail "no arguments: no usage on stderr"
        expect 2 "$ALEXNET" frobnicate
        grep -q "'frobnicate' is not a command" "$err" || fail "unknown command"
        expect 2 "$ALEXNET" help frobnicate
        expect 2 "$ALEXNET" --frobnicate
        grep -q "unknown option" "$err" || fail "unknown global option"
}
test_expect "unknown commands and global options are usage errors" unknown_commands

bad_options() {
        expect 2 "$ALEXNET" inspect --frobnicate alexnet
        grep -q "unknown option '--frobnicate'" "$err" || fail "unknown inspect option"
        grep -q '^usage: alexnet inspect' "$err" || fail "no usage after bad option"
        expect 2 "$ALEXNET" inspect
        expect 2 "$ALEXNET" inspect --classes
        grep -q "option '--classes' needs a value" "$err" || fail "missing value"
        expect 2 "$ALEXNET" inspect --classes 0 alexnet
        grep -q "'--classes' needs a whole number from 1 to 16777216, not '0'" "$err" ||
                fail "range message"
        expect 2 "$ALEXNET" inspect alexnet alexnet-owt
        expect 2 "$ALEXNET" inspect --json=yes alexnet
        grep -q "option '--json' takes no value" "$err" || fail "flag with a value"
}
test_expect "bad options and values are refused, naming them" bad_options

blames_the_argument_as_typed() {
        # a file name starting with '-' (a glob's result) is the one blamed
        expect 2 "$ALEXNET" predict -m "$tmp/none" -k 1 -x.jpg
        grep -q "unknown option '-x.jpg'" "$err" || fail "blames -x.jpg"
        expect 2 "$ALEXNET" predict -k 1 -f yaml a.jpg
        grep -q "'-f' needs text, tsv, json or npy, not 'yaml'" "$err" || fail "choice message"
}
test_expect "an unknown option is named as typed, not the one before it" blames_the_argument_as_typed

option_forms() {
        # --name=value, unambiguous prefixes, -kVALUE, options after
        # operands, and "--" before operands that start with '-'
        expect 0 "$ALEXNET" inspect --classes=10 alexnet-half
        grep -Eq '^classifier.6 +linear .* \[-1, 10\] ' "$out" || fail "--classes=10"
        expect 0 "$ALEXNET" inspect --cla 10 alexnet-half
        grep -Eq '^classifier.6 +linear .* \[-1, 10\] ' "$out" || fail "--cla prefix"
        expect 0 "$ALEXNET" inspect -c10 alexnet-half
        grep -Eq '^classifier.6 +linear .* \[-1, 10\] ' "$out" || fail "-c10"
        expect 0 "$ALEXNET" inspect alexnet-half --json
        grep -q '"params"' "$out" || fail "option after the operand"
        expect 2 "$ALEXNET" inspect -- --json
        one_line_error --json
}
test_expect "options as --name=value, prefixes, -kVALUE, after operands, and --" option_forms

test_done
