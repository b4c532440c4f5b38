#!/bin/sh
# alexnet train on a tiny image folder: the model it writes, the CSV log,
# unreadable images skipped once, runs reproducible bit for bit (whatever
# the thread count), interrupted runs (SIGINT and SIGKILL at arbitrary
# moments) resumed to exactly the weights of an uninterrupted run, and
# --resume taking the run's options from its checkpoint.
. "${top_srcdir:-.}/tests/clilib.sh"

same=${top_builddir:-.}/tests/same_weights
I=$FIXTURES/images
data=$tmp/data
train_folder "$data"
mkdir -p "$tmp/two/x" "$tmp/two/y"
cp "$I"/rgb8.png "$I"/gray8.png "$tmp/two/x/"
cp "$I"/baseline.jpg "$I"/gray.jpg "$tmp/two/y/"

args="--preset alexnet-small --epochs 4 -b 4 --lr 0.01 --init he --augment paper --val-split 0.25 --seed 5 -q"

first_run() {
        expect 0 "$ALEXNET" train $args -j 2 --log "$tmp/log.csv" -o "$tmp/a.safetensors" "$data"
        [ "$(grep -c 'broken.jpg' "$err")" -eq 1 ] || fail "the broken image is reported once"
        [ "$(wc -l <"$tmp/log.csv")" -eq 5 ] || fail "CSV: header and 4 epochs"
        head -1 "$tmp/log.csv" | grep -q '^epoch,lr,train_loss,train_top1,val_loss,val_top1,val_top5,seconds,images_per_s,train_top5$' ||
                fail "CSV header"
}
test_expect "train writes a model, a CSV line per epoch, reports a broken image once" first_run

model_records_the_run() {
        expect 0 "$ALEXNET" inspect "$tmp/a.safetensors"
        grep -q "labels: *3: apple, banana, cherry" "$out" || fail "labels"
        grep -q "trained_on" "$out" || fail "provenance"
        expect 0 "$ALEXNET" predict -m "$tmp/a.safetensors" -k 1 "$I/rgb8.png"
}
test_expect "the model has the class folders as labels and its provenance" model_records_the_run

eval_on_folder() {
        # the broken image makes it exit 1
        expect 1 "$ALEXNET" predict -m "$tmp/a.safetensors" --eval "$data"
        grep -q "^images: 12 (1 could not be read)$" "$out" || fail "--eval count"
        # (3 classes: no top-5, which would be 100%)
        grep -q "^top-1: " "$out" && ! grep -q "^top-5" "$out" || fail "--eval accuracy"
        grep -q "^confusion matrix" "$out" || fail "--eval confusion"
        expect 1 "$ALEXNET" predict -m "$tmp/a.safetensors" -f json --eval "$data"
        grep -q '^{"images":12,"failed":1,"top1":' "$out" || fail "--eval json"
        expect 2 "$ALEXNET" predict -m "$tmp/a.safetensors" --eval "$data" "$I/rgb8.png"
}
test_expect "predict --eval reports accuracy on the training folder" eval_on_folder

one_thread_same_weights() {
        expect 0 "$ALEXNET" train $args -j 1 -o "$tmp/b.safetensors" "$data"
        "$same" "$tmp/a.safetensors" "$tmp/b.safetensors" || fail "runs differ"
}
test_expect "the same run on one thread gives the same weights bit for bit" one_thread_same_weights

