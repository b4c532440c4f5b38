#!/bin/sh
# A busy machine: with every core taken by other processes, alexnet
# computes on one thread instead of all of them (which would wait for
# each other at every layer).
. "${top_srcdir:-.}/tests/clilib.sh"

model=${top_srcdir:-.}/weights/fashion-mnist.safetensors
sample=${top_srcdir:-.}/weights/samples/bag-00018.png

# start_predict ENV...: alexnet predict reading paths from a FIFO, one
# path given; its pid in $pid, once its first record is out.
start_predict() {
        rm -f "$tmp/fifo" "$tmp/records"
        mkfifo "$tmp/fifo"
        env "$@" "$ALEXNET" predict -b 1 -m "$model" -f tsv -k 1 <"$tmp/fifo" >"$tmp/records" 2>"$err" &
        pid=$!
        exec 3>"$tmp/fifo"
        echo "$sample" >&3
        i=0
        while [ ! -s "$tmp/records" ] && [ $i -lt 200 ]; do
                sleep 0.05
                i=$((i + 1))
        done
        [ -s "$tmp/records" ] || fail "no record"
}

stop_predict() {
        exec 3>&-
        wait "$pid" || fail "predict failed"
}

one_thread_when_busy() {
        hogs=
        for i in $(seq "$(nproc)"); do
                sh -c 'while :; do :; done' &
                hogs="$hogs $!"
        done
        # (this runs in a subshell: its EXIT stops them whatever fails)
        trap 'kill $hogs 2>/dev/null' EXIT
        sleep 0.2
        # (make check sets OMP_NUM_THREADS, which fixes the number)
        start_predict -u OMP_NUM_THREADS
        # a second batch, computed with the cores all taken
        echo "$sample" >&3
        sleep 1
        threads=$(ls "/proc/$pid/task" | wc -l)
        kill $hogs
        stop_predict
        [ "$threads" -eq 1 ] || fail "$threads threads with every core busy"
}
test_expect "with every core taken, one thread" one_thread_when_busy

test_done
