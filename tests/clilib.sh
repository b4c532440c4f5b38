# Helpers for the shell tests.  Sourced; sets $out and $err to files that
# hold the last command's standard output and error.
set -u
tmp=$(mktemp -d "${TMPDIR:-/tmp}/alexnet-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=$tmp/stdout
err=$tmp/stderr
: "${ALEXNET:=./alexnet}"
: "${FIXTURES:=tests/fixtures}"

fail() {
        echo "FAIL: $*" >&2
        echo "--- stdout" >&2; head -20 "$out" >&2
        echo "--- stderr" >&2; head -20 "$err" >&2
        exit 1
}

# expect STATUS COMMAND...: runs COMMAND, fails unless it exits with STATUS.
expect() {
        want=$1
        shift
        "$@" >"$out" 2>"$err"
        got=$?
        [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want"
}

# A failing command must say one line on stderr, "alexnet: WHAT: ...".
one_line_error() {
        [ "$(wc -l <"$err")" -eq 1 ] || fail "expected one line on stderr"
        grep -q "^alexnet: $1: " "$err" || fail "stderr does not name $1"
}

pass() {
        exit 0
}
