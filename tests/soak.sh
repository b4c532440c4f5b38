#!/bin/bash
# The long hardening run (`make soak`, never part of make check):
# `alexnet predict` over SOAK_IMAGES (default 100000) generated JPEGs of
# mixed sizes, one in a hundred broken, paths on standard input.  Passes
# when every good image gets a result line, every bad one exactly one error
# line, the exit status is 1, and the resident memory in the last half of
# the run is no higher than in the first half (plus SOAK_RSS_SLACK_KB,
# default 4096).  Prints the RSS samples' summary and the peak.
#
# Environment: ALEXNET (binary), MAKE_IMAGES (the generator), SOAK_IMAGES,
# SOAK_MODEL (default: the bundled Fashion-MNIST model), SOAK_DIR (reuse
# generated images there instead of a temporary directory).
set -euo pipefail
: "${ALEXNET:=./alexnet}"
: "${MAKE_IMAGES:=tests/make_images}"
: "${top_srcdir:=.}"
n=${SOAK_IMAGES:-100000}
model=${SOAK_MODEL:-$top_srcdir/weights/fashion-mnist.safetensors}
slack=${SOAK_RSS_SLACK_KB:-4096}

work=$(mktemp -d "${TMPDIR:-/tmp}/alexnet-soak.XXXXXX")
trap 'rm -rf "$work"' EXIT
dir=${SOAK_DIR:-$work/images}
mkdir -p "$dir"
if [ ! -e "$dir/.complete-$n" ]; then
        echo "soak: writing $n images to $dir"
        "$MAKE_IMAGES" "$n" "$dir" 100
        touch "$dir/.complete-$n"
fi
good=$(find "$dir" -name 'good-*' | wc -l)
bad=$(find "$dir" -name 'bad-*' | wc -l)

echo "soak: predict over $good good and $bad bad images with $model"
start=$(date +%s)
set +e
find "$dir" -name '*.jpg' | sort |
        "$ALEXNET" predict -m "$model" -k 1 --format tsv >"$work/out" 2>"$work/err" &
pid=$!
# the predict process is the last of the pipeline: sample its RSS
: >"$work/rss"
hwm=0
while kill -0 "$pid" 2>/dev/null; do
        awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null >>"$work/rss"
        now=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        [ -n "$now" ] && hwm=$now
        sleep 1
done
wait "$pid"
status=$?
set -e
seconds=$(($(date +%s) - start))

fail() {
        echo "soak: FAIL: $*" >&2
        head -5 "$work/err" >&2
        exit 1
}
[ "$status" -eq 1 ] || fail "exit status $status, expected 1"
results=$(wc -l <"$work/out")
errors=$(wc -l <"$work/err")
[ "$results" -eq "$good" ] || fail "$results result lines for $good good images"
[ "$errors" -eq "$bad" ] || fail "$errors error lines for $bad bad images"
if grep -v '/bad-' "$work/err" | grep -q .; then
        fail "an error names a good image"
fi
if grep '/bad-' "$work/out" | grep -q .; then
        fail "a bad image got a result"
fi

samples=$(wc -l <"$work/rss")
half=$((samples / 2))
first=$(head -n "$half" "$work/rss" | sort -n | tail -1)
last=$(tail -n +"$((half + 1))" "$work/rss" | sort -n | tail -1)
echo "soak: $results results, $errors errors, exit 1, ${seconds} s" \
        "($((good + bad)) images, $(((good + bad) / (seconds > 0 ? seconds : 1))) images/s)"
echo "soak: RSS over $samples samples: max ${first:-0} kB in the first half," \
        "max ${last:-0} kB in the second; peak (VmHWM) $hwm kB"
if [ "$samples" -ge 4 ] && [ "$last" -gt $((first + slack)) ]; then
        fail "RSS grew from $first kB to $last kB"
fi
echo "soak: PASS"
