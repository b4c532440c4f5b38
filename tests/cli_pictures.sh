#!/bin/sh
# The pictures and the features at the command line: inspect --filters and
# --curves, train's curves beside its log, predict --confusion, --heatmap,
# --features (tsv, json, npy) against PyTorch's numbers, --index and
# --duplicates; and a clear line for every misuse and bad file.
. "${top_srcdir:-.}/tests/clilib.sh"

bundled=${top_srcdir:-.}/weights/fashion-mnist.safetensors
samples=${top_srcdir:-.}/weights/samples
P=$FIXTURES/predict
model=$P/model.safetensors
# Debian's python3, where python3-numpy installs numpy
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
have_numpy() {
        "$py" -c "import numpy" 2>/dev/null && return 0
        echo "note: numpy's checks skipped (no python3-numpy)"
        return 1
}

# png_size FILE: "WIDTH HEIGHT" from its IHDR chunk; fails if not a PNG.
png_size() {
        [ "$(od -An -c -j1 -N3 "$1" | tr -d ' ')" = PNG ] || fail "$1 is not a PNG"
        od -An -tu1 -j16 -N8 "$1" |
                awk '{ print $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8 }'
}

filters() {
        expect 0 "$ALEXNET" inspect --filters conv1 -o "$tmp/f.png" "$bundled"
        [ "$(png_size "$tmp/f.png")" = "360 198" ] || fail "32 colour tiles of 5x5: $(png_size "$tmp/f.png")"
        # the paper's grouped conv2: 256 kernels of 48 grey tiles
        expect 0 "$ALEXNET" inspect --filters conv2 --max-filters 8 -o "$tmp/g.png" alexnet
        [ "$(png_size "$tmp/g.png")" = "783 163" ] || fail "8 kernels x 48 channels: $(png_size "$tmp/g.png")"
        # torchvision's names, and the paper's for them
        expect 0 "$ALEXNET" inspect --filters features.0 -o "$tmp/h.png" "$model"
        expect 0 "$ALEXNET" inspect --filters conv1 -o "$tmp/i.png" "$model"
        cmp -s "$tmp/h.png" "$tmp/i.png" || fail "conv1 is features.0"
}
test_expect "inspect --filters draws a layer's kernels, for a model or a preset" filters

filters_refused() {
        expect 2 "$ALEXNET" inspect --filters fc6 -o "$tmp/x.png" "$bundled"
        one_line_error "$bundled"
        grep -q "fc6 is not a convolution layer of this network (its convolutions: conv1, conv2, conv3, conv4, conv5)" "$err" ||
                fail "the message lists the convolutions"
        expect 2 "$ALEXNET" inspect --filters conv1 "$bundled"
        grep -q "need -o FILE.png" "$err" || fail "--filters without -o"
        expect 2 "$ALEXNET" inspect -o "$tmp/x.png" "$bundled"
        expect 2 "$ALEXNET" inspect --filters conv1 -o "$tmp/no/such/dir/x.png" "$bundled"
        grep -q "its folder does not exist" "$err" || fail "missing folder"
        [ ! -e "$tmp/x.png" ] || fail "nothing written on failure"
}
test_expect "inspect --filters refuses what it cannot draw, in one line" filters_refused

curves() {
        expect 0 "$ALEXNET" inspect --curves "${top_srcdir:-.}/weights/fashion-mnist-train.csv" -o "$tmp/c.png"
        [ "$(png_size "$tmp/c.png")" = "960 360" ] || fail "two panels"
        printf 'not,a,log\n1,2,3\n' >"$tmp/bad.csv"
        expect 2 "$ALEXNET" inspect --curves "$tmp/bad.csv" -o "$tmp/d.png"
        one_line_error "$tmp/bad.csv"
        grep -q "not a training log" "$err" || fail "message"
        expect 2 "$ALEXNET" inspect --curves "$tmp/bad.csv" -o "$tmp/d.png" "$bundled"
        # cairo's vector formats, by the name's ending
        expect 0 "$ALEXNET" inspect --curves "${top_srcdir:-.}/weights/fashion-mnist-train.csv" -o "$tmp/c.SVG"
        head -2 "$tmp/c.SVG" | grep -q '^<svg .*width="960pt" height="360pt"' || fail "SVG"
        expect 0 "$ALEXNET" predict -m "$model" --heatmap "$tmp/h.pdf" "$P/wide.jpg"
        [ "$(head -c 5 "$tmp/h.pdf")" = "%PDF-" ] || fail "PDF"
}
test_expect "inspect --curves draws a training log, and refuses other files" curves

