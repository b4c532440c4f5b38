#!/usr/bin/python3
"""PyTorch on the same machine, for comparison with `make bench` (run by
hand; needs python3-torch and python3-torchvision; never part of make check):

    /usr/bin/python3 tests/bench_pytorch.py [--threads N] [--seconds S]

Times torchvision's alexnet (the alexnet-owt preset) forward in eval mode at
batches 1, 8, 32 and 64 (NCHW and channels_last), and a training step
(forward, cross-entropy, backward, SGD with momentum) at batch 64, on random
weights and inputs, and prints images/s and GFLOP/s counted the way
tests/bench_forward counts them (2 FLOP per multiply-add)."""
import argparse
import time

import torch
import torch.nn as nn
import torchvision

MACS_PER_IMAGE = 714188480  # alexnet-owt at 224x224 (alexnet inspect --json)


def timed(fn, seconds):
    fn()  # warm up (allocations, oneDNN primitive creation)
    runs, start = 0, time.perf_counter()
    while True:
        fn()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / runs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'mode':<24} {'batch':>5} {'ms/batch':>10} {'images/s':>9} "
          f"{'GFLOP/s':>8}")
    model = torchvision.models.alexnet().eval()
    for layout in ("nchw", "channels_last"):
        fmt = (torch.channels_last if layout == "channels_last"
               else torch.contiguous_format)
        m = model.to(memory_format=fmt)
        for batch in (1, 8, 32, 64):
            x = torch.randn(batch, 3, 224, 224).to(memory_format=fmt)
            with torch.no_grad():
                t = timed(lambda: m(x), args.seconds)
            print(f"{'forward ' + layout:<24} {batch:>5} {t * 1e3:>10.2f} "
                  f"{batch / t:>9.1f} "
                  f"{2 * MACS_PER_IMAGE * batch / t / 1e9:>8.1f}")
    model = torchvision.models.alexnet().train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9,
                          weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    batch = 64
    x = torch.randn(batch, 3, 224, 224)
    y = torch.randint(0, 1000, (batch,))

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    t = timed(step, args.seconds * 2)
    print(f"{'train step':<24} {batch:>5} {t * 1e3:>10.2f} {batch / t:>9.1f} "
          f"{3 * 2 * MACS_PER_IMAGE * batch / t / 1e9:>8.1f}")


if __name__ == "__main__":
    main()
