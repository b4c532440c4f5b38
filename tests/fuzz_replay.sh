#!/bin/sh
# Replays each fuzz harness's committed corpus (seed inputs and every
# finding of past fuzzing runs) through the harness without libFuzzer: a
# crash, hang or sanitizer report on any of them fails this test.
set -eu
for name in image safetensors model arch pickle torch onnx darknet npy trainlog; do
        "$top_builddir/tests/fuzz/replay_$name" \
                "$top_srcdir/tests/fuzz/corpus/$name"
done
