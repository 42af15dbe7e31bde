#!/usr/bin/env python3
"""PyTorch's training step on the lab's seed network, for scripts/bench_speed.sh.

The same network (conv1 32@3x3, ReLU, conv2 64@3x3, ReLU, maxpool 2, fc1 9216->128, ReLU,
fc2 10, log-softmax), the same data (the train file of the lab's MNIST-10k IDX folder), the
same normalisation, Adam at 1e-3, batch 64, shuffled. Times
each step (batch to tensor, forward, backward, optimiser) the way the lab's CLI times its
batches, and prints one JSON object.

Needs `torch` (pip install torch); the CPU is used whatever the wheel ships.
"""

import argparse
import gzip
import json
import os
import statistics
import struct
import sys
import time


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return dims, data[4 + 4 * ndim :]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data/mnist10k")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=0, help="0: one epoch")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError:
        print(json.dumps({"error": "torch is not importable: pip install torch"}))
        return 3

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    (n, rows, cols), pixels = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    (_,), labels = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz"))
    images = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).view(n, 1, rows, cols)
    targets = torch.frombuffer(bytearray(labels), dtype=torch.uint8).long()

    class SeedNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3)
            self.conv2 = nn.Conv2d(32, 64, 3)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))  # [B, 32, 26, 26]
            x = F.relu(self.conv2(x))  # [B, 64, 24, 24]
            x = F.max_pool2d(x, 2).flatten(1)  # [B, 9216]
            x = F.relu(self.fc1(x))  # [B, 128]
            return F.log_softmax(self.fc2(x), dim=1)  # [B, 10]

    model = SeedNet()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(n)
    batches = [order[i : i + args.batch] for i in range(0, n - args.batch + 1, args.batch)]
    if args.steps:
        batches = (batches * (1 + args.steps // len(batches)))[: args.steps + args.warmup]
    times = []
    for step, index in enumerate(batches):
        t0 = time.perf_counter()
        x = (images[index].float() / 255.0 - 0.1307) / 0.3081
        loss = F.nll_loss(model(x), targets[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        elapsed = time.perf_counter() - t0
        if step >= args.warmup:
            times.append(elapsed)
    median = statistics.median(times)
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "steps": len(times),
                "median_ms": 1000 * median,
                "mean_ms": 1000 * sum(times) / len(times),
                "min_ms": 1000 * min(times),
                "max_ms": 1000 * max(times),
                "images_per_second": args.batch / median,
                "final_loss": loss.item(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
