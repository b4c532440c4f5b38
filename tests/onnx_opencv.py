#!/usr/bin/python3
"""Runs an ONNX file exported by `alexnet convert` in OpenCV's DNN module
(an independent runtime) on 256x256 RGB PNGs, and checks it against the
JSON Lines `alexnet predict -k 5` wrote for the same images: identical
top-5 and probabilities within 1e-4.  The model must use torchvision's
preprocessing (for a 256x256 image: centre crop 224, /255, mean, std).

usage: onnx_opencv.py [--softmax] MODEL.onnx PREDICTIONS.jsonl
--softmax: the model outputs probabilities (convert --softmax), which must
also sum to 1.
Exit status 0 on agreement, 1 on disagreement, 77 (skip) without cv2."""
import json
import sys

try:
    import cv2
    import numpy as np
except ImportError:
    print("SKIP: python3-opencv is not installed")
    sys.exit(77)

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def tensor(path):
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    assert bgr is not None and bgr.shape[:2] == (256, 256), path
    rgb = bgr[16:240, 16:240, ::-1].astype(np.float32) / np.float32(255)
    return ((rgb - MEAN) / STD).transpose(2, 0, 1)


def main(onnx_path, jsonl_path, softmax=False):
    records = [json.loads(line) for line in open(jsonl_path)]
    net = cv2.dnn.readNetFromONNX(onnx_path)
    net.setInput(np.stack([tensor(r["file"]) for r in records]))
    out = net.forward().astype(np.float64)
    if softmax:
        probs = out
        ok = bool(np.all(np.abs(probs.sum(1) - 1) < 1e-5))
        if not ok:
            print("probabilities do not sum to 1: %s" % probs.sum(1))
    else:
        probs = np.exp(out - out.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        ok = True
    for r, p in zip(records, probs):
        top = np.argsort(-p, kind="stable")[:5]
        ours = [t["index"] for t in r["top"]]
        if list(top) != ours:
            print("%s: OpenCV top-5 %s, alexnet %s" % (r["file"], list(top),
                                                      ours))
            ok = False
        for t in r["top"]:
            if abs(p[t["index"]] - t["prob"]) > 1e-4:
                print("%s: class %d: OpenCV %.6f, alexnet %.6f" % (
                    r["file"], t["index"], p[t["index"]], t["prob"]))
                ok = False
    print("%d images: %s" % (len(records), "agree" if ok else "DISAGREE"))
    return 0 if ok else 1


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--softmax"]
    sys.exit(main(args[0], args[1], "--softmax" in sys.argv[1:]))