cache_same_weights() {
        mkdir -p "$tmp/clean"
        cp -r "$data"/* "$tmp/clean/"
        rm "$tmp/clean/apple/broken.jpg"
        expect 0 "$ALEXNET" train $args --epochs 2 -o "$tmp/s.safetensors" "$tmp/clean"
        expect 0 "$ALEXNET" train $args --epochs 2 --cache -o "$tmp/m.safetensors" "$tmp/clean"
        "$same" "$tmp/s.safetensors" "$tmp/m.safetensors" || fail "--cache changes the weights"
}
test_expect "images decoded once (--cache) or streamed give the same weights" cache_same_weights

interrupted_and_resumed() {
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
                # SIGKILL may leave a temporary file beside the checkpoint
                # (never a truncated checkpoint under its name)
                rm -f "$tmp"/*.tmp.*
        done
        if [ -e "$ckpt" ]; then
                expect 0 "$ALEXNET" train $args --checkpoint "$ckpt" --resume "$ckpt" -o "$tmp/c.safetensors" "$data"
        else
                expect 0 "$ALEXNET" train $args --checkpoint "$ckpt" -o "$tmp/c.safetensors" "$data"
        fi
        "$same" "$tmp/a.safetensors" "$tmp/c.safetensors" || fail "resumed run differs"
}
test_expect "runs interrupted by SIGINT and SIGKILL resume to the same weights" interrupted_and_resumed

# An interrupted run, its checkpoint at $tmp/r/m.safetensors.ckpt.
interrupt_a_run() {
        rm -rf "$tmp/r"
        mkdir -p "$tmp/r"
        "$ALEXNET" train $args --checkpoint-every 0.0003 -o "$tmp/r/m.safetensors" "$data" 2>"$err" &
        pid=$!
        while [ ! -e "$tmp/r/m.safetensors.ckpt" ] && kill -0 $pid 2>/dev/null; do
                sleep 0.05
        done
        kill -INT $pid 2>/dev/null
        wait $pid
        [ -e "$tmp/r/m.safetensors.ckpt" ] || fail "no checkpoint written"
}

resume_with_checkpoint_alone() {
        interrupt_a_run
        rm -f "$tmp/r/m.safetensors"
        # as the Ctrl-C message says: the checkpoint, nothing else
        expect 0 "$ALEXNET" train --resume "$tmp/r/m.safetensors.ckpt"
        "$same" "$tmp/a.safetensors" "$tmp/r/m.safetensors" ||
                fail "resumed with the checkpoint alone: other weights"
        expect 0 "$ALEXNET" inspect "$tmp/r/m.safetensors"
        grep -q "epochs.*4" "$out" || fail "4 epochs recorded"
}
test_expect "--resume CKPT alone continues the run its checkpoint records" resume_with_checkpoint_alone

resume_refuses_conflicting_options() {
        interrupt_a_run
        expect 2 "$ALEXNET" train --resume "$tmp/r/m.safetensors.ckpt" --lr 0.5
        grep -q "^alexnet train: --lr differs from the checkpoint's 0.01" "$err" ||
                fail "the conflicting option is named"
        expect 2 "$ALEXNET" train --resume "$tmp/r/m.safetensors.ckpt" --preset alexnet-half
        grep -q "\-\-preset differs" "$err" || fail "--preset conflict"
        expect 2 "$ALEXNET" train --resume "$tmp/r/m.safetensors.ckpt" --seed 9 "$data"
        grep -q "\-\-seed differs" "$err" || fail "--seed conflict"
        # repeating the run's own options is fine
        expect 0 "$ALEXNET" train $args --resume "$tmp/r/m.safetensors.ckpt" "$data"
        "$same" "$tmp/a.safetensors" "$tmp/r/m.safetensors" || fail "weights"
}
test_expect "--resume refuses an option that differs from the checkpoint's" resume_refuses_conflicting_options

resume_may_extend_epochs() {
        interrupt_a_run
        expect 0 "$ALEXNET" train --resume "$tmp/r/m.safetensors.ckpt" --epochs 5 \
                --log "$tmp/r/log.csv" -o "$tmp/r/five.safetensors"
        tail -1 "$tmp/r/log.csv" | grep -q "^5," || fail "ran to epoch 5"
        expect 0 "$ALEXNET" train $args --epochs 5 -o "$tmp/r/five-straight.safetensors" "$data"
        "$same" "$tmp/r/five.safetensors" "$tmp/r/five-straight.safetensors" ||
                fail "extended run differs from a 5-epoch run"
}
test_expect "--resume may change --epochs, -o and --log" resume_may_extend_epochs

fine_tuning() {
        expect 0 "$ALEXNET" train --from "$tmp/a.safetensors" --freeze features --epochs 1 -b 2 -q -o "$tmp/ft.safetensors" "$tmp/two"
        expect 0 "$ALEXNET" inspect "$tmp/ft.safetensors"
        grep -q "labels: *2: x, y" "$out" || fail "fine-tuned labels"
}
test_expect "fine-tuning from a model with another class count" fine_tuning

resize_recorded() {
        expect 0 "$ALEXNET" train --preset alexnet-small --epochs 1 -b 2 -q --resize 40 \
                --augment flip -o "$tmp/r40.safetensors" "$tmp/two"
        expect 0 "$ALEXNET" inspect "$tmp/r40.safetensors"
        grep -q "resize 40, centre crop 32x32" "$out" || fail "--resize not recorded"
}
test_expect "--resize is recorded for predict; --augment flip runs" resize_recorded

bad_use() {
        expect 2 "$ALEXNET" train --preset alexnet-small --resize 31 -q "$tmp/two"
        one_line_error alexnet-small
        expect 2 "$ALEXNET" train --augment mirror "$data"
        grep -q "'--augment' needs none, flip, flip-crop or paper, not 'mirror'" "$err" ||
                fail "bad choice message"
        expect 2 "$ALEXNET" train -q -o "$tmp/x.safetensors" "$tmp/nonexistent"
        expect 2 "$ALEXNET" train --val-split 0.2 --val "$data" "$data"
        expect 2 "$ALEXNET" train --schedule linear "$data"
        expect 2 "$ALEXNET" train --resume "$I/rgb8.png" "$data"
        expect 2 "$ALEXNET" train --resume "$tmp/a.safetensors"
        grep -q "not a training checkpoint" "$err" || fail "a model is not a checkpoint"
        expect 2 "$ALEXNET" train
        grep -q "expected one DATADIR" "$err" || fail "no DATADIR"
}
test_expect "bad use is refused with a clear message" bad_use

# The ends of a run: the checkpoint removed once the model is written
# (kept with --keep-checkpoint), a last line naming the model, no
# validation columns without validation, no top-5 for 5 classes or fewer,
# and one class folder refused.
run_edges() {
        expect 0 "$ALEXNET" train --preset alexnet-small --epochs 1 -b 4 --seed 5 \
                --log "$tmp/novel.csv" -o "$tmp/e.safetensors" "$data"
        [ ! -e "$tmp/e.safetensors.ckpt" ] || fail "the checkpoint stayed"
        tail -1 "$err" | grep -qx "alexnet: train: wrote $tmp/e.safetensors" ||
                fail "no last line naming the model: $(tail -1 "$err")"
        grep -q "val" "$err" && fail "validation shown without validation: $(grep val "$err")"
        tail -1 "$tmp/novel.csv" | grep -q '^1,[^,]*,[^,]*,[^,]*,,,,[^,]*,[^,]*,$' ||
                fail "validation columns not empty: $(tail -1 "$tmp/novel.csv")"
        expect 0 "$ALEXNET" train --preset alexnet-small --epochs 1 -b 4 --seed 5 -q \
                --val-split 0.25 --keep-checkpoint --log "$tmp/val.csv" -o "$tmp/k.safetensors" "$data"
        [ -s "$tmp/k.safetensors.ckpt" ] || fail "--keep-checkpoint"
        ! grep -v "(skipped)$" "$err" | grep -q . || fail "-q printed: $(cat "$err")"
        # 3 classes: top-1 and loss, no top-5 (it would be 100%)
        tail -1 "$tmp/val.csv" | grep -q '^1,[^,]*,[^,]*,[^,]*,[0-9.]*,[0-9.]*,,' ||
                fail "validation columns: $(tail -1 "$tmp/val.csv")"
        mkdir -p "$tmp/one/only"
        cp "$I/rgb8.png" "$I/gray8.png" "$tmp/one/only/"
        expect 2 "$ALEXNET" train --preset alexnet-small --epochs 1 -o "$tmp/one.safetensors" "$tmp/one"
        one_line_error "$tmp/one"
        grep -q "one class folder (only): a classifier needs at least two" "$err" ||
                fail "one class: $(cat "$err")"
        [ ! -e "$tmp/one.safetensors" ] || fail "a one-class model was written"
}
test_expect "a run's ends: checkpoint removed, last line, validation columns, one class refused" run_edges

test_done
