#!/bin/sh
# make bench, last part: alexnet-owt FP32 here and in PyTorch tuned as a
# careful user runs it (torchvision's alexnet, channels_last,
# OMP_WAIT_POLICY=passive, the same threads, whatever BLAS Debian's
# libblas.so.3 is: install libopenblas0-pthread for OpenBLAS's kernels),
# on the same batches, alternating the two ROUNDS times; prints the
# images/s of each (the range over the rounds) and the ratio of the
# medians.  Skipped when /usr/bin/python3 has no torch.
#
#   BENCH_ROUNDS (default 2), BENCH_SECONDS (default 2),
#   BENCH_BATCHES (default "1 8 32 64"), OMP_NUM_THREADS (default: nproc)
set -u
py=/usr/bin/python3
srcdir=${srcdir:-.}
if ! [ -x "$py" ] || ! "$py" -c "import torch, torchvision" 2>/dev/null; then
        echo "side by side with PyTorch: skipped (no python3-torch and python3-torchvision)"
        exit 0
fi
rounds=${BENCH_ROUNDS:-2}
seconds=${BENCH_SECONDS:-2}
batches=${BENCH_BATCHES:-1 8 32 64}
threads=${OMP_NUM_THREADS:-$(nproc)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/alexnet-side.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

r=1
while [ "$r" -le "$rounds" ]; do
        OMP_NUM_THREADS=$threads BENCH_SECONDS=$seconds BENCH_LAYERS=0 \
                BENCH_BATCHES="$batches" BENCH_PRECISIONS=fp32 \
                tests/bench_forward alexnet-owt |
                awk '$1 == "alexnet-owt" && $2 == "fp32" { print "forward", $3, $5 }' >>"$tmp/ours"
        OMP_NUM_THREADS=$threads BENCH_SECONDS=$seconds BENCH_LAYERS=0 \
                tests/bench_train alexnet-owt:64 |
                awk '$1 == "alexnet-owt" { print "train", $2, $4 }' >>"$tmp/ours"
        OMP_WAIT_POLICY=passive "$py" "$srcdir/tests/bench_pytorch.py" \
                --threads "$threads" --seconds "$seconds" --layouts channels_last \
                --batches "$(echo $batches | tr ' ' ,)" >"$tmp/torch.out" || exit 1
        head -1 "$tmp/torch.out" >"$tmp/torch.version"
        awk '$1 == "forward" { print "forward", $3, $5 } $1 == "train" { print "train", $3, $5 }' \
                "$tmp/torch.out" >>"$tmp/torch"
        r=$((r + 1))
done

echo "== side by side with PyTorch ($threads threads, $rounds rounds alternated)"
cat "$tmp/torch.version"
"$py" - "$tmp/ours" "$tmp/torch" <<'PY'
import statistics, sys
def read(path):
    runs = {}
    for line in open(path):
        mode, batch, rate = line.split()
        runs.setdefault((mode, int(batch)), []).append(float(rate))
    return runs
ours, theirs = read(sys.argv[1]), read(sys.argv[2])
print(f"{'alexnet-owt':<12} {'batch':>5}  {'alexnet images/s':>22}  "
      f"{'PyTorch images/s':>22}  {'ratio':>6}")
for key in sorted(ours, key=lambda k: (k[0] != "forward", k[1])):
    if key not in theirs:
        continue
    a, b = ours[key], theirs[key]
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"{key[0]:<12} {key[1]:>5}  {ma:8.1f} ({min(a):.1f}-{max(a):.1f})"
          f"  {mb:8.1f} ({min(b):.1f}-{max(b):.1f})  {ma / mb:5.2f}x")
PY
