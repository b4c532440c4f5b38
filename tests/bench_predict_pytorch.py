#!/usr/bin/python3
"""The job `alexnet predict` does, as a PyTorch user would script it, for
side-by-side timing with `alexnet predict -b 32` over the same files
(run by hand; never part of make check):

    OMP_WAIT_POLICY=passive /usr/bin/python3 tests/bench_predict_pytorch.py \\
        [--threads N] [--batch 32] MODEL.pth FILE...

Reads each file with PIL (whole, as torchvision's ImageFolder does),
applies torchvision's Resize(256), CenterCrop(224), ToTensor, Normalize,
classifies batches with torchvision's alexnet in channels_last under
torch.no_grad(), and prints the top class of each image, then the
images/s on stderr (loading the model not counted; reading, decoding,
transforming and the forward passes are)."""
import argparse
import sys
import time

import torch
import torchvision
import torchvision.transforms as T
from PIL import Image


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("model")
    p.add_argument("files", nargs="+")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    model = torchvision.models.alexnet()
    model.load_state_dict(torch.load(a.model))
    model = model.eval().to(memory_format=torch.channels_last)
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406],
                                [0.229, 0.224, 0.225])])
    start = time.perf_counter()
    out = []
    for i in range(0, len(a.files), a.batch):
        names = a.files[i:i + a.batch]
        x = torch.stack([tf(Image.open(f).convert("RGB")) for f in names])
        with torch.no_grad():
            p = torch.softmax(model(x.to(memory_format=torch.channels_last)),
                              1)
        for f, k in zip(names, p.argmax(1).tolist()):
            out.append(f"{f}\t{k}")
    elapsed = time.perf_counter() - start
    print("\n".join(out))
    print(f"pytorch: {len(a.files)} images in {elapsed:.2f} s, "
          f"{len(a.files) / elapsed:.1f} images/s", file=sys.stderr)


if __name__ == "__main__":
    main()
