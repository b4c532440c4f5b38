#!/bin/sh
# Times alexnet-fetch-weights' conversion path on a full-size torchvision
# AlexNet state_dict (233 MB) made locally with PyTorch (`make
# bench-convert`; needs python3-torch and python3-torchvision, no network).
set -eu
alexnet=${ALEXNET:-./alexnet}
script=${FETCH:-./weights/alexnet-fetch-weights}
py=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/alexnet-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$py" -c 'import sys, torch, torchvision
torch.manual_seed(0)
torch.save(torchvision.models.alexnet().state_dict(), sys.argv[1])' "$tmp/alexnet-owt.pth" ||
        { echo "bench-convert: needs python3-torch and python3-torchvision"; exit 77; }
hash=$(sha256sum "$tmp/alexnet-owt.pth" | cut -d' ' -f1)
ls -l "$tmp/alexnet-owt.pth"
start=$(date +%s.%N)
ALEXNET=$alexnet "$script" --from "$tmp/alexnet-owt.pth" --sha256 "$hash" --output "$tmp/default.safetensors"
end=$(date +%s.%N)
echo "alexnet-fetch-weights (hash check + convert + install): $(echo "$end - $start" | bc) s"
start=$(date +%s.%N)
"$alexnet" convert "$tmp/alexnet-owt.pth" "$tmp/again.safetensors"
end=$(date +%s.%N)
echo "alexnet convert alone: $(echo "$end - $start" | bc) s"
