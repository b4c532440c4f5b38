#!/bin/sh
# alexnet convert from the command line: every import format, labels,
# dtype, preprocessing, ONNX export checked in OpenCV, and bad files refused
# with exit 2, one line, and no output file.
. "${top_srcdir:-.}/tests/clilib.sh"

C=$FIXTURES/convert
P=$FIXTURES/predict
export ALEXNET_DATADIR="${top_srcdir:-.}/weights"

convert_1() {
        for f in owt_small.pth owt_small_legacy.pth owt_small_f16.pth paper_small.pth owt_small.onnx bvlc_small.onnx; do
                expect 0 "$ALEXNET" convert "$C/$f" "$tmp/$f.safetensors"
                expect 0 "$ALEXNET" inspect "$tmp/$f.safetensors"
                grep -q "converted_from *$f" "$out" || fail "$f: provenance"
        done
        expect 0 "$ALEXNET" convert "$C/darknet_small.cfg" "$C/darknet_small.weights" "$tmp/dn.safetensors"
        expect 0 "$ALEXNET" inspect "$tmp/dn.safetensors"
        grep -q "RGB, scale 0.00392157, mean 0 0 0, std 1 1 1" "$out" || fail "darknet preprocessing"
        expect 0 "$ALEXNET" convert --from onnx "$C/bvlc_small.onnx" "$tmp/b.safetensors"
        expect 2 "$ALEXNET" convert --from onnx "$C/owt_small.pth" "$tmp/x.safetensors"
}
test_expect "each format, detected from the content" convert_1

convert_2() {
        printf 'l%d\n' 0 1 2 3 4 5 6 7 8 >"$tmp/labels9"
        expect 0 "$ALEXNET" convert --preprocess caffe --labels "$tmp/labels9" --dtype f16 "$C/bvlc_small.onnx" "$tmp/bvlc.safetensors"
        expect 0 "$ALEXNET" inspect "$tmp/bvlc.safetensors"
        grep -q "BGR, scale 1, mean 104.007 116.669 122.679, std 1 1 1" "$out" || fail "caffe preprocessing"
        grep -q "labels: *9: l0, l1, l2, l3, l4, ..." "$out" || fail "labels"
        f32=$(wc -c <"$tmp/b.safetensors"); f16=$(wc -c <"$tmp/bvlc.safetensors")
        [ "$f16" -lt $((f32 * 6 / 10)) ] || fail "--dtype f16 did not halve the file"
        printf 'a\nb\n' >"$tmp/labels2"
        expect 2 "$ALEXNET" convert --labels "$tmp/labels2" "$C/bvlc_small.onnx" "$tmp/x.safetensors"
        grep -q "fewer labels, the model has 9 classes" "$err" || fail "label count"
        [ ! -e "$tmp/x.safetensors" ] || fail "output left after a failure"
}
test_expect "--preprocess, --labels, --dtype" convert_2

convert_3() {
        expect 0 "$ALEXNET" inspect --json --classes 1000 alexnet-half
        "$ALEXNET" convert "$C/owt_small.pth" "$tmp/small.safetensors" || fail "convert"
        expect 0 "$ALEXNET" inspect "$tmp/small.safetensors"
        grep -q "labels: *none" "$out" || fail "10 classes must not get ImageNet labels"
}
test_expect "a 1000-class model gets the bundled ImageNet labels" convert_3

# Run from the tree it was built in (as here), alexnet finds its data files
# there: a 1000-class model (a darknet network made here, all zeros) gets
# the ImageNet labels of weights/ without make install.
labels_from_build_tree() {
        printf '[net]\nheight=8\nwidth=8\nchannels=3\n\n[connected]\noutput=1000\nactivation=linear\n' \
                >"$tmp/tiny.cfg"
        { printf '\000\000\000\000\002\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000'
          head -c $(((1000 + 1000 * 192) * 4)) /dev/zero; } >"$tmp/tiny.weights"
        (unset ALEXNET_DATADIR
         expect 0 "$ALEXNET" convert "$tmp/tiny.cfg" "$tmp/tiny.weights" "$tmp/tiny.safetensors") || exit 1
        expect 0 "$ALEXNET" inspect "$tmp/tiny.safetensors"
        grep -q "labels: *1000: tench, goldfish" "$out" || fail "no bundled labels: $(grep labels "$out")"
}
test_expect "from the build tree, the bundled labels are found without make install" labels_from_build_tree

