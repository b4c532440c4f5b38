#!/bin/sh
# make bench-busy: does a busy machine make the default alexnet slower
# than one thread?  With 0, 1 and 4 CPU-bound processes (shell loops)
# beside it, times `alexnet predict` over N generated JPEGs with the
# bundled Fashion-MNIST model, and a short `alexnet train` of
# alexnet-small, each with the default threads (all cores) and with -j 1,
# alternating the two, best of TRIALS.  Prints one line per load.
#
#   ALEXNET (default ./alexnet), MAKE_IMAGES (default tests/make_images),
#   BENCH_BUSY_IMAGES (default 2000), BENCH_BUSY_TRIALS (default 3),
#   BENCH_BUSY_LOADS (default "0 1 4")
set -u
alexnet=${ALEXNET:-./alexnet}
make_images=${MAKE_IMAGES:-tests/make_images}
srcdir=${srcdir:-.}
images=${BENCH_BUSY_IMAGES:-2000}
trials=${BENCH_BUSY_TRIALS:-3}
loads=${BENCH_BUSY_LOADS:-0 1 4}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/alexnet-busy.XXXXXX")
hogs=
stop_hogs() {
        [ -n "$hogs" ] && kill $hogs 2>/dev/null
        wait 2>/dev/null
        hogs=
}
trap 'stop_hogs; rm -rf "$tmp"' EXIT INT TERM

mkdir -p "$tmp/img"
"$make_images" "$images" "$tmp/img" 1000000000 >/dev/null || exit 2
ls "$tmp"/img/*.jpg >"$tmp/list"
mkdir -p "$tmp/train/a" "$tmp/train/b"
head -400 "$tmp/list" | awk -v d="$tmp/train" '{ printf "cp %s %s/%s/\n", $0, d, NR % 2 ? "a" : "b" }' | sh

now() { date +%s%N; }

# seconds COMMAND...: wall time of one run, in seconds
seconds() {
        start=$(now)
        "$@" >/dev/null 2>&1 || echo "bench-busy: failed: $*" >&2
        end=$(now)
        awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", (e - s) / 1e9 }'
}

predict() {
        "$alexnet" predict -m "$srcdir/weights/fashion-mnist.safetensors" -f tsv -k 1 "$@" <"$tmp/list"
}
train() {
        "$alexnet" train --preset alexnet-small --epochs 1 -b 32 --resize 32 -q \
                --seed 1 -o "$tmp/m.safetensors" "$@" "$tmp/train"
}

# best TIMES...: the smallest
best() { printf '%s\n' "$@" | sort -n | head -1; }

printf '%-6s %14s %10s %8s %14s %10s %8s\n' load predict predict-j1 ratio train train-j1 ratio
for load in $loads; do
        i=0
        while [ "$i" -lt "$load" ]; do
                sh -c 'while :; do :; done' &
                hogs="$hogs $!"
                i=$((i + 1))
        done
        pd= p1= td= t1=
        t=0
        while [ "$t" -lt "$trials" ]; do
                pd="$pd $(seconds predict)"
                p1="$p1 $(seconds predict -j 1)"
                td="$td $(seconds train)"
                t1="$t1 $(seconds train -j 1)"
                t=$((t + 1))
        done
        stop_hogs
        bp=$(best $pd) b1=$(best $p1) bt=$(best $td) bt1=$(best $t1)
        awk -v l="$load" -v a="$bp" -v b="$b1" -v c="$bt" -v d="$bt1" -v ra="$pd" -v rb="$p1" -v rc="$td" -v rd="$t1" 'BEGIN {
                printf "%-6s %12.2f s %8.2f s %8.2f %12.2f s %8.2f s %8.2f\n", l, a, b, a / b, c, d, c / d
                printf "       (all runs: predict%s | -j1%s | train%s | -j1%s)\n", ra, rb, rc, rd }'
done
