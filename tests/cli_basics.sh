#!/bin/sh
# The command table: help, version, unknown commands and options.
. "${top_srcdir:-.}/tests/clilib.sh"

expect 0 "$ALEXNET" --help
grep -q '^usage: alexnet ' "$out" || fail "--help lacks the usage line"
grep -q '^  inspect ' "$out" || fail "--help does not list inspect"

expect 0 "$ALEXNET" --version
grep -Eq '^alexnet [0-9]+\.[0-9]+\.[0-9]+$' "$out" || fail "--version: $(cat "$out")"

expect 0 "$ALEXNET" help inspect
grep -q '^usage: alexnet inspect' "$out" || fail "help inspect"
expect 0 "$ALEXNET" inspect --help
grep -q '^usage: alexnet inspect' "$out" || fail "inspect --help"

expect 2 "$ALEXNET"
grep -q '^usage: alexnet' "$err" || fail "no arguments: no usage on stderr"
expect 2 "$ALEXNET" frobnicate
grep -q "'frobnicate' is not a command" "$err" || fail "unknown command"
expect 2 "$ALEXNET" help frobnicate
expect 2 "$ALEXNET" --frobnicate
grep -q "unknown option" "$err" || fail "unknown global option"
expect 2 "$ALEXNET" inspect --frobnicate alexnet
grep -q "unknown option '--frobnicate'" "$err" || fail "unknown inspect option"
grep -q '^usage: alexnet inspect' "$err" || fail "no usage after bad option"
expect 2 "$ALEXNET" inspect
expect 2 "$ALEXNET" inspect --classes
expect 2 "$ALEXNET" inspect --classes 0 alexnet
expect 2 "$ALEXNET" inspect alexnet alexnet-owt
pass
