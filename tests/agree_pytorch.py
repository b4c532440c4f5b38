#!/usr/bin/python3
"""How far alexnet's network is from PyTorch's on full-size models with
random weights (`make agree-pytorch`; never part of make check, which has
small fixtures instead).

For each torchvision model (alexnet, the owt variant, with its default
initialisation, seeded; the last layer scaled so that the logits'
standard deviation is 4 and the probabilities are far from uniform), the state dict is converted with
`alexnet convert`, random inputs are run through tests/forward_npy (the
library's forward pass, Winograd convolutions where they apply, and with
--direct every convolution direct) and through PyTorch in float64, and the
largest differences of the probabilities and of the logits are printed.

    tests/agree_pytorch.py ALEXNET FORWARD_NPY [IMAGES [SEEDS]]
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision


def reference(model, x):
    with torch.no_grad():
        logits = model.double()(torch.from_numpy(x).double())
    return logits.numpy(), torch.softmax(logits, 1).numpy()


def main():
    alexnet, forward = sys.argv[1], sys.argv[2]
    images = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    seeds = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    worst = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            torch.manual_seed(seed)
            model = torchvision.models.alexnet().eval()
            x = torch.randn(images, 3, 224, 224,
                            generator=torch.Generator().manual_seed(seed))
            x = x.numpy().astype(np.float32)
            # logits of standard deviation 4: some classes get most of
            # the probability, as with trained weights
            spread = reference(model, x)[0].std()
            with torch.no_grad():
                model.float()
                model.classifier[6].weight.mul_(4 / spread)
                model.classifier[6].bias.mul_(4 / spread)
            pth = os.path.join(tmp, "m.pth")
            st = os.path.join(tmp, "m.safetensors")
            torch.save(model.state_dict(), pth)
            subprocess.run([alexnet, "convert", pth, st], check=True)
            np.save(os.path.join(tmp, "in.npy"), x.reshape(images, -1))
            want_logits, want_p = reference(model, x)
            for path in ("winograd", "direct"):
                out = os.path.join(tmp, "out.npy")
                cmd = [forward] + (["--direct"] if path == "direct" else [])
                subprocess.run(cmd + [st, os.path.join(tmp, "in.npy"), out],
                               check=True)
                p = np.load(out)
                logits = np.load(os.path.join(tmp, "out.logits.npy"))
                dp = float(np.abs(p - want_p).max())
                dl = float(np.abs(logits - want_logits).max() /
                           np.abs(want_logits).max())
                print("seed %d %-8s max |p - p_torch| %.3g  "
                      "max |logit diff| / max |logit| %.3g  "
                      "(largest p %.3f)" % (seed, path, dp, dl,
                                            float(want_p.max())))
                w = worst.setdefault(path, [0, 0])
                w[0], w[1] = max(w[0], dp), max(w[1], dl)
    for path, (dp, dl) in worst.items():
        print("%-8s largest |p - p_torch| %.3g, logits %.3g of the largest"
              % (path, dp, dl))
    return 0 if worst["winograd"][0] <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
