#!/bin/sh
# The model shipped in weights/ (alexnet-small trained on Fashion-MNIST by
# alexnet train) loads, carries its labels and provenance, and classifies
# the shipped samples, whose file names say their true class.
. "${top_srcdir:-.}/tests/clilib.sh"

W=${top_srcdir:-.}/weights
model=$W/fashion-mnist.safetensors
expect 0 "$ALEXNET" inspect "$model"
grep -q "alexnet-small" "$out" || fail "preset"
grep -q "labels: *10: 0-t-shirt, 1-trouser" "$out" || fail "labels"
grep -q "trained_on" "$out" || fail "provenance"

expect 0 "$ALEXNET" predict -m "$model" -f tsv -k 1 "$W"/samples/*.png
right=0
while IFS='	' read -r path rank index prob label; do
        truth=$(basename "$path" | sed 's/-[0-9]*\.png$//')
        [ "${label#*-}" = "$truth" ] && right=$((right + 1))
done <"$out"
echo "bundled model: $right of 12 samples right"
[ "$right" -ge 10 ] || fail "only $right of 12 samples classified right"
pass
