#!/bin/sh
# Every man page renders without groff warnings, and each command's usage
# line matches its man page's SYNOPSIS.
. "${top_srcdir:-.}/tests/clilib.sh"
mandir=${top_srcdir:-.}/man

if ! command -v man >/dev/null 2>&1; then
        echo "SKIP: man is not installed"
        exit 77
fi

render() {
        LC_ALL=C.UTF-8 MANWIDTH=80 MAN_KEEP_FORMATTING= \
                man --warnings -E UTF-8 -l "$1" 2>"$err" | col -b
}

squash() { tr -s ' \n' '  ' | sed 's/^ //; s/ $//'; }

for page in "$mandir"/*.1; do
        render "$page" >"$out"
        [ -s "$err" ] && fail "$page: groff warnings"
        [ -s "$out" ] || fail "$page: renders empty"
done

for page in "$mandir"/alexnet-*.1; do
        cmd=$(basename "$page" .1 | sed 's/^alexnet-//')
        synopsis=$(render "$page" | sed -n '/^SYNOPSIS/,/^[A-Z]/p' |
                sed '1d;$d' | squash)
        usage=$("$ALEXNET" "$cmd" --help | sed -n '1s/^usage: //p' | squash)
        [ "$synopsis" = "$usage" ] ||
                fail "$cmd: man SYNOPSIS '$synopsis' != usage '$usage'"
done
pass
