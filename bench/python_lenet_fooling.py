#!/usr/bin/python3
"""Evolving against an MNIST LeNet through a torch.nn.Module callable reaches what the CLI reaches on
the same network's ONNX export (the issue's check): trains the paper's LeNet with PyTorch on the
IDX digits, exports it to ONNX, then runs the same direct-encoding evolution (200 x 200 by default,
the paper's MNIST setting) once through fool.torch_classifier and once with `fool evolve`, and
prints each class's confidence side by side.

    PYTHONPATH=build/python python3 bench/python_lenet_fooling.py --data data/mnist --fool build/src/cli/fool

With --weights LENET.onnx (a LeNet from `fool train --dataset mnist --arch lenet`) the torch module
takes that network's weights instead of being trained, and the CLI runs on that file itself.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import torch

import fool


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def lenet():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 20, 5), torch.nn.MaxPool2d(2), torch.nn.Conv2d(20, 50, 5), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(800, 500), torch.nn.ReLU(), torch.nn.Linear(500, 10))


def train(data, epochs, seed):
    torch.manual_seed(seed)
    x = torch.from_numpy(read_idx(os.path.join(data, "train-images-idx3-ubyte")).astype(np.float32) / 255)[:, None]
    y = torch.from_numpy(read_idx(os.path.join(data, "train-labels-idx1-ubyte")).astype(np.int64))
    net = lenet()
    opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    net.eval()
    tx = torch.from_numpy(read_idx(os.path.join(data, "t10k-images-idx3-ubyte")).astype(np.float32) / 255)[:, None]
    ty = torch.from_numpy(read_idx(os.path.join(data, "t10k-labels-idx1-ubyte")).astype(np.int64))
    with torch.no_grad():
        acc = (net(tx).argmax(1) == ty).float().mean().item()
    return net, acc


def from_fool_lenet(path):
    """The LeNet of `fool train --arch lenet` as a torch module (its Softmax left to fool)."""
    import onnx
    from onnx import numpy_helper
    w = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(path).graph.initializer}
    net = lenet()
    with torch.no_grad():
        for i, name in ((0, "l0"), (2, "l2"), (5, "l5"), (7, "l7")):
            net[i].weight.copy_(w[name + ".weight"])
            net[i].bias.copy_(w[name + ".bias"])
    return net.eval()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data/mnist")
    p.add_argument("--fool", default="build/src/cli/fool")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--generations", type=int, default=200)
    p.add_argument("--offspring", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=None, help="keep the runs here (default: a temporary directory)")
    p.add_argument("--weights", default=None, help="a LeNet ONNX file from `fool train --arch lenet` to use")
    args = p.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="fool-lenet-")
    os.makedirs(out, exist_ok=True)
    t = time.time()
    if args.weights:
        net, onnx_path = from_fool_lenet(args.weights), args.weights
        print(f"LeNet weights from {args.weights}")
    else:
        net, acc = train(args.data, args.epochs, seed=0)
        print(f"LeNet trained with PyTorch: {acc:.4f} on the held-out digits ({time.time() - t:.0f} s)")
        onnx_path = os.path.join(out, "lenet.onnx")
        torch.onnx.export(net, torch.zeros(1, 1, 28, 28), onnx_path, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
    t = time.time()
    run = fool.evolve(fool.torch_classifier(net, image_shape=(1, 28, 28)), encoding="direct",
                      generations=args.generations, offspring=args.offspring, init=args.offspring, seed=args.seed,
                      out=os.path.join(out, "python"))
    py_seconds = time.time() - t
    t = time.time()
    subprocess.run([args.fool, "evolve", "--model", onnx_path, "--encoding", "direct", "--generations",
                    str(args.generations), "--offspring", str(args.offspring), "--init", str(args.offspring),
                    "--seed", str(args.seed)] + ([] if args.weights else ["--logits"]) + ["--out", os.path.join(out, "cli"), "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    cli_seconds = time.time() - t
    with open(os.path.join(out, "cli", "summary.json"), encoding="utf-8") as f:
        cli = json.load(f)
    print(f"direct encoding, {args.generations} generations x {args.offspring}, seed {args.seed}")
    print("class  python callable  CLI on the ONNX export")
    for c, k in zip(run.summary["classes"], cli["classes"]):
        print(f"{c['index']:5d}  {c['confidence']:15.6f}  {k['confidence']:.6f}")
    at = lambda s: sum(c["confidence"] >= 0.9999 for c in s["classes"])  # noqa: E731
    print(f">= 99.99%: python {at(run.summary)}/10 in {py_seconds:.0f} s, CLI {at(cli)}/10 in {cli_seconds:.0f} s; "
          f"runs in {out}")


if __name__ == "__main__":
    main()
