#!/usr/bin/python3
"""What fool adds around a Python classifier: an evolve run through a callable against the time of
the callable's own forward calls, measured side by side in one process.

For each case the run's wall time is compared with (a) the seconds spent inside the callable during
the run and (b) the same forward calls (same number, same batch sizes) made directly from Python on
random images, without fool, and (c) the same run through a callable that answers at once (fool's own
work: rendering, mutation, archive, files). The ratio run / (b) is what the issue bounds (<= 1.15x);
(b + c) / b is the same ratio with the two parts timed apart, steadier on a busy machine. The
process's CPU seconds of the run and of the bare calls are printed too: with one fool thread and one
torch thread (--threads 1 --torch-threads 1) their ratio is the same bound measured in CPU time, which
other work on a shared machine disturbs far less than wall time. Runs and bare
calls alternate --repeats times and the fastest of each is kept, so that a busy machine skews less.

    PYTHONPATH=build/python python3 bench/bench_python_callable.py --generations 30
"""
import argparse
import time

import numpy as np
import torch

import fool


def lenet(seed=0):
    """The paper's MNIST LeNet (Caffe's example: conv 20, pool, conv 50, pool, fc 500, fc 10), random weights."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 20, 5), torch.nn.MaxPool2d(2), torch.nn.Conv2d(20, 50, 5), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(800, 500), torch.nn.ReLU(), torch.nn.Linear(500, 10))


def small_cnn(seed=0):
    """A colour 64 x 64 CNN, about 7x LeNet's work per image."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(64, 10))


class Timed:
    """Wraps a callable, recording the batch sizes and seconds of each call."""

    def __init__(self, fn):
        self.fn, self.sizes, self.seconds = fn, [], 0.0

    def __call__(self, x):
        t = time.perf_counter()
        out = self.fn(x)
        self.seconds += time.perf_counter() - t
        self.sizes.append(len(x))
        return out


def case(name, module, shape, encoding, args):
    clf = fool.torch_classifier(module, image_shape=shape)
    runs, insides, owns, run_cpus, own_cpus = [], [], [], [], []
    for _ in range(args.repeats):  # interleaved, the fastest of each kept (the machine may be shared)
        timed = Timed(clf)
        t, c = time.perf_counter(), time.process_time()
        run = fool.evolve(timed, image_shape=shape, encoding=encoding, generations=args.generations,
                          offspring=args.offspring, init=args.offspring, seed=1, threads=args.threads)
        runs.append(time.perf_counter() - t)
        run_cpus.append(time.process_time() - c)
        insides.append(timed.seconds)
        # The same calls without fool: random images of the same batch sizes, straight into the callable.
        rng = np.random.RandomState(0)
        by_size = {n: rng.rand(n, *shape).astype(np.float32) for n in sorted(set(timed.sizes))}
        t, c = time.perf_counter(), time.process_time()
        for n in timed.sizes:
            clf(by_size[n])
        owns.append(time.perf_counter() - t)
        own_cpus.append(time.process_time() - c)
    # fool's own work for the same run: a callable that answers at once (same shapes, same calls).
    answers = {}

    def instant(x):
        return answers.setdefault(len(x), np.full((len(x), 10), 0.1, np.float32))

    alone = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        fool.evolve(instant, image_shape=shape, encoding=encoding, generations=args.generations,
                    offspring=args.offspring, init=args.offspring, seed=1, threads=args.threads)
        alone.append(time.perf_counter() - t)
    wall, inside, own, fool_alone = min(runs), min(insides), min(owns), min(alone)
    run_cpu, own_cpu = min(run_cpus), min(own_cpus)
    print(f"{name:16s} {encoding:6s} {len(timed.sizes):4d} calls {sum(timed.sizes):6d} images  "
          f"run {wall:6.2f} s  in callable {inside:6.2f} s  own calls {own:6.2f} s  "
          f"fool alone {fool_alone:5.2f} s  run/own {wall / own:5.2f}x  run/in-callable {wall / inside:5.2f}x  "
          f"(own + fool alone)/own {(own + fool_alone) / own:5.2f}x  "
          f"CPU seconds: run {run_cpu:6.2f} own {own_cpu:6.2f} run/own {run_cpu / own_cpu:5.2f}x")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generations", type=int, default=30)
    p.add_argument("--offspring", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3, help="runs per case, interleaved with the bare calls; the fastest counts")
    p.add_argument("--threads", type=int, default=0, help="fool's threads for mutation and rendering (0: all cores)")
    p.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    args = p.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
          f"{args.generations} generations of {args.offspring}")
    case("LeNet 1x28x28", lenet(), (1, 28, 28), "direct", args)
    case("LeNet 1x28x28", lenet(), (1, 28, 28), "cppn", args)
    case("CNN 3x64x64", small_cnn(), (3, 64, 64), "direct", args)
    case("CNN 3x64x64", small_cnn(), (3, 64, 64), "cppn", args)


if __name__ == "__main__":
    main()
