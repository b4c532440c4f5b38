#!/bin/sh
# alexnet inspect: the figures of each preset, JSON output, model files, and
# one clean line for each kind of bad file.
. "${top_srcdir:-.}/tests/clilib.sh"

model=$FIXTURES/nets/paper_small.safetensors

check_totals() { # PRESET PARAMS MACS_MILLIONS
        expect 0 "$ALEXNET" inspect "$1"
        grep -Eq "^total +$2 " "$out" || fail "$1: total params not $2"
        grep -q "^multiply-adds: $3 M per image" "$out" || fail "$1: not $3 M"
        expect 0 "$ALEXNET" inspect --json "$1"
        grep -q "^  \"params\": $(echo "$2" | tr -d ,),\$" "$out" ||
                fail "$1: JSON params"
}
check_totals alexnet-owt 61,100,840 714.2
check_totals alexnet 60,965,224 724.4
check_totals alexnet-half 16,630,440 311.2

expect 0 "$ALEXNET" inspect --classes 10 alexnet-half
grep -Eq '^classifier.6 +linear .* \[-1, 10\] ' "$out" || fail "--classes"

inspect_1() {
        expect 0 "$ALEXNET" inspect alexnet
        grep -Eq '^conv2 +conv +5x5 +1x1 +2 +2 +\[-1, 256, 27, 27\] ' "$out" || fail "conv2 row"
        grep -Eq '^norm1 +lrn .*size 5, alpha 0.0001, beta 0.75, k 2$' "$out" ||
                fail "norm1 row"
}
test_expect "The paper preset shows groups and LRN." inspect_1

inspect_2() {
        expect 0 "$ALEXNET" inspect "$model"
        grep -q "^$model: alexnet-small-paper, input 3x99x99, 7 outputs" "$out" ||
                fail "model header line"
        grep -q 'source.*tests/fixtures/generate.py' "$out" || fail "provenance"
        expect 0 "$ALEXNET" inspect --json "$model"
        grep -q '"file": ".*paper_small.safetensors"' "$out" || fail "json file"
}
test_expect "A model file written by the fixture generator." inspect_2

inspect_3() {
        expect 2 "$ALEXNET" inspect "$tmp/missing.safetensors"
        one_line_error "$tmp/missing.safetensors"
        expect 2 "$ALEXNET" inspect "$tmp"
        one_line_error "$tmp"
        : >"$tmp/empty"
        expect 2 "$ALEXNET" inspect "$tmp/empty"
        one_line_error "$tmp/empty"
        echo 'just some text, not a model' >"$tmp/text.safetensors"
        expect 2 "$ALEXNET" inspect "$tmp/text.safetensors"
        one_line_error "$tmp/text.safetensors"
        head -c 5000 "$model" >"$tmp/truncated.safetensors"
        expect 2 "$ALEXNET" inspect "$tmp/truncated.safetensors"
        one_line_error "$tmp/truncated.safetensors"
        grep -q 'missing from the header\|past the end\|outside' "$err" || fail "truncation reason"
}
test_expect "Bad files: exit 2 and one line naming the file." inspect_3

inspect_4() {
        if [ -w /dev/full ]; then
                ! "$ALEXNET" inspect alexnet >/dev/full 2>"$err" || fail "wrote to /dev/full"
                grep -q '^alexnet: standard output: write error' "$err" || fail "/dev/full message"
        fi
}
test_expect "Output to a full disk is an error, not a silent success." inspect_4

# A summary shaped as torchsummary and Keras print theirs: [-1, C, H, W]
# and [-1, N] shapes, a flatten row, trainable and frozen counts, the size
# as stored; provenance numbers readable; --json saying what the text says.
summary_like_torchsummary() {
        bundled=${top_srcdir:-.}/weights/fashion-mnist.safetensors
        expect 0 "$ALEXNET" inspect "$bundled"
        grep -Eq '^\(flatten\) +flatten .* \[-1, 576\] +0 +0$' "$out" || fail "flatten row"
        grep -Eq '^fc8 +linear .* \[-1, 10\] +2,570 ' "$out" || fail "fc8 row"
        grep -q "^parameters:    463,562: trainable 463,562, frozen 0; 0.9 MiB as stored (F16)$" "$out" ||
                fail "totals: $(grep parameters "$out")"
        grep -Eq '^  val_top1 +0\.926535$' "$out" || fail "provenance number: $(grep val_top1 "$out")"
        expect 0 "$ALEXNET" inspect --json "$bundled"
        grep -q '"preset": "alexnet-small"' "$out" || fail "json preset"
        grep -q '"trainable_params": 463562' "$out" || fail "json trainable"
        grep -q '"dtype": "F16"' "$out" || fail "json stored dtype"
        # a model trained with --freeze features counts its convolutions frozen
        mkdir -p "$tmp/d/a" "$tmp/d/b"
        cp "$FIXTURES/images/rgb8.png" "$FIXTURES/images/gray8.png" "$tmp/d/a/"
        cp "$FIXTURES/images/baseline.jpg" "$FIXTURES/images/gray.jpg" "$tmp/d/b/"
        "$ALEXNET" train --from "$bundled" --freeze features --epochs 1 -b 2 -q \
                -o "$tmp/frozen.safetensors" "$tmp/d" 2>/dev/null || fail "train --freeze"
        expect 0 "$ALEXNET" inspect "$tmp/frozen.safetensors"
        grep -q "461,506: trainable 214,018, frozen 247,488;" "$out" || fail "frozen: $(grep parameters "$out")"
}
test_expect "a summary as torchsummary prints it; text and JSON agree" summary_like_torchsummary

test_done
