#!/bin/sh
# A busy machine: alexnet bounds how long its idle threads spin (it starts
# itself again with GOMP_SPINCOUNT and KMP_BLOCKTIME in its environment,
# unless the user set a waiting policy), and with every core taken by
# other processes it computes on one thread instead of all of them.
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

# environ_has PID VAR=VALUE
environ_has() {
        tr '\0' '\n' <"/proc/$1/environ" | grep -qx "$2"
}

spin_bounded() {
        start_predict
        environ_has "$pid" GOMP_SPINCOUNT=10000 || fail "no GOMP_SPINCOUNT"
        environ_has "$pid" KMP_BLOCKTIME=0 || fail "no KMP_BLOCKTIME"
        stop_predict
        start_predict OMP_WAIT_POLICY=active
        ! environ_has "$pid" GOMP_SPINCOUNT=10000 || fail "the user's policy was overridden"
        stop_predict
}
test_expect "idle threads spin a bounded time unless the user chose" spin_bounded

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
