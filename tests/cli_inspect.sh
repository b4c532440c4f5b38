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
grep -Eq '^classifier.6 +linear .* 10x1x1 ' "$out" || fail "--classes"

inspect_1() {
        expect 0 "$ALEXNET" inspect alexnet
        grep -Eq '^conv2 +conv +5x5 +1x1 +2 +2 +256x27x27 ' "$out" || fail "conv2 row"
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

test_done