train_draws_curves() {
        data=$tmp/data
        train_folder "$data"
        expect 0 "$ALEXNET" train --preset alexnet-small --epochs 2 -b 4 --val-split 0.25 \
                --seed 3 -q -j 2 --log "$tmp/run.csv" -o "$tmp/m.safetensors" "$data"
        [ "$(png_size "$tmp/run.png")" = "960 360" ] || fail "run.png beside run.csv"
        [ "$(wc -l <"$tmp/run.csv")" -eq 3 ] || fail "header and 2 epochs"
        # the same picture from the log alone
        expect 0 "$ALEXNET" inspect --curves "$tmp/run.csv" -o "$tmp/again.png"
        cmp -s "$tmp/run.png" "$tmp/again.png" || fail "drawn again from the log, the same"
}
test_expect "train draws its curves beside its log after each epoch" train_draws_curves

confusion() {
        mkdir -p "$tmp/eval/tabby cat" "$tmp/eval/class 3"
        cp "$P"/square256.png "$P"/wide.jpg "$tmp/eval/tabby cat/"
        cp "$P"/tall.png "$tmp/eval/class 3/"
        expect 0 "$ALEXNET" predict -m "$model" --eval "$tmp/eval" --confusion "$tmp/m.png"
        size=$(png_size "$tmp/m.png")
        [ -n "$size" ] || fail "no picture"
        expect 2 "$ALEXNET" predict -m "$model" --confusion "$tmp/m.png" "$P/wide.jpg"
        grep -q -- "--confusion goes with --eval" "$err" || fail "usage"
}
test_expect "predict --eval --confusion draws the matrix" confusion

heatmap() {
        expect 0 "$ALEXNET" predict -m "$model" --heatmap "$tmp/h.png" -f tsv "$P/wide.jpg"
        [ "$(png_size "$tmp/h.png")" = "472 264" ] || fail "picture and overlay side by side"
        cut -f5 "$out" | grep -qx "$tmp/h.png" || fail "the record names the picture"
        expect 0 "$ALEXNET" predict -m "$model" --heatmap "$tmp/h.png" --class "tabby cat" -f tsv "$P/wide.jpg"
        [ "$(cut -f2 "$out")" = 9 ] || fail "--class by label"
        expect 0 "$ALEXNET" predict -m "$model" --heatmap "$tmp/h.png" --class 3 -f json "$P/wide.jpg"
        grep -q '"index":3,"label":"class 3"' "$out" || fail "--class by index"
        grep -q '"layer":"features.11","map":\[\[' "$out" || fail "the map in json"
        expect 2 "$ALEXNET" predict -m "$model" --heatmap "$tmp/h.png" --class dog "$P/wide.jpg"
        one_line_error dog
        expect 2 "$ALEXNET" predict -m "$model" --heatmap "$tmp/h.png" "$P/wide.jpg" "$P/tall.png"
        grep -q "explains one IMAGE" "$err" || fail "one image"
        expect 1 "$ALEXNET" predict -m "$model" --heatmap "$tmp/h2.png" "$FIXTURES/images/bad/truncated.jpg"
        [ ! -e "$tmp/h2.png" ] || fail "no picture of an unreadable image"
}
test_expect "predict --heatmap explains one image, for the class asked" heatmap

# compare_features FILE.jsonl TENSOR: the vectors against PyTorch's
compare_features() {
        have_numpy || return 0
        "$py" - "$1" "$P/pictures.safetensors" "$2" <<'PY' || fail "features differ from PyTorch's"
import json, struct, sys
import numpy as np
raw = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
files = json.loads(header["__metadata__"]["files"])
t = header[sys.argv[3]]
a, b = t["data_offsets"]
want = np.frombuffer(raw[8 + n + a:8 + n + b], "<f4").reshape(t["shape"])
got = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    got[r["file"].rsplit("/", 1)[1]] = np.array(r["features"])
worst = max(np.abs(got[f] - want[i]).max() for i, f in enumerate(files))
assert len(got) == len(files), (len(got), len(files))
assert worst <= 1e-4 * max(1, np.abs(want).max()), worst
PY
}

