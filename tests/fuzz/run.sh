#!/bin/bash
# Builds the libFuzzer harnesses with clang (coverage, ASan, UBSan) and runs
# each on its corpus for FUZZ_SECONDS (default 60).  `make fuzz` calls this
# with the library's compiler flags; findings (crash-*, leak-*, timeout-*,
# oom-*) land in $FUZZ_OUT/<harness>/ and fail the run.
#
#   FUZZ_SECONDS=1800 FUZZ_ONLY="image onnx" make fuzz
#
# Environment: srcdir, builddir, FUZZ_CC (clang), FUZZ_CPPFLAGS, FUZZ_LIBS,
# FUZZ_SECONDS, FUZZ_ONLY (harness names), FUZZ_OUT (default
# $builddir/tests/fuzz/out), FUZZ_JOBS (harnesses run at once, default 1).
set -euo pipefail
srcdir=${srcdir:-.}
builddir=${builddir:-.}
cc=${FUZZ_CC:-clang}
seconds=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-$builddir/tests/fuzz/out}
harnesses=${FUZZ_ONLY:-"image safetensors model arch pickle torch onnx darknet"}
jobs=${FUZZ_JOBS:-1}

if ! command -v "$cc" >/dev/null; then
        echo "fuzz: $cc not found (Debian: apt install clang libclang-rt-14-dev libomp-dev)" >&2
        exit 2
fi

objdir=$builddir/tests/fuzz/obj
mkdir -p "$objdir" "$out"
cflags="-std=c11 -D_DEFAULT_SOURCE -g -O1 -fno-omit-frame-pointer -fopenmp
        -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
        -I$srcdir/lib -I$builddir/lib -I$builddir -I$srcdir/tests/fuzz
        ${FUZZ_CPPFLAGS:-}"

# The library, instrumented (rebuilt only when a source is newer).
objects=()
# protoc-c's output is in the build tree (and so in lib/formats/ of an in-tree build)
sources=("$builddir"/lib/formats/onnx.pb-c.c)
for src in "$srcdir"/lib/*/*.c; do
        [ "$(basename "$src")" = onnx.pb-c.c ] || sources+=("$src")
done
for src in "${sources[@]}"; do
        # subsystem_file.o: two subsystems may hold files of one name
        sub=$(basename "$(dirname "$src")")
        obj=$objdir/${sub}_$(basename "${src%.c}").o
        if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ]; then
                echo "  FUZZCC   $src"
                # shellcheck disable=SC2086
                "$cc" $cflags -w -c "$src" -o "$obj"
        fi
        objects+=("$obj")
done
"$cc" $cflags -c "$srcdir/tests/fuzz/fuzz_file.c" -o "$objdir/fuzz_file.o"

status=0
run_one() {
        local name=$1
        local bin=$objdir/fuzz_$name
        # shellcheck disable=SC2086
        "$cc" $cflags -fsanitize=fuzzer "$srcdir/tests/fuzz/fuzz_$name.c" \
                "$objdir/fuzz_file.o" "${objects[@]}" ${FUZZ_LIBS:-} -lm \
                -o "$bin" || return 1
        local work=$out/$name
        mkdir -p "$work/corpus"
        echo "== fuzz_$name: $seconds s"
        # The committed corpus seeds a working copy; new inputs stay there.
        # (fontconfig, behind cairo's text, never frees its configuration:
        # see tests/lsan.supp)
        ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        LSAN_OPTIONS=suppressions=$srcdir/tests/lsan.supp:print_suppressions=0 \
        UBSAN_OPTIONS=print_stacktrace=1 \
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
                -max_len=1048576 -artifact_prefix="$work/" -print_final_stats=1 \
                "$work/corpus" "$srcdir/tests/fuzz/corpus/$name" \
                >"$work/log" 2>&1 || {
                echo "fuzz_$name: FAILED, see $work/log and $work/" >&2
                tail -40 "$work/log" >&2
                return 1
        }
        grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov: " \
                "$work/log" | tail -3
}

running=0
for name in $harnesses; do
        if [ "$jobs" -gt 1 ]; then
                run_one "$name" &
                running=$((running + 1))
                if [ "$running" -ge "$jobs" ]; then
                        wait -n || status=1
                        running=$((running - 1))
                fi
        else
                run_one "$name" || status=1
        fi
done
while [ "$running" -gt 0 ]; do
        wait -n || status=1
        running=$((running - 1))
done
exit $status
