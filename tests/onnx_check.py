#!/usr/bin/python3
"""Checks an ONNX file exported by `alexnet convert` with the ONNX
project's own checker (onnx.checker.check_model, full check) and that its
metadata_props carry the model's labels, preprocessing and provenance as
JSON, equal to what `alexnet inspect --json` says of the source model.

usage: onnx_check.py MODEL.onnx INSPECT.json
Exit status 0 when all holds, 1 otherwise, 77 (skip) without python3-onnx."""
import json
import sys

try:
    import onnx
except ImportError:
    print("SKIP: python3-onnx is not installed")
    sys.exit(77)


def main(onnx_path, inspect_path):
    model = onnx.load(onnx_path)
    onnx.checker.check_model(model, full_check=True)
    props = {p.key: json.loads(p.value) for p in model.metadata_props}
    source = json.load(open(inspect_path))
    ok = True
    for key in ("labels", "preprocess", "provenance"):
        if props.get("alexnet." + key) != source[key]:
            print("alexnet.%s: %r, the model has %r" % (
                key, props.get("alexnet." + key), source[key]))
            ok = False
    print("checker: valid; metadata: %s" % ("as the model's" if ok else "DIFFERS"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
