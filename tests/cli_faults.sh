#!/bin/bash
# Faults: full disks (/dev/full, and a small tmpfs filled up when this user
# may mount one), a checkpoint that cannot be written (the previous one
# stays intact), SIGKILL during a conversion (never a truncated file under
# the final name), two predict processes sharing a model file while a
# training run replaces it, flat memory as the paths on stdin grow, and
# FIFOs given as inputs (refused, never waited on).
. "${top_srcdir:-.}/tests/clilib.sh"

I=$FIXTURES/images
model=${top_srcdir:-.}/weights/fashion-mnist.safetensors
small_pth=$FIXTURES/convert/owt_small.pth
data=$tmp/data
mkdir -p "$data/apple" "$data/banana"
cp "$I"/rgb8.png "$I"/rgba8.png "$I"/gray8.png "$data/apple/"
cp "$I"/baseline.jpg "$I"/progressive.jpg "$I"/gray.jpg "$data/banana/"
train_args="--preset alexnet-small -b 2 --seed 3 -q"

faults_1() {
        if [ -w /dev/full ]; then
                expect 2 sh -c '"$0" predict -m "$1" "$2" >/dev/full' "$ALEXNET" \
                        "$model" "$I/rgb8.png"
                one_line_error "standard output"
                expect 2 "$ALEXNET" convert "$small_pth" /dev/full
                one_line_error /dev/full
                grep -q "No space left on device" "$err" || fail "convert: ENOSPC"
                [ -c /dev/full ] || fail "/dev/full is no longer a device"
                # (its checkpoint goes to ./full.ckpt: run it in $tmp)
                expect 2 sh -c 'cd "$0" && exec "$@"' "$tmp" \
                        "$(cd "$(dirname "$ALEXNET")" && pwd)/$(basename "$ALEXNET")" \
                        train $train_args --epochs 1 -o /dev/full "$data"
                one_line_error /dev/full
                [ -e "$tmp/full.ckpt" ] || fail "no checkpoint beside the run"
                expect 2 "$ALEXNET" train $train_args --epochs 1 --log /dev/full \
                        -o "$tmp/log-full.safetensors" "$data"
                one_line_error /dev/full
        fi
}
test_expect "/dev/full: one clear line and exit 2 from every writer" faults_1

faults_2() {
        expect 2 "$ALEXNET" convert "$small_pth" "$tmp"
        one_line_error "$tmp"
        grep -q "is a directory" "$err" || fail "convert to a directory"
}
test_expect "a directory where a file should go" faults_2

