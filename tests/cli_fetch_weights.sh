#!/bin/sh
# weights/alexnet-fetch-weights without a network: its hash check and its
# conversion step, on a locally made torchvision-format file.
. "${top_srcdir:-.}/tests/clilib.sh"

script=${top_builddir:-.}/weights/alexnet-fetch-weights
pth=$FIXTURES/convert/owt_small.pth
hash=$(sha256sum "$pth" | cut -d' ' -f1)
export ALEXNET

fetch_help() {
        expect 0 "$script" --help
        grep -q "alexnet-fetch-weights \[--from FILE\]" "$out" || fail "--help"
}
test_expect "--help shows the usage" fetch_help

fetch_installs() {
        expect 0 "$script" --from "$pth" --sha256 "$hash" --output "$tmp/models/default.safetensors"
        expect 0 "$ALEXNET" inspect "$tmp/models/default.safetensors"
        grep -q "converted_from *owt_small.pth" "$out" || fail "installed model"
}
test_expect "a file with the right hash is converted and installed" fetch_installs

fetch_1() {
        expect 2 "$script" --from "$pth" --output "$tmp/other.safetensors"
        grep -q "SHA-256 is $hash, expected 7be5be79" "$err" || fail "hash message"
        [ ! -e "$tmp/other.safetensors" ] || fail "installed despite a wrong hash"
}
test_expect "a file whose hash is wrong is not installed" fetch_1

fetch_2() {
        bad=$FIXTURES/convert/bad/truncated_zip.pth
        expect 2 "$script" --from "$bad" --sha256 "$(sha256sum "$bad" | cut -d' ' -f1)" --output "$tmp/third.safetensors"
        ! ls "$tmp"/third.safetensors* >/dev/null 2>&1 || fail "partial model left"
}
test_expect "a conversion failure installs nothing" fetch_2

# From the build tree, with no ALEXNET and no alexnet on the PATH, the
# script uses the tree's ./alexnet.
fetch_from_build_tree() {
        (unset ALEXNET; PATH=/usr/bin:/bin
         expect 0 "$script" --from "$pth" --sha256 "$hash" --output "$tmp/tree.safetensors") || exit 1
        expect 0 "$ALEXNET" inspect "$tmp/tree.safetensors"
}
test_expect "run from the build tree, it finds the tree's alexnet" fetch_from_build_tree

test_done
