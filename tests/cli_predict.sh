#!/bin/sh
# alexnet predict from the command line: formats, standard input, order,
# exit statuses, broken images among good ones, sharding, pipes.
. "${top_srcdir:-.}/tests/clilib.sh"

model=$FIXTURES/predict/model.safetensors
P=$FIXTURES/predict
bad=$FIXTURES/images/bad
good="$P/square256.png $P/small.jpg $P/tall.png $P/wide.jpg"

predict_1() {
        expect 0 "$ALEXNET" predict -m "$model" $good
        [ "$(wc -l <"$out")" -eq 4 ] || fail "text: 4 lines expected"
        cut -d: -f1 "$out" | tr '\n' ' ' | grep -qx "$(echo $good) " || fail "text order"
        grep -q "^$P/small.jpg: tabby cat 95.1%, " "$out" || fail "text record"
        [ "$(head -1 "$out" | tr ',' '\n' | wc -l)" -eq 5 ] || fail "default k is 5"
}
test_expect "text: one line per image, in input order" predict_1

predict_2() {
        expect 0 "$ALEXNET" predict -m "$model" -f tsv -k 3 --header $good
        [ "$(wc -l <"$out")" -eq 13 ] || fail "tsv: header + 12 lines"
        head -1 "$out" | grep -q "^path	rank	index	probability	label$" || fail "tsv header"
        grep -q "^$P/small.jpg	1	9	0.95[0-9]*	tabby cat$" "$out" || fail "tsv record"
        awk -F'\t' 'NR > 1 && NF != 5 { exit 1 }' "$out" || fail "tsv fields"
        # at least 6 significant digits
        awk -F'\t' 'NR > 1 && $4 !~ /e/ { d = $4; sub(/^0\.0*/, "", d); if (length(d) < 5) exit 1 }' "$out" ||
                fail "tsv probability digits"
}
test_expect "tsv: one line per image and rank" predict_2

predict_3() {
        expect 1 "$ALEXNET" predict -m "$model" -f json -k 2 "$P/wide.jpg" "$bad/truncated.jpg" "$P/tall.png"
        [ "$(wc -l <"$out")" -eq 3 ] || fail "json: 3 lines"
        sed -n 1p "$out" | grep -q "^{\"file\":\"$P/wide.jpg\",\"top\":\[{\"rank\":1,\"index\":9,\"label\":\"tabby cat\",\"prob\":0.9[0-9]*},{\"rank\":2," ||
                fail "json record"
        sed -n 2p "$out" | grep -q "^{\"file\":\"$bad/truncated.jpg\",\"error\":\"JPEG: .*\"}$" || fail "json error record"
        [ "$(wc -l <"$err")" -eq 1 ] || fail "one stderr line per failure"
        grep -q "^alexnet: $bad/truncated.jpg: JPEG: " "$err" || fail "stderr names the file"
        if command -v python3 >/dev/null 2>&1; then
                python3 -c 'import json, sys
for line in open(sys.argv[1]): json.loads(line)' "$out" || fail "json does not parse"
        fi
}
test_expect "json: JSON Lines; a failure is a record too" predict_3

predict_4() {
        printf '%s\n' $good | "$ALEXNET" predict -m "$model" -f tsv -k 1 >"$out" 2>"$err" || fail "stdin"
        [ "$(wc -l <"$out")" -eq 4 ] || fail "stdin: 4 records"
        printf '%s\0' $good | "$ALEXNET" predict -0 -m "$model" -f tsv -k 1 >"$tmp/nul" 2>"$err" || fail "-0"
        cmp -s "$out" "$tmp/nul" || fail "-0 and newline input differ"
        echo "$P/tall.png" | "$ALEXNET" predict -m "$model" -k 1 "$P/wide.jpg" - "$P/small.jpg" >"$out" 2>"$err" || fail "-"
        cut -d: -f1 "$out" | tr '\n' ' ' | grep -qx "$P/wide.jpg $P/tall.png $P/small.jpg " || fail "- order"
}
test_expect "standard input, newline- and NUL-separated, and \"-\" among operands" predict_4