features() {
        ls "$P"/*.png "$P"/*.jpg >"$tmp/list"
        expect 0 "$ALEXNET" predict -m "$model" --features -f json -b 3 <"$tmp/list"
        grep -q '"layer":"classifier.5"' "$out" || fail "the default layer is fc7's ReLU"
        compare_features "$out" features_relu7
        expect 0 "$ALEXNET" predict -m "$model" --features --layer fc7 -f json <"$tmp/list"
        compare_features "$out" features_fc7
        expect 0 "$ALEXNET" predict -m "$model" --features --layer features.12 -f json --tta center <"$tmp/list"
        compare_features "$out" features_pool5
        expect 0 "$ALEXNET" predict -m "$model" --features -f tsv --header "$P/wide.jpg"
        [ "$(head -1 "$out" | awk -F'\t' '{ print $1, $2, NF }')" = "path f0 33" ] || fail "tsv header"
        [ "$(tail -1 "$out" | awk -F'\t' '{ print NF }')" = 33 ] || fail "a path and 32 values"
}
test_expect "predict --features gives PyTorch's activations, any layer" features

npy() {
        cp "$P/wide.jpg" "$tmp/copy.jpg"
        expect 1 "$ALEXNET" predict -m "$model" --features -f npy -o "$tmp/index.npy" \
                "$P/wide.jpg" "$FIXTURES/images/bad/truncated.jpg" "$P/tall.png" "$tmp/copy.jpg" "$P/small.jpg"
        [ "$(wc -l <"$tmp/index.txt")" -eq 4 ] || fail "four names: the unreadable image has no row"
        [ "$(sed -n 2p "$tmp/index.txt")" = "$P/tall.png" ] || fail "names in input order"
        ! have_numpy || "$py" -c "
import numpy as np, sys
a = np.load(sys.argv[1])
assert a.shape == (4, 32) and a.dtype == np.float32, a.shape
assert np.array_equal(a[0], a[2])
" "$tmp/index.npy" || fail "np.load reads a 4 x 32 float32 matrix"
        expect 2 "$ALEXNET" predict -m "$model" --features -f npy "$P/wide.jpg"
        grep -q -- "-f npy goes with --features and -o FILE.npy" "$err" || fail "npy needs -o"
        expect 2 "$ALEXNET" predict -m "$model" --features -f npy -o /dev/null "$P/wide.jpg"
        grep -q -- "not a pipe or device" "$err" || fail "npy into a device"
}
test_expect "predict --features -f npy writes a matrix NumPy loads, and its names" npy

neighbours() {
        expect 0 "$ALEXNET" predict -m "$model" -k 2 -f tsv --index "$tmp/index.npy" "$P/tall.png"
        [ "$(head -1 "$out" | cut -f2-4)" = "$(printf '1\t%s\t1.000000' "$P/tall.png")" ] ||
                fail "an indexed image is its own nearest"
        [ "$(wc -l <"$out")" -eq 2 ] || fail "-k 2"
        expect 0 "$ALEXNET" predict -m "$model" -k 9 -f json --metric euclidean --index "$tmp/index.npy" "$P/wide.jpg"
        grep -q '"neighbours":\[{"rank":1,"file":"[^"]*wide.jpg","distance":0},{"rank":2,"file":"[^"]*copy.jpg","distance":0},' "$out" ||
                fail "euclidean distances, ties in index order"
        [ "$(grep -o '"rank"' "$out" | wc -l)" -eq 4 ] || fail "at most the index's rows"
        expect 2 "$ALEXNET" predict -m "$model" --layer pool5 --index "$tmp/index.npy" "$P/wide.jpg"
        grep -q "holds vectors of 32 values; the layer chosen gives" "$err" || fail "dimension"
}
test_expect "predict --index finds each image's nearest indexed images" neighbours

duplicates() {
        expect 0 "$ALEXNET" predict -m "$model" -f tsv --duplicates 0.9999 "$P/wide.jpg" "$P/tall.png" "$tmp/copy.jpg"
        [ "$(cat "$out")" = "$(printf '%s\t%s\t1.000000' "$P/wide.jpg" "$tmp/copy.jpg")" ] ||
                fail "the one pair"
        # within an index alone: no paths read
        expect 0 "$ALEXNET" predict -m "$model" --duplicates 0.9999 --index "$tmp/index.npy" </dev/null
        [ "$(wc -l <"$out")" -eq 1 ] || fail "the index's pair"
        expect 2 "$ALEXNET" predict -m "$model" --features --duplicates 0.5 "$P/wide.jpg"
        expect 2 "$ALEXNET" predict -m "$model" --metric euclidean "$P/wide.jpg"
}
test_expect "predict --duplicates lists the pairs above a similarity" duplicates

bad_index() {
        printf 'garbage' >"$tmp/bad.npy"
        expect 2 "$ALEXNET" predict -m "$model" --index "$tmp/bad.npy" "$P/wide.jpg"
        one_line_error "$tmp/bad.npy"
        grep -q "not a NumPy .npy file" "$err" || fail "message"
        head -c 200 "$tmp/index.npy" >"$tmp/short.npy"
        cp "$tmp/index.txt" "$tmp/short.txt"
        expect 2 "$ALEXNET" predict -m "$model" --index "$tmp/short.npy" "$P/wide.jpg"
        grep -q "not the 4 x 32 floats its header gives" "$err" || fail "truncated"
        cp "$tmp/index.npy" "$tmp/three.npy"
        head -3 "$tmp/index.txt" >"$tmp/three.txt"
        expect 2 "$ALEXNET" predict -m "$model" --index "$tmp/three.npy" "$P/wide.jpg"
        one_line_error "$tmp/three.txt"
        grep -q "names 3 paths for 4 rows" "$err" || fail "names count"
        rm "$tmp/three.txt"
        expect 2 "$ALEXNET" predict -m "$model" --index "$tmp/three.npy" "$P/wide.jpg"
        one_line_error "$tmp/three.txt"
}
test_expect "a broken index or names file is one clear line" bad_index

test_done
