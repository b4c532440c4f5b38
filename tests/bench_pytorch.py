#!/usr/bin/python3
"""PyTorch on the same machine, for comparison with `make bench` (which runs
it through tests/bench_side_by_side.sh when /usr/bin/python3 has torch;
never part of make check):

    /usr/bin/python3 tests/bench_pytorch.py [--threads N] [--seconds S]
        [--layouts nchw,channels_last] [--batches 1,8,32,64]

Times torchvision's alexnet (the alexnet-owt preset) forward in eval mode
under torch.no_grad() at each batch and memory layout, and a training step
(forward, cross-entropy, backward, SGD with momentum) at batch 64 in the
last layout given, on random weights and inputs, and prints images/s and
GFLOP/s counted the way tests/bench_forward counts them (2 FLOP per
multiply-add).  A careful user runs it as make bench does: channels_last,
OMP_WAIT_POLICY=passive in the environment, the threads of the machine.
The first line names torch's version, its threads and the BLAS and
oneDNN it was built with."""
import argparse
import os
import time

import torch
import torch.nn as nn
import torchvision

MACS_PER_IMAGE = 714188480  # alexnet-owt at 224x224 (alexnet inspect --json)


def loaded_blas():
    """The BLAS library this process mapped (Debian's libblas.so.3 is the
    reference BLAS or OpenBLAS, as update-alternatives chose)."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "blas" in line.lower()}
    return ", ".join(sorted(os.path.realpath(p) for p in paths)) or "none"


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
    parser.add_argument("--layouts", default="nchw,channels_last")
    parser.add_argument("--batches", default="1,8,32,64")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))  # loads the BLAS
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"BLAS loaded: {loaded_blas()}, oneDNN "
          f"{torch.backends.mkldnn.is_available()}")
    print(f"{'mode':<24} {'batch':>5} {'ms/batch':>10} {'images/s':>9} "
          f"{'GFLOP/s':>8}")
    model = torchvision.models.alexnet().eval()
    layouts = args.layouts.split(",")
    for layout in layouts:
        fmt = (torch.channels_last if layout == "channels_last"
               else torch.contiguous_format)
        m = model.to(memory_format=fmt)
        for batch in (int(b) for b in args.batches.split(",")):
            x = torch.randn(batch, 3, 224, 224).to(memory_format=fmt)
            with torch.no_grad():
                t = timed(lambda: m(x), args.seconds)
            print(f"{'forward ' + layout:<24} {batch:>5} {t * 1e3:>10.2f} "
                  f"{batch / t:>9.1f} "
                  f"{2 * MACS_PER_IMAGE * batch / t / 1e9:>8.1f}")
    fmt = (torch.channels_last if layouts[-1] == "channels_last"
           else torch.contiguous_format)
    model = torchvision.models.alexnet().train().to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9,
                          weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    batch = 64
    x = torch.randn(batch, 3, 224, 224).to(memory_format=fmt)
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