faults_3() {
        expect 0 "$ALEXNET" train --preset alexnet-half --epochs 1 -b 2 -q \
                -o "$tmp/half.safetensors" "$data"
        expect 0 "$ALEXNET" convert --dtype f16 "$tmp/half.safetensors" "$tmp/ref16.safetensors"
        for try in KILL:0.01 INT:0.02 KILL:0.05 INT:0.08 KILL:0.1 INT:0.15 KILL:0.2 INT:0.3; do
                signal=${try%:*} delay=${try#*:}
                rm -f "$tmp"/out16.safetensors*  # (SIGKILL leaves its temporary file)
                "$ALEXNET" convert --dtype f16 "$tmp/half.safetensors" \
                        "$tmp/out16.safetensors" 2>/dev/null &
                pid=$!
                sleep "$delay"
                kill -"$signal" "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
                if [ -e "$tmp/out16.safetensors" ]; then
                        cmp -s "$tmp/out16.safetensors" "$tmp/ref16.safetensors" ||
                                fail "SIG$signal after $delay s: a different file under the final name"
                fi
                if [ "$signal" = INT ] && ls "$tmp" | grep -q 'out16.safetensors.tmp'; then
                        fail "SIGINT after $delay s left a temporary file"
                fi
        done
        rm -f "$tmp"/out16.safetensors.tmp.* "$tmp"/half.safetensors*
}
test_expect "SIGKILL or SIGINT during a conversion: the old file or the new, never half; after SIGINT not even a temporary file" faults_3

faults_4() {
        shared=$tmp/shared.safetensors
        expect 0 "$ALEXNET" train $train_args --epochs 1 -o "$shared" "$data"
        for i in $(seq 150); do echo "$I/rgb8.png"; echo "$I/baseline.jpg"; done >"$tmp/paths"
        # (-b 1 as below: TSV's 8 decimals show the last bit a batch size
        # changes)
        expect 0 "$ALEXNET" predict -m "$shared" -k 1 -f tsv -b 1 <"$tmp/paths"
        cp "$out" "$tmp/expected"
        "$ALEXNET" predict -m "$shared" -k 1 -f tsv -b 1 <"$tmp/paths" >"$tmp/p1" 2>&1 &
        p1=$!
        "$ALEXNET" predict -m "$shared" -k 1 -f tsv -b 1 <"$tmp/paths" >"$tmp/p2" 2>&1 &
        p2=$!
        expect 0 "$ALEXNET" train $train_args --epochs 2 --seed 9 -o "$shared" "$data"
        wait "$p1" || fail "predict 1 failed beside the training run"
        wait "$p2" || fail "predict 2 failed beside the training run"
        cmp -s "$tmp/p1" "$tmp/expected" || fail "predict 1 saw a changing model"
        cmp -s "$tmp/p2" "$tmp/expected" || fail "predict 2 saw a changing model"
        expect 0 "$ALEXNET" inspect "$shared"
}
test_expect "sharing: two predicts read a model a training run replaces" faults_4

faults_5() {
        peak_rss_kb() {
                python3 -c '
import resource, subprocess, sys
with open(sys.argv[2]) as f:
    subprocess.run(sys.argv[3:], stdin=f, stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
' "$@"
        }
        # (not under AddressSanitizer, whose quarantine of freed memory grows RSS
        # by design)
        if ldd "$ALEXNET" 2>/dev/null | grep -q libasan; then
                echo "SKIP: RSS comparison under AddressSanitizer"
        elif command -v python3 >/dev/null; then
                head -n 200 "$tmp/paths" >"$tmp/paths200"
                for i in $(seq 20); do cat "$tmp/paths"; done >"$tmp/paths6000"
                few=$(peak_rss_kb x "$tmp/paths200" "$ALEXNET" predict -m "$model" -k 1 -f tsv) ||
                        fail "predict over 200 paths"
                many=$(peak_rss_kb x "$tmp/paths6000" "$ALEXNET" predict -m "$model" -k 1 -f tsv) ||
                        fail "predict over 6000 paths"
                echo "peak RSS: $few kB for 200 paths, $many kB for 6000"
                [ "$many" -le $((few + 2048)) ] || fail "RSS grew: $few kB -> $many kB"
        fi
}
test_expect "memory does not grow with the number of paths on stdin" faults_5

faults_6() {
        if command -v python3 >/dev/null; then
                python3 - "$FIXTURES/train/init.safetensors" "$tmp/huge.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
arch = json.loads(header["__metadata__"]["architecture"])
arch["input"] = [3, 8000, 8000]
header["__metadata__"]["architecture"] = json.dumps(arch)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
PY
                expect 2 "$ALEXNET" predict -m "$tmp/huge.safetensors" "$I/rgb8.png"
                one_line_error "$tmp/huge.safetensors"
                grep -q "GiB limit" "$err" || fail "huge activations: message"
        fi
}
test_expect "a model whose activations would take the machine's memory is refused at once" faults_6

# A FIFO nobody writes to blocks open(2) for reading: every input is
# checked to be a regular file before anything can wait.
special_files_refused() {
        mkfifo "$tmp/fifo"
        ln -s "$tmp/fifo" "$tmp/fifo.jpg"
        t="timeout 10"
        expect 1 $t "$ALEXNET" predict -m "$model" "$tmp/fifo.jpg" "$I/rgb8.png"
        grep -q "fifo.jpg: not a regular file" "$err" || fail "image"
        grep -q "rgb8.png" "$out" || fail "the other image's record"
        expect 2 $t "$ALEXNET" predict -m "$tmp/fifo" "$I/rgb8.png"
        grep -q "not a regular file" "$err" || fail "-m"
        expect 2 $t "$ALEXNET" convert "$tmp/fifo" "$tmp/out.safetensors"
        one_line_error "$tmp/fifo"
        grep -q "not a regular file" "$err" || fail "convert's input"
        expect 2 $t "$ALEXNET" convert "$model" --labels "$tmp/fifo" "$tmp/out.safetensors"
        grep -q "not a regular file" "$err" || fail "--labels"
        expect 2 $t "$ALEXNET" inspect "$tmp/fifo"
        grep -q "not a regular file" "$err" || fail "inspect"
        expect 2 $t "$ALEXNET" train $train_args --epochs 1 --from "$tmp/fifo" \
                -o "$tmp/t.safetensors" "$data"
        grep -q "not a regular file" "$err" || fail "train --from"
        expect 2 $t "$ALEXNET" convert /nonexistent.pth "$tmp/out.safetensors"
        grep -q "No such file or directory" "$err" || fail "a missing input is named as such"
        [ ! -e "$tmp/out.safetensors" ] || fail "an output was written"
}
test_expect "FIFOs as image, model, convert input, labels: refused at once" special_files_refused

# Past a file size limit (ulimit -f) writes fail like a full disk: a
# clear error and no temporary file (SIGXFSZ would kill the process and
# leave one).
file_size_limit() {
        mkdir -p "$tmp/limit"
        expect 2 sh -c 'ulimit -f 20 && exec "$@"' sh "$ALEXNET" convert "$small_pth" \
                "$tmp/limit/owt.safetensors"
        one_line_error "$tmp/limit/owt.safetensors"
        grep -q "File too large" "$err" || fail "convert: EFBIG"
        expect 2 sh -c 'ulimit -f 20 && exec "$@"' sh "$ALEXNET" train $train_args \
                --epochs 1 -o "$tmp/limit/m.safetensors" "$data"
        grep -q "File too large" "$err" || fail "train: EFBIG"
        [ -z "$(ls -A "$tmp/limit")" ] || fail "left behind: $(ls "$tmp/limit")"
}
test_expect "a file size limit: a clear error, no file left (convert, train)" file_size_limit

# Labels are checked when they come in, by the rule models are read with,
# so no model is written that cannot be read back.
bad_labels_refused_early() {
        for i in 0 1 2 3 4 5 6 7 8 9; do
                if [ $i = 3 ]; then printf 'bad\tlabel\n'; else echo "c$i"; fi
        done >"$tmp/labels.txt"
        expect 2 "$ALEXNET" convert "$model" --labels "$tmp/labels.txt" "$tmp/l.safetensors"
        grep -q "labels.txt: line 4: holds a newline or a tab" "$err" || fail "convert --labels"
        [ ! -e "$tmp/l.safetensors" ] || fail "a model was written"
        mkdir -p "$tmp/tabs/ok" "$tmp/tabs/$(printf 'a\tb')"
        cp "$I/rgb8.png" "$tmp/tabs/ok/"
        cp "$I/gray8.png" "$tmp/tabs/$(printf 'a\tb')/"
        expect 2 "$ALEXNET" train $train_args --epochs 1 -o "$tmp/tabs.safetensors" "$tmp/tabs"
        grep -q "cannot be a label: holds a newline or a tab" "$err" || fail "train"
        [ ! -e "$tmp/tabs.safetensors" ] && [ ! -e "$tmp/tabs.safetensors.ckpt" ] ||
                fail "train wrote a file"
        expect 2 "$ALEXNET" train $train_args --epochs 1 --resize 1000000 "$data"
        grep -q "from 1 to 65536" "$err" || fail "--resize past what a model may hold"
}
test_expect "labels a model could not be read with are refused before anything is written" bad_labels_refused_early

# Headers that parse but pixels that do not decode: no image trained on,
# no model written, a failure status.
nothing_decodes() {
        mkdir -p "$tmp/allbad/a" "$tmp/allbad/b"
        for i in 1 2; do
                cp "$I/bad/truncated.jpg" "$tmp/allbad/a/$i.jpg"
                cp "$I/bad/truncated.jpg" "$tmp/allbad/b/$i.jpg"
        done
        expect 2 "$ALEXNET" train $train_args --epochs 1 -o "$tmp/allbad.safetensors" "$tmp/allbad"
        grep -q "allbad: no training image could be decoded in epoch 1" "$err" || fail "message"
        [ ! -e "$tmp/allbad.safetensors" ] || fail "a model was written"
}
test_expect "train where no image decodes fails without writing a model" nothing_decodes

# An output replaced keeps what the user set up: its permissions, and a
# symbolic link stays a link to the file that is replaced.
outputs_keep_mode_and_links() {
        mkdir -p "$tmp/keep"
        cp "$model" "$tmp/keep/real.safetensors"
        chmod 600 "$tmp/keep/real.safetensors"
        ln -s real.safetensors "$tmp/keep/link.safetensors"
        expect 0 "$ALEXNET" convert "$model" --dtype f32 "$tmp/keep/link.safetensors"
        [ -L "$tmp/keep/link.safetensors" ] || fail "the link became a file"
        [ "$(stat -c %a "$tmp/keep/real.safetensors")" = 600 ] || fail "mode 0600 lost"
        # the bundled model is stored as f16: the f32 copy is twice its size
        [ "$(stat -c %s "$tmp/keep/real.safetensors")" -gt "$(($(stat -c %s "$model") * 3 / 2))" ] ||
                fail "the link's target was not replaced"
        [ "$(ls "$tmp/keep" | wc -l)" -eq 2 ] || fail "litter: $(ls "$tmp/keep")"
}
test_expect "a replaced output keeps its permissions and symbolic link" outputs_keep_mode_and_links

messages_name_the_problem() {
        if [ -w /dev/full ]; then
                expect 2 sh -c '"$0" inspect --json alexnet >/dev/full' "$ALEXNET"
                one_line_error "standard output"
                grep -q "No space left on device" "$err" || fail "inspect --json: ENOSPC"
        fi
        expect 2 "$ALEXNET" convert "$FIXTURES/convert/bad/unknown_layout.pth" "$tmp/x.safetensors"
        grep -q "\-\-arch" "$err" && fail "advice to use an option convert does not have"
        grep -q "export the model to ONNX" "$err" || fail "advice convert can follow"
        # a file of another kind given as a model is named as that kind
        expect 2 "$ALEXNET" predict -m "$small_pth" "$I/rgb8.png"
        one_line_error "$small_pth"
        grep -q "a PyTorch file (torch.save), not a safetensors model (alexnet convert makes one of it)" "$err" ||
                fail "a .pth as the model"
        expect 2 "$ALEXNET" inspect "$I/rgb8.png"
        grep -q "rgb8.png: a PNG image, not a safetensors model$" "$err" || fail "a PNG as the model"
        expect 2 "$ALEXNET" convert "$I/rgb8.png" "$tmp/x.safetensors"
        grep -q "a PNG image, not a network" "$err" || fail "convert of a PNG"
        : >"$tmp/empty"
        expect 2 "$ALEXNET" convert "$tmp/empty" "$tmp/x.safetensors"
        grep -q "empty: empty file$" "$err" || fail "convert of an empty file"
        # a folder named once; a run that could not write its model fails
        # before training, not after its first epoch
        expect 2 "$ALEXNET" train "$tmp/nonexistent"
        [ "$(grep -o nonexistent "$err" | wc -l)" = 1 ] || fail "the folder named twice"
        expect 2 "$ALEXNET" train $train_args --epochs 1 -o "$tmp/no/such/m.safetensors" "$data"
        one_line_error "$tmp/no/such/m.safetensors"
        grep -q "its folder does not exist" "$err" || fail "missing output folder"
        grep -q "epoch" "$err" && fail "trained before finding it cannot write"
        expect 2 "$ALEXNET" train $train_args --epochs 1 --checkpoint "$tmp/no/c.ckpt" \
                -o "$tmp/m.safetensors" "$data"
        one_line_error "$tmp/no/c.ckpt"
        [ ! -e "$tmp/m.safetensors" ] || fail "a model written by a run that failed"
}
test_expect "messages name the real problem (a full disk, no --arch advice)" messages_name_the_problem

# A model whose outputs are NaN cannot rank classes: each image is a
# failure saying so, never a "nan%" record.
non_finite_outputs_are_failures() {
        nan=$FIXTURES/train/nan_bias.safetensors
        expect 1 "$ALEXNET" predict -m "$nan" "$I/rgb8.png"
        [ ! -s "$out" ] || fail "a record was printed"
        grep -q "rgb8.png: the model's outputs are not finite numbers" "$err" || fail "message"
        expect 1 "$ALEXNET" predict -m "$nan" -f json "$I/rgb8.png"
        grep -q '"error":"the model' "$out" || fail "json error record"
        grep -q 'nan%\|"prob"' "$out" && fail "a probability was printed"
        :
}
test_expect "NaN outputs are reported as a failure per image" non_finite_outputs_are_failures

# A line on stdin is kept up to 8 KB (any longer path fails as too long),
# so a stream without line ends cannot take memory without bound.
long_line_on_stdin() {
        if ldd "$ALEXNET" 2>/dev/null | grep -q libasan; then
                echo "SKIP: RSS comparison under AddressSanitizer"
        elif command -v python3 >/dev/null; then
                python3 - "$ALEXNET" "$model" "$I/rgb8.png" >"$tmp/rss" <<'PY' || fail "predict"
import resource, subprocess, sys
alexnet, model, image = sys.argv[1:]
# streamed a megabyte at a time: this process stays small
run = subprocess.Popen([alexnet, "predict", "-m", model, "-k", "1", "-"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
chunk = b"a" * (1 << 20)
for _ in range(64):
    run.stdin.write(chunk)
run.stdin.write(b"\n" + image.encode() + b"\n")
run.stdin.close()
out = run.stdout.read()
status = run.wait()
print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stdout.write(out.decode())
PY
                read -r status rss <"$tmp/rss"
                echo "exit $status, peak RSS $rss kB for a 64 MB line"
                [ "$status" = 1 ] || fail "exit status $status"
                grep -q "rgb8.png: " "$tmp/rss" || fail "the next path was classified"
                [ "$rss" -lt 60000 ] || fail "a 64 MB line took $rss kB"
        fi
}
test_expect "a path line without end on stdin takes bounded memory" long_line_on_stdin

# --max-megapixels holds for the image as resized too: a 1x20000 PNG
# resized to 32 on its shorter side would be 32x640000.
thin_image_bounded() {
        command -v python3 >/dev/null || { echo "SKIP: no python3"; return; }
        python3 - "$tmp/thin.png" <<'PY'
import struct, sys, zlib
w, h = 1, 20000
raw = b"".join(b"\0" + b"\x80" * 3 * w for _ in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR",
    struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT",
    zlib.compress(raw, 9)) + chunk(b"IEND", b""))
PY
        expect 1 "$ALEXNET" predict -m "$model" --max-megapixels 10 "$tmp/thin.png" "$I/rgb8.png"
        grep -q "thin.png: image is 1x20000: resized to 32 on its shorter side it would be over" "$err" ||
                fail "message"
        grep -q "rgb8.png" "$out" || fail "the other image"
        expect 0 "$ALEXNET" predict -m "$model" --max-megapixels 30 "$tmp/thin.png"
}
test_expect "the pixel limit holds for an image as resized, not only as decoded" thin_image_bounded

# darknet weights are read as the cfg asks for them: a 2 GB file (sparse
# here) is refused for its size without being read.
huge_darknet_weights() {
        cp "$FIXTURES/convert/darknet_small.weights" "$tmp/huge.weights"
        truncate -s 2G "$tmp/huge.weights" || { echo "SKIP: truncate"; return; }
        expect 2 "$ALEXNET" convert "$FIXTURES/convert/darknet_small.cfg" "$tmp/huge.weights" \
                "$tmp/dk.safetensors"
        grep -q "huge.weights: weights file has [0-9]* bytes more than its cfg uses" "$err" ||
                fail "message"
        if ! ldd "$ALEXNET" 2>/dev/null | grep -q libasan && command -v python3 >/dev/null; then
                rss=$(python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
' "$ALEXNET" convert "$FIXTURES/convert/darknet_small.cfg" "$tmp/huge.weights" "$tmp/dk.safetensors")
                [ "$rss" -lt 100000 ] || fail "peak RSS $rss kB"
        fi
        rm -f "$tmp/huge.weights"
}
test_expect "a 2 GB darknet weights file is refused without being read" huge_darknet_weights

# A mapped F32 model truncated or rewritten in place while predict runs
# (Python's open(p, "wb"), rsync --inplace): the records already written
# stay, the run stops with one line naming the model, never SIGBUS.
model_changed_while_in_use() {
        expect 0 "$ALEXNET" convert --dtype f32 "$model" "$tmp/m32.safetensors"
        for change in truncate rewrite; do
                cp "$tmp/m32.safetensors" "$tmp/live.safetensors"
                rm -f "$tmp/paths"
                mkfifo "$tmp/paths"
                "$ALEXNET" predict -m "$tmp/live.safetensors" -b 1 -j 1 - \
                        <"$tmp/paths" >"$out" 2>"$err" &
                pid=$!
                exec 3>"$tmp/paths"
                echo "$I/rgb8.png" >&3
                for _ in $(seq 300); do [ -s "$out" ] && break; sleep 0.1; done
                case $change in
                truncate) : >"$tmp/live.safetensors" ;;
                rewrite)
                        printf '\177' | dd of="$tmp/live.safetensors" bs=1 \
                                seek=200000 conv=notrunc 2>/dev/null
                        touch -d '+1 minute' "$tmp/live.safetensors" ;;
                esac
                echo "$I/gray8.png" >&3
                exec 3>&-
                status=0
                wait "$pid" || status=$?
                echo "$change: exit $status: $(cat "$err")"
                [ "$status" = 2 ] || fail "$change: exit status $status"
                one_line_error "$tmp/live.safetensors"
                grep -q "while in use (rewritten by another program?)" "$err" ||
                        fail "$change: message"
                grep -q "rgb8.png: " "$out" || fail "$change: the first record"
                ! grep -q "gray8.png" "$out" || fail "$change: a record from the changed file"
        done
}
test_expect "a model rewritten while predict maps it: an error, not SIGBUS" model_changed_while_in_use

# Imports allocate what the file holds and the architecture takes, never
# what a few bytes can describe: a stride-0 view expanded to 32768 x 32768
# (4 GB if materialised), a storage with 256 MB of deflated zeros past what
# its tensor uses, and 20 MB of empty ONNX nodes (1.5 GB as decoded
# structs).  Each within 150 MB and a few seconds.
imports_bounded() {
        command -v python3 >/dev/null || { echo "SKIP: no python3"; return; }
        python3 - "$tmp/empty_nodes.onnx" <<'PY'
import sys
def varint(n):
    out = b""
    while True:
        low, n = n & 0x7f, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])
nodes = b"\x0a\x00" * (10 << 20)  # GraphProto.node, empty, 10 M times
graph = b"\x3a" + varint(len(nodes)) + nodes  # ModelProto.graph
open(sys.argv[1], "wb").write(b"\x08\x07" + graph)
PY
        asan=$(ldd "$ALEXNET" 2>/dev/null | grep -c libasan || true)
        for case in "2 $FIXTURES/convert/bad/expanded.pth expanded tensor" \
                "0 $FIXTURES/convert/deflated_storage.pth" \
                "2 $tmp/empty_nodes.onnx not a network this tool can hold"; do
                set -- $case
                want=$1 file=$2
                shift 2
                rss=$(python3 -c '
import resource, subprocess, sys
r = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL,
                   stderr=open(sys.argv[1], "w"), timeout=60)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
' "$err" "$ALEXNET" convert "$file" "$tmp/imported.safetensors") || fail "$file: timed out"
                echo "$(basename "$file"): exit and peak kB: $rss"
                [ "${rss% *}" = "$want" ] || fail "$file: exit status ${rss% *}"
                [ "$asan" != 0 ] || [ "${rss#* }" -lt 150000 ] || fail "$file: ${rss#* } kB"
                [ $# = 0 ] || grep -q "$*" "$err" || fail "$file: message"
        done
}
test_expect "imports take the memory the file holds, not what it describes" imports_bounded

# The memory budgets stated in alexnet-predict(1), alexnet-train(1) and
# alexnet-convert(1), computed from `inspect --json` and the inputs, hold
# on inputs chosen to be expensive: 10-megapixel PNGs on two threads, a
# model stored as F16 (widened), training at batch 64, a .pth conversion.
memory_budget() {
        command -v python3 >/dev/null || { echo "SKIP: no python3"; return; }
        if ldd "$ALEXNET" 2>/dev/null | grep -q libasan; then
                echo "SKIP: RSS under AddressSanitizer"
                return
        fi
        mkdir -p "$tmp/big/a" "$tmp/big/b"
        python3 - "$tmp/big" <<'PY'
import struct, sys, zlib
def png(path, w, h):
    raw = b"".join(b"\0" + b"\x80" * 3 * w for _ in range(h))
    def chunk(t, d):
        return (struct.pack(">I", len(d)) + t + d +
                struct.pack(">I", zlib.crc32(t + d)))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR",
        struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
        chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
for i in range(3):
    png(f"{sys.argv[1]}/a/{i}.png", 4000, 2500)
    png(f"{sys.argv[1]}/b/{i}.png", 2500, 4000)
PY
        python3 - "$ALEXNET" "$model" "$tmp" "$small_pth" <<'PY' || fail "over budget"
import json, os, resource, subprocess, sys
alexnet, model, tmp, pth = sys.argv[1:]
MB = 1 << 20
images = sorted(f"{tmp}/big/{d}/{f}" for d in "ab" for f in os.listdir(f"{tmp}/big/{d}"))
PIXELS = 10_000_000
failed = False

def inspect(m):
    return json.loads(subprocess.run([alexnet, "inspect", "--json", m],
                                     capture_output=True, check=True).stdout)

# each run measured from its own parent: RUSAGE_CHILDREN is a maximum over
# all of a process's children
MEASURE = """
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
sys.stderr.buffer.write(r.stderr)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

def peak(args):
    r = subprocess.run([sys.executable, "-c", MEASURE, alexnet] + args,
                       capture_output=True, text=True)
    status, kb = r.stdout.split()
    assert status == "0", (args, r.stderr)
    return int(kb) * 1024

def check(what, used, budget):
    global failed
    print(f"{what}: peak {used / MB:.0f} MB, budget {budget / MB:.0f} MB")
    failed |= used > budget

# one image a decoding thread: its file, 3 bytes a pixel decoded and 3 a
# pixel resized to the model's size
def image_bytes(path, resize):
    return os.path.getsize(path) + 3 * PIXELS + 3 * PIXELS * resize * resize // (2500 * 2500)

# predict: a model stored as F16 is widened (4 bytes a parameter) and packed
# (4 bytes a parameter for fp32)
info = inspect(model)
P, B, T = info["params"], 16, 2
resize = info["preprocess"]["resize"]
budget = (os.path.getsize(model) + 4 * P + 4 * P + B * info["memory"]["predict_per_image"] +
          T * max(image_bytes(i, resize) for i in images) + 32 * MB)
check("predict", peak(["predict", "-m", model, "-j", str(T), "-b", str(B),
                       "--max-megapixels", "10"] + images), budget)
# train: weights, gradients and velocity; a batch's activations; two
# prefetched batches of input tensors; decoding as predict at 100 MP
small = inspect("alexnet-small")
c, h, w = small["input"]
B = 64
budget = (12 * small["params"] + B * small["memory"]["train_per_image"] +
          2 * B * c * h * w * 4 + T * max(image_bytes(i, h) for i in images) + 32 * MB)
check("train", peak(["train", "--preset", "alexnet-small", "--epochs", "1", "-b", str(B),
                     "-j", str(T), "-q", "-o", f"{tmp}/budget.safetensors", f"{tmp}/big"]),
      budget)
# convert: the input file and 8 bytes a parameter
budget = os.path.getsize(pth) + 8 * inspect(f"{tmp}/budget.safetensors")["params"] + 32 * MB
check("convert", peak(["convert", pth, f"{tmp}/budget2.safetensors"]), budget)
sys.exit(1 if failed else 0)
PY
}
test_expect "peak memory within the budgets the man pages state" memory_budget

# Last: its trap removes $tmp when it ends.
faults_7() {
        mnt=$tmp/mnt
        mkdir -p "$mnt"
        if mount -t tmpfs -o size=8m tmpfs "$mnt" 2>/dev/null; then
                trap 'umount "$mnt" 2>/dev/null; rm -rf "$tmp"' EXIT
                ckpt=$mnt/run.ckpt
                expect 0 "$ALEXNET" train $train_args --epochs 1 --checkpoint "$ckpt" --keep-checkpoint \
                        -o "$mnt/first.safetensors" "$data"
                cp "$ckpt" "$tmp/ckpt.before"
                # leave less room than one more checkpoint needs
                dd if=/dev/zero of="$mnt/filler" bs=64k 2>/dev/null || true
                rm -f "$mnt/first.safetensors"
                dd if=/dev/zero of="$mnt/filler2" bs=64k count=8 2>/dev/null || true
                expect 2 "$ALEXNET" train $train_args --epochs 2 --resume "$ckpt" \
                        --checkpoint "$ckpt" -o "$mnt/second.safetensors" "$data"
                one_line_error "$ckpt"
                grep -q "No space left on device" "$err" || fail "checkpoint: ENOSPC"
                cmp -s "$ckpt" "$tmp/ckpt.before" || fail "the previous checkpoint changed"
                ! ls "$mnt" | grep -q tmp || fail "a temporary file was left behind"
                dd if=/dev/zero of="$mnt/filler3" bs=4k 2>/dev/null || true
                expect 2 "$ALEXNET" convert "$small_pth" "$mnt/owt.safetensors"
                one_line_error "$mnt/owt.safetensors"
                [ ! -e "$mnt/owt.safetensors" ] || fail "convert left a file on a full disk"
                ! ls "$mnt" | grep -q tmp || fail "convert left a temporary file"
                umount "$mnt"
        else
                echo "SKIP: cannot mount a tmpfs here (the full-tmpfs checks)"
        fi
}
test_expect "a small file system filled up (needs permission to mount tmpfs)" faults_7

test_done