predict_5() {
        expect 1 "$ALEXNET" predict -m "$model" -b 2 "$P/wide.jpg" "$bad"/* "$FIXTURES/images" "$tmp/missing.jpg" "$P/tall.png"
        [ "$(wc -l <"$out")" -eq 2 ] || fail "good images among bad"
        [ "$(wc -l <"$err")" -eq $(($(ls "$bad" | wc -l) + 2)) ] || fail "one line per bad input"
        grep -q "^alexnet: $FIXTURES/images: is a directory (-r classifies the images under it)$" "$err" || fail "directory"
        grep -q "over the limit of 100000000 pixels" "$err" || fail "pixel limit"
        expect 1 "$ALEXNET" predict -m "$model" --max-megapixels 0.05 "$P/wide.jpg" "$P/small.jpg"
        grep -q "^$P/small.jpg: " "$out" || fail "--max-megapixels let small through"
        grep -q "wide.jpg: image is 400x300, over the limit of 50000 pixels" "$err" || fail "--max-megapixels"
}
test_expect "every kind of broken input among good ones: exit 1, good ones classified" predict_5

predict_6() {
        expect 0 "$ALEXNET" predict -m "$model" -f tsv -b 1 -j 1 $good
        mv "$out" "$tmp/b1"
        expect 0 "$ALEXNET" predict -m "$model" -f tsv -b 3 -j 2 $good
        cmp -s "$out" "$tmp/b1" || fail "batch size changes results"
}
test_expect "the same answers whatever the batch size and thread count" predict_6

predict_7() {
        expect 0 "$ALEXNET" predict -m "$model" --tta ten-crop -k 1 "$P/wide.jpg"
        grep -q "^$P/wide.jpg: tabby cat " "$out" || fail "ten-crop"
}
test_expect "ten-crop" predict_7

predict_8() {
        for i in 1 2 3 4 5 6 7; do printf '%s\n' $good; done >"$tmp/list"
        : >"$tmp/sharded"
        for k in 0 1 2; do
                "$ALEXNET" predict -m "$model" -k 1 -f tsv --shard $k/3 <"$tmp/list" >>"$tmp/sharded" || fail "shard $k"
        done
        "$ALEXNET" predict -m "$model" -k 1 -f tsv <"$tmp/list" >"$tmp/all" || fail "unsharded"
        [ "$(wc -l <"$tmp/sharded")" -eq 28 ] || fail "shards: 28 records"
        sort "$tmp/sharded" >"$tmp/s1"; sort "$tmp/all" >"$tmp/s2"
        cmp -s "$tmp/s1" "$tmp/s2" || fail "shards differ from the whole"
        expect 0 "$ALEXNET" predict -m "$model" -k 1 --shard 1/3 $good
        [ "$(wc -l <"$out")" -eq 1 ] && grep -q "^$P/small.jpg:" "$out" || fail "shard 1/3 of 4"
}
test_expect "shards cover every input exactly once" predict_8

predict_9() {
        weird=$(printf '%s/we\tird\n\377.png' "$tmp")
        cp "$P/tall.png" "$weird"
        printf '%s\0' "$weird" | "$ALEXNET" predict -0 -m "$model" -f tsv -k 1 >"$out" 2>"$err" || fail "weird path"
        [ "$(wc -l <"$out")" -eq 1 ] || fail "tsv weird path on one line"
        grep -q '/we\\tird\\n\\xff.png	1	' "$out" || fail "tsv escaping"
        printf '%s\0' "$weird" | "$ALEXNET" predict -0 -m "$model" -f json -k 1 >"$out" 2>"$err" || fail "weird json"
        grep -q '/we\\tird\\n\\ufffd.png","file_hex":"[0-9a-f]*7765096972640aff2e706e67","top"' "$out" ||
                fail "json escaping"
}
test_expect "paths with tabs, newlines and invalid UTF-8 still give valid records" predict_9

predict_10() {
        for i in $(seq 40); do echo "$P/small.jpg"; done >"$tmp/many"
        "$ALEXNET" predict -m "$model" -b 1 <"$tmp/many" 2>"$err" | head -1 >"$out"
        [ ! -s "$err" ] || fail "| head: stderr not quiet"
        [ "$(wc -l <"$out")" -eq 1 ] || fail "| head"
}
test_expect "a closed pipe ends quietly" predict_10

predict_11() {
        if command -v python3 >/dev/null 2>&1; then
                python3 -c 'import signal, subprocess, sys
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, restore_signals=False,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
p.stdout.readline(); p.stdout.close()
err = p.stderr.read(); p.wait()
sys.exit(1 if err else 0)' "$ALEXNET" predict -m "$model" -b 1 $(for i in $(seq 40); do echo "$P/small.jpg"; done) ||
                        fail "EPIPE with SIGPIPE ignored was not quiet"
        fi
}
test_expect "with SIGPIPE ignored (as some parents leave it) EPIPE also ends quietly" predict_11

predict_12() {
        ALEXNET_MODEL= expect 2 "$ALEXNET" predict "$P/wide.jpg"
        grep -q "^alexnet: no model: give -m MODEL or set ALEXNET_MODEL" "$err" || fail "no model message"
        ALEXNET_MODEL=$model expect 0 "$ALEXNET" predict "$P/wide.jpg"
        expect 2 "$ALEXNET" predict -m "$P/wide.jpg" "$P/wide.jpg"
        one_line_error "$P/wide.jpg"
        expect 2 "$ALEXNET" predict -m "$model" -f xml "$P/wide.jpg"
        expect 2 "$ALEXNET" predict -m "$model" --shard 3/3 "$P/wide.jpg"
        expect 2 "$ALEXNET" predict -m "$model" -k 0 "$P/wide.jpg"
        expect 2 "$ALEXNET" predict -m "$model" --tta five "$P/wide.jpg"
}
test_expect "no model, bad model, bad options: exit 2" predict_12

predict_13() {
        expect 0 "$ALEXNET" predict -m "$model" -f tsv -k 3 -b 4 $good
        mv "$out" "$tmp/fp32"
        for b in 4 1; do
                expect 0 "$ALEXNET" predict -m "$model" -f tsv -k 3 -b $b --precision bf16 $good
                paste "$tmp/fp32" "$out" | awk -F'\t' '$1 != $6 || $2 != $7 || $3 != $8 ||
                ($4 - $9) > 0.02 || ($9 - $4) > 0.02 { exit 1 }' ||
                        fail "bf16 (batch $b) differs from fp32 beyond rounding"
        done
        expect 2 "$ALEXNET" predict -m "$model" --precision fp16 "$P/wide.jpg"
}
test_expect "--precision bf16: the same records (batched and one by one) with probabilities within bfloat16 rounding of fp32's" predict_13

# Photos decode whole by default (test_classify holds the probabilities to
# PyTorch's); --fast-jpeg decodes them at reduced scale: other numbers for
# the large photos, the same for a small JPEG and for PNGs.
predict_14() {
        photos="$P/photo_1600x1200.jpg $P/photo_1024x683.jpg"
        expect 0 "$ALEXNET" predict -m "$model" -f tsv -k 10 $photos "$P/small.jpg" "$P/tall.png"
        mv "$out" "$tmp/whole.tsv"
        expect 0 "$ALEXNET" predict -m "$model" -f tsv -k 10 --fast-jpeg $photos "$P/small.jpg" "$P/tall.png"
        for f in $photos; do
                [ "$(grep "^$f" "$out")" != "$(grep "^$f" "$tmp/whole.tsv")" ] ||
                        fail "$f: --fast-jpeg changed nothing"
        done
        for f in "$P/small.jpg" "$P/tall.png"; do
                [ "$(grep "^$f" "$out")" = "$(grep "^$f" "$tmp/whole.tsv")" ] ||
                        fail "$f: --fast-jpeg changed an image it cannot scale"
        done
}
test_expect "--fast-jpeg: reduced-scale decoding of large JPEGs only" predict_14

# Records that pipelines can trust: four predicts writing one pipe at once
# (xargs -P4) never tear a line; TSV probabilities in fixed decimals (so
# sort -n orders them), JSON with every digit; a name on stderr escaped as
# on stdout; a file name taken for an option says how to name it.
predict_15() {
        mkdir -p "$tmp/piped"
        i=0
        while [ $i -lt 480 ]; do
                # long names: records of a few hundred bytes each
                ln -s "$(cd "$P" && pwd)/small.jpg" \
                        "$tmp/piped/$(printf 'photo-%04d-%0150d' $i 0).jpg"
                i=$((i + 1))
        done
        # (into a pipe: before records were written whole, 4 to 11 lines of
        # 480 came out torn)
        find "$tmp/piped" -name '*.jpg' -print0 |
                xargs -0 -P4 -n60 "$ALEXNET" predict -m "$model" -f json -k 10 -j1 |
                cat >"$tmp/parallel-out.json" || fail "xargs"
        [ "$(wc -l <"$tmp/parallel-out.json")" = 480 ] || fail "$(wc -l <"$tmp/parallel-out.json") lines, not 480"
        if command -v python3 >/dev/null; then
                python3 -c '
import json, sys
for line in open(sys.argv[1]):
    json.loads(line)["top"]
' "$tmp/parallel-out.json" || fail "a torn JSON line"
        fi
        expect 0 "$ALEXNET" predict -m "$model" -f tsv -k 10 "$P/small.jpg"
        ! cut -f4 "$out" | grep -Evq '^[01]\.[0-9]{8}$' ||
                fail "TSV probabilities not in fixed decimals: $(cut -f4 "$out" | tr '\n' ' ')"
        sort -t"$(printf '\t')" -k4,4nr "$out" | cut -f2 | tr '\n' ' ' |
                grep -qx "1 2 3 4 5 6 7 8 9 10 " || fail "sort -n does not give rank order"
        expect 0 "$ALEXNET" predict -m "$model" -f json -k 1 "$P/small.jpg"
        grep -q '"prob":0\.95094[0-9]\{4\}}' "$out" || fail "JSON precision: $(cat "$out")"
        name="$tmp/odd$(printf '\033')[31m
name.jpg"
        printf 'x' >"$name"
        expect 1 "$ALEXNET" predict -m "$model" "$name"
        [ "$(wc -l <"$err")" = 1 ] || fail "the message took more than one line"
        grep -q 'odd\\x1b\[31m\\nname.jpg: not a JPEG or PNG image' "$err" ||
                fail "stderr not escaped: $(cat -A "$err")"
        expect 2 "$ALEXNET" predict -m "$model" -k 1 -x.jpg
        grep -q "unknown option '-x.jpg' (a file? write ./NAME, or put it after --)" "$err" ||
                fail "the argument blamed: $(head -1 "$err")"
}
test_expect "records pipelines can trust: no torn lines, sortable numbers, escaped names" predict_15

# --eval matches class folders to the model's labels by name: any subset
# of the classes, a clear error for a folder that is none of them, and
# -f tsv / -f json as asked.
eval_by_name() {
        mkdir -p "$tmp/ev/tabby cat" "$tmp/ev/class 3"
        cp "$P/small.jpg" "$P/wide.jpg" "$tmp/ev/tabby cat/"
        cp "$P/tall.png" "$tmp/ev/class 3/"
        expect 0 "$ALEXNET" predict -m "$model" --eval "$tmp/ev" -f tsv --header
        head -1 "$out" | grep -qx "class	output	images	top1	top5	failed" || fail "tsv header"
        grep -q "^tabby cat	9	2	" "$out" || fail "tabby cat is output 9: $(cat "$out")"
        grep -q "^class 3	3	1	" "$out" || fail "class 3 is output 3"
        tail -1 "$out" | grep -q "^\*		3	" || fail "the total line"
        expect 0 "$ALEXNET" predict -m "$model" --eval "$tmp/ev" -f json
        grep -q '"name":"tabby cat","output":9' "$out" || fail "json classes"
        expect 0 "$ALEXNET" predict -m "$model" --eval "$tmp/ev"
        grep -q "classes matched by name" "$out" || fail "text says how classes were matched"
        mv "$tmp/ev/class 3" "$tmp/ev/class three"
        expect 2 "$ALEXNET" predict -m "$model" --eval "$tmp/ev"
        one_line_error "$tmp/ev"
        grep -q "class folder 'class three' is none of the model's labels" "$err" ||
                fail "a folder no label names: $(cat "$err")"
}
test_expect "--eval matches class folders to labels by name; tsv and json" eval_by_name

# -r walks the directories given: images only (any case of .jpg, .jpeg,
# .png), depth first in byte order; a symbolic link looping back is named
# and skipped (exit 1), the rest still classified; without -r a directory
# says to use it.
recursive() {
        mkdir -p "$tmp/tree/a/b" "$tmp/tree/c"
        cp "$P/small.jpg" "$tmp/tree/a/1.jpg"
        cp "$P/tall.png" "$tmp/tree/a/b/2.PNG"
        cp "$P/wide.jpg" "$tmp/tree/c/3.jpeg"
        echo notes >"$tmp/tree/c/notes.txt"
        expect 0 "$ALEXNET" predict -m "$model" -k 1 -r "$tmp/tree"
        cut -d: -f1 "$out" | tr '\n' ' ' |
                grep -qx "$tmp/tree/a/1.jpg $tmp/tree/a/b/2.PNG $tmp/tree/c/3.jpeg " ||
                fail "order or selection: $(cut -d: -f1 "$out" | tr '\n' ' ')"
        ln -s .. "$tmp/tree/a/b/up"
        expect 1 "$ALEXNET" predict -m "$model" -k 1 -r "$tmp/tree"
        [ "$(wc -l <"$out")" = 3 ] || fail "the images beside a loop"
        grep -q "up: a link back to $tmp/tree/a (a loop): skipped" "$err" || fail "loop: $(cat "$err")"
        expect 1 "$ALEXNET" predict -m "$model" "$tmp/tree" "$P/small.jpg"
        grep -q "tree: is a directory (-r classifies the images under it)" "$err" || fail "no hint"
        grep -q "small.jpg: " "$out" || fail "the image after the directory"
}
test_expect "-r walks directories in sorted order; loops are reported" recursive

# The README's nightly cron script, run twice: the second run labels only
# the photo added between them; -o leaves no file behind a failed run.
readme_cron_job() {
        job=$tmp/job
        mkdir -p "$job/photos/2026"
        cp "$P/small.jpg" "$job/photos/a.jpg"
        cp "$P/tall.png" "$job/photos/2026/b.png"
        cp "$model" "$job/model.safetensors"
        sed -n '/^# nightly.sh:/,/^exit \$status$/p' "${top_srcdir:-.}/README.md" |
                sed "s|^cd /srv/photo-labels|cd '$job'|" >"$job/nightly.sh"
        grep -q "skip-done" "$job/nightly.sh" || fail "the README's script was not found"
        bindir=$(cd "$(dirname "$ALEXNET")" && pwd)
        PATH="$bindir:$PATH" sh "$job/nightly.sh" 2>"$err" || fail "first run: $(cat "$err")"
        [ "$(cut -f1 "$job/labels.tsv" | sort -u | wc -l)" = 2 ] || fail "first run: $(cat "$job/labels.tsv")"
        grep -q "2 classified, 0 failed in" "$err" || fail "summary: $(cat "$err")"
        cp "$P/wide.jpg" "$job/photos/2026/c.jpg"
        PATH="$bindir:$PATH" sh "$job/nightly.sh" 2>"$err" || fail "second run"
        grep -q "1 classified, 0 failed, 2 skipped as done" "$err" || fail "second summary: $(cat "$err")"
        [ "$(cut -f1 "$job/labels.tsv" | sort -u | wc -l)" = 3 ] || fail "second run: $(cut -f1 "$job/labels.tsv" | sort -u)"
        [ "$(grep -c "c.jpg" "$job/labels.tsv")" = 5 ] || fail "c.jpg once (5 ranks)"
        cp "$job/new.tsv" "$tmp/new.before"
        expect 2 "$ALEXNET" predict -m "$tmp/nonexistent.safetensors" -o "$job/new.tsv" "$P/small.jpg"
        cmp -s "$job/new.tsv" "$tmp/new.before" || fail "-o changed its file in a failed run"
        ! ls "$job" | grep -q "tmp" || fail "-o left a temporary file"
}
test_expect "the README's cron job: -r, --skip-done, -o, --summary" readme_cron_job

# --header with shards: one header in the shards' outputs put together.
header_once_for_shards() {
        for k in 0 1 2; do
                "$ALEXNET" predict -m "$model" -f tsv --header --shard $k/3 -k 1 $good ||
                        fail "shard $k"
        done >"$tmp/shards.tsv"
        [ "$(grep -c '^path	rank' "$tmp/shards.tsv")" = 1 ] || fail "$(grep -c '^path' "$tmp/shards.tsv") headers"
        [ "$(wc -l <"$tmp/shards.tsv")" = 5 ] || fail "header and 4 records"
}
test_expect "--header with --shard: one header for the shards together" header_once_for_shards

test_done