convert_4() {
        for f in "$C"/bad/*.pth "$C"/bad/*.onnx; do
                expect 2 "$ALEXNET" convert "$f" "$tmp/bad.safetensors"
                one_line_error "$f"
                ! ls "$tmp"/bad.safetensors* >/dev/null 2>&1 || fail "$f: output left behind"
        done
        [ ! -e /tmp/alexnet-pickle-ran ] || fail "the hostile pickle ran a command"
        expect 2 "$ALEXNET" convert "$C/darknet_small.cfg" "$C/bad/short.weights" "$tmp/bad.safetensors"
        [ "$(wc -l <"$err")" -eq 1 ] || fail "darknet: one line"
        grep -q "short.weights" "$err" || fail "darknet: the weights file is named"
        expect 2 "$ALEXNET" convert "$C/owt_small.pth" "$tmp/no/such/dir/out.safetensors"
        one_line_error "$tmp/no/such/dir/out.safetensors"
        expect 2 "$ALEXNET" convert "$C/owt_small.pth"
        expect 2 "$ALEXNET" convert --dtype f8 "$C/owt_small.pth" "$tmp/x.safetensors"
}
test_expect "bad input: exit 2, one line naming the file, no output, nothing run" convert_4

convert_5() {
        model=$P/model.safetensors
        expect 0 "$ALEXNET" convert "$model" "$tmp/model.onnx"
        "$ALEXNET" predict -m "$model" -f json "$P"/square256*.png >"$tmp/pred.jsonl" || fail "predict"
        # Debian's python3 (where python3-opencv installs cv2), not another one
# that may come first in PATH
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
if [ -n "$py" ]; then
        "$py" "${top_srcdir:-.}/tests/onnx_opencv.py" "$tmp/model.onnx" "$tmp/pred.jsonl" >"$out" 2>&1
        rc=$?
        [ $rc -eq 77 ] && echo "note: OpenCV check skipped (no python3-opencv)"
        [ $rc -eq 0 ] || [ $rc -eq 77 ] || fail "OpenCV disagrees: $(cat "$out")"
fi
# round trip: the exported ONNX imports back to the same predictions,
# labels included (from its metadata_props)
expect 0 "$ALEXNET" convert "$tmp/model.onnx" "$tmp/back.safetensors"
"$ALEXNET" predict -m "$tmp/back.safetensors" -f json "$P"/square256*.png >"$tmp/back.jsonl"
cmp -s "$tmp/back.jsonl" "$tmp/pred.jsonl" || fail "ONNX round trip changed predictions or labels"
# and its preprocessing: the bundled model's is not torchvision's default
expect 0 "$ALEXNET" convert "${top_srcdir:-.}/weights/fashion-mnist.safetensors" "$tmp/fm.onnx"
expect 0 "$ALEXNET" convert "$tmp/fm.onnx" "$tmp/fm.safetensors"
expect 0 "$ALEXNET" inspect "$tmp/fm.safetensors"
grep -q "^preprocess:    resize 32, centre crop 32x32" "$out" || fail "preprocessing lost: $(grep preprocess "$out")"
grep -q "^labels:        10: 0-t-shirt" "$out" || fail "labels lost"
# --softmax: a Softmax node at the end, probabilities out (OpenCV runs it
# and agrees); onnx.checker accepts both files, and their metadata_props
# hold the model's labels, preprocessing and provenance
expect 0 "$ALEXNET" convert --softmax "$model" "$tmp/probs.onnx"
expect 0 "$ALEXNET" inspect --json "$model"
cp "$out" "$tmp/inspect.json"
if [ -n "$py" ]; then
        "$py" "${top_srcdir:-.}/tests/onnx_opencv.py" --softmax "$tmp/probs.onnx" "$tmp/pred.jsonl" >"$out" 2>&1
        rc=$?
        [ $rc -eq 0 ] || [ $rc -eq 77 ] || fail "OpenCV disagrees with --softmax: $(cat "$out")"
        for f in model probs; do
                "$py" "${top_srcdir:-.}/tests/onnx_check.py" "$tmp/$f.onnx" "$tmp/inspect.json" >"$out" 2>&1
                rc=$?
                [ $rc -eq 77 ] && echo "note: onnx.checker skipped (no python3-onnx)"
                [ $rc -eq 0 ] || [ $rc -eq 77 ] || fail "$f.onnx: $(cat "$out")"
        done
fi
# the paper preset (groups, LRN) exports too
expect 0 "$ALEXNET" convert "$tmp/paper_small.pth.safetensors" "$tmp/paper.onnx"
expect 0 "$ALEXNET" convert "$tmp/paper.onnx" "$tmp/paper_back.safetensors"
}
test_expect "export: an alexnet model to ONNX, run in OpenCV's DNN module, agrees with alexnet predict (top-5 identical, probabilities within 1e-4)" convert_5

test_done
