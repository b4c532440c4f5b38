#!/bin/sh
# alexnet train on a tiny image folder: the model it writes, the CSV log,
# unreadable images skipped once, runs reproducible bit for bit (whatever
# the thread count), and interrupted runs (SIGINT and SIGKILL at arbitrary
# moments) resumed to exactly the weights of an uninterrupted run.
. "${top_srcdir:-.}/tests/clilib.sh"

same=${top_builddir:-.}/tests/same_weights
I=$FIXTURES/images
data=$tmp/data
mkdir -p "$data/apple" "$data/banana" "$data/cherry"
cp "$I"/rgb8.png "$I"/rgba8.png "$I"/gray8.png "$I"/palette.png "$data/apple/"
cp "$I"/bad/truncated.jpg "$data/apple/broken.jpg"
cp "$I"/baseline.jpg "$I"/progressive.jpg "$I"/gray.jpg "$I"/cmyk.jpg "$data/banana/"
cp "$I"/exif1.jpg "$I"/exif3.jpg "$I"/exif6.jpg "$I"/exif8.jpg "$data/cherry/"

args="--preset alexnet-small --epochs 4 -b 4 --lr 0.01 --init he --augment paper --val-split 0.25 --seed 5 -q"

expect 0 "$ALEXNET" train $args -j 2 --log "$tmp/log.csv" -o "$tmp/a.safetensors" "$data"
[ "$(grep -c 'broken.jpg' "$err")" -eq 1 ] || fail "the broken image is reported once"
[ "$(wc -l <"$tmp/log.csv")" -eq 5 ] || fail "CSV: header and 4 epochs"
head -1 "$tmp/log.csv" | grep -q '^epoch,lr,train_loss,train_top1,val_loss,val_top1,val_top5,seconds,images_per_s$' ||
        fail "CSV header"
expect 0 "$ALEXNET" inspect "$tmp/a.safetensors"
grep -q "labels: *3: apple, banana, cherry" "$out" || fail "labels"
grep -q "trained_on" "$out" || fail "provenance"
expect 0 "$ALEXNET" predict -m "$tmp/a.safetensors" -k 1 "$I/rgb8.png"

# accuracy on a labelled folder (the broken image makes it exit 1)
expect 1 "$ALEXNET" predict -m "$tmp/a.safetensors" --eval "$data"
grep -q "^images: 12 (1 could not be read)$" "$out" || fail "--eval count"
grep -q "^top-1: " "$out" && grep -q "^top-5: 100.00%$" "$out" || fail "--eval accuracy"
grep -q "^confusion matrix" "$out" || fail "--eval confusion"
expect 1 "$ALEXNET" predict -m "$tmp/a.safetensors" -f json --eval "$data"
grep -q '^{"images":12,"failed":1,"top1":' "$out" || fail "--eval json"
expect 2 "$ALEXNET" predict -m "$tmp/a.safetensors" --eval "$data" "$I/rgb8.png"

# the same run again, on one thread: the same weights, bit for bit
expect 0 "$ALEXNET" train $args -j 1 -o "$tmp/b.safetensors" "$data"
"$same" "$tmp/a.safetensors" "$tmp/b.safetensors" || fail "runs differ"

# decoded once and kept (--cache) or streamed: the same weights
mkdir -p "$tmp/clean"
cp -r "$data"/* "$tmp/clean/"
rm "$tmp/clean/apple/broken.jpg"
expect 0 "$ALEXNET" train $args --epochs 2 -o "$tmp/s.safetensors" "$tmp/clean"
expect 0 "$ALEXNET" train $args --epochs 2 --cache -o "$tmp/m.safetensors" "$tmp/clean"
"$same" "$tmp/s.safetensors" "$tmp/m.safetensors" || fail "--cache changes the weights"

# interrupted at arbitrary moments, then resumed: still the same weights
ckpt=$tmp/c.ckpt
for signal in INT KILL INT KILL; do
        if [ -e "$ckpt" ]; then
                "$ALEXNET" train $args --checkpoint-every 0.0003 --checkpoint "$ckpt" \
                        --resume "$ckpt" -o "$tmp/c.safetensors" "$data" 2>"$err" &
        else
                "$ALEXNET" train $args --checkpoint-every 0.0003 --checkpoint "$ckpt" \
                        -o "$tmp/c.safetensors" "$data" 2>"$err" &
        fi
        pid=$!
        sleep 0.$(( $(od -An -N1 -tu1 /dev/urandom) % 6 + 2 ))
        kill -$signal $pid 2>/dev/null
        wait $pid
        rc=$?
        if [ $signal = INT ] && [ $rc -eq 2 ]; then
                grep -q "interrupted; checkpoint written to $ckpt" "$err" ||
                        fail "SIGINT message"
        fi
        ls "$tmp"/*.tmp.* >/dev/null 2>&1 && [ $signal = INT ] &&
                fail "temporary file left after SIGINT"
        # SIGKILL may leave a temporary file beside the checkpoint (never a
        # truncated checkpoint under its name)
        rm -f "$tmp"/*.tmp.*
done
if [ -e "$ckpt" ]; then
        expect 0 "$ALEXNET" train $args --checkpoint "$ckpt" --resume "$ckpt" -o "$tmp/c.safetensors" "$data"
else
        expect 0 "$ALEXNET" train $args --checkpoint "$ckpt" -o "$tmp/c.safetensors" "$data"
fi
"$same" "$tmp/a.safetensors" "$tmp/c.safetensors" || fail "resumed run differs"

# fine-tuning from a model file with another class count, FC layers only
mkdir -p "$tmp/two/x" "$tmp/two/y"
cp "$I"/rgb8.png "$I"/gray8.png "$tmp/two/x/"
cp "$I"/baseline.jpg "$I"/gray.jpg "$tmp/two/y/"
expect 0 "$ALEXNET" train --from "$tmp/a.safetensors" --freeze features --epochs 1 -b 2 -q -o "$tmp/ft.safetensors" "$tmp/two"
expect 0 "$ALEXNET" inspect "$tmp/ft.safetensors"
grep -q "labels: *2: x, y" "$out" || fail "fine-tuned labels"

# --resize is recorded for predict; --augment flip runs
expect 0 "$ALEXNET" train --preset alexnet-small --epochs 1 -b 2 -q --resize 40 \
        --augment flip -o "$tmp/r.safetensors" "$tmp/two"
expect 0 "$ALEXNET" inspect "$tmp/r.safetensors"
grep -q "resize 40, centre crop 32x32" "$out" || fail "--resize not recorded"

# bad use
expect 2 "$ALEXNET" train --preset alexnet-small --resize 31 -q "$tmp/two"
one_line_error alexnet-small
expect 2 "$ALEXNET" train --augment mirror "$data"
expect 2 "$ALEXNET" train -q -o "$tmp/x.safetensors" "$tmp/nonexistent"
expect 2 "$ALEXNET" train --val-split 0.2 --val "$data" "$data"
expect 2 "$ALEXNET" train --schedule linear "$data"
expect 2 "$ALEXNET" train --resume "$I/rgb8.png" "$data"
pass
