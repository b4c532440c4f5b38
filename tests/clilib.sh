# Helpers for the shell tests.  Sourced; sets $out and $err to files that
# hold the last command's standard output and error.
#
# A script is a list of named behaviours, as in git's t/:
#
#     csv_log() { expect 0 "$ALEXNET" train ...; grep -q ... || fail "..."; }
#     test_expect "train writes a CSV line per epoch" csv_log
#     ...
#     test_done
#
# Each runs in a subshell, so a failure ("fail" exits it) is reported with
# its title and output and the next one still runs; test_done exits 1 if
# any failed.  Files persist between them; shell variables do not.
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

# train_folder DIR: a tiny ImageFolder of the fixture images, three
# classes of four (PNGs of every colour type, JPEGs baseline, progressive,
# grey, CMYK and with EXIF orientations) and one truncated JPEG.
train_folder() {
        mkdir -p "$1/apple" "$1/banana" "$1/cherry"
        cp "$FIXTURES"/images/rgb8.png "$FIXTURES"/images/rgba8.png \
                "$FIXTURES"/images/gray8.png "$FIXTURES"/images/palette.png "$1/apple/"
        cp "$FIXTURES"/images/bad/truncated.jpg "$1/apple/broken.jpg"
        cp "$FIXTURES"/images/baseline.jpg "$FIXTURES"/images/progressive.jpg \
                "$FIXTURES"/images/gray.jpg "$FIXTURES"/images/cmyk.jpg "$1/banana/"
        cp "$FIXTURES"/images/exif1.jpg "$FIXTURES"/images/exif3.jpg \
                "$FIXTURES"/images/exif6.jpg "$FIXTURES"/images/exif8.jpg "$1/cherry/"
}

pass() {
        exit 0
}

failures=0
tests_run=0

# test_expect TITLE FUNCTION [ARGS...]: runs one behaviour.
test_expect() {
        title=$1
        shift
        tests_run=$((tests_run + 1))
        if ("$@") >"$tmp/case.log" 2>&1; then
                echo "ok $tests_run - $title"
        else
                echo "not ok $tests_run - $title"
                sed 's/^/#   /' "$tmp/case.log"
                failures=$((failures + 1))
        fi
}

test_done() {
        echo "# $tests_run behaviours, $failures failed"
        [ "$failures" -eq 0 ] || exit 1
        exit 0
}
