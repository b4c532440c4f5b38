#!/bin/sh
# Every man page renders without groff warnings, each command's usage
# matches its man page's SYNOPSIS, and every option in --help is in the
# man page.
. "${top_srcdir:-.}/tests/clilib.sh"
mandir=${top_srcdir:-.}/man

if ! command -v man >/dev/null 2>&1; then
        echo "SKIP: man is not installed"
        exit 77
fi

render() {
        LC_ALL=C.UTF-8 MANWIDTH=80 MAN_KEEP_FORMATTING= \
                man --warnings -E UTF-8 -l "$1" 2>"$err" | col -bx
}

squash() { tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//'; }

pages_render() {
        for page in "$mandir"/*.1; do
                render "$page" >"$out"
                [ ! -s "$err" ] || fail "$page: groff warnings"
                [ -s "$out" ] || fail "$page: renders empty"
        done
}
test_expect "every man page renders without groff warnings" pages_render

synopsis_is_usage() {
        for page in "$mandir"/alexnet-*.1; do
                cmd=$(basename "$page" .1 | sed 's/^alexnet-//')
                synopsis=$(render "$page" | sed -n '/^SYNOPSIS/,/^[A-Z]/p' |
                        sed '1d;$d' | squash)
                usage=$("$ALEXNET" "$cmd" --help | sed '/^$/,$d; s/^usage: //' | squash)
                [ "$synopsis" = "$usage" ] ||
                        fail "$cmd: man SYNOPSIS '$synopsis' != usage '$usage'"
        done
}
test_expect "each command's usage is its man page's SYNOPSIS" synopsis_is_usage

options_documented() {
        for page in "$mandir"/alexnet-*.1; do
                cmd=$(basename "$page" .1 | sed 's/^alexnet-//')
                render "$page" >"$tmp/page"
                for opt in $("$ALEXNET" "$cmd" --help | grep -o -- '--[a-z0-9-]*' | sort -u); do
                        grep -q -- "$opt" "$tmp/page" || fail "$cmd: $opt not in $page"
                done
        done
}
test_expect "every option --help names is in the man page" options_documented

test_done
