#!/usr/bin/python3
"""Images/s of fool's torch and opencv backends, OpenCV DNN's bare forward and PyTorch eager on the
same torchvision architectures, measured in one run, with the ratios, input-gradient rates and peak RSS.

Each model is exported with Debian's python3-torch / python3-torchvision (random weights made peaked:
batch-norm statistics randomised and the classifier scaled so the softmax is not flat), then every
contender runs in its own process (so each peak RSS is its own) with the same batch and thread count.
Also writes <model>.input.f32 / <model>.probs.f32 (PyTorch's probabilities on a batch), which
`bench_runtime --compare` checks fool against.

    python3 bench/bench_runtime.py --build build --models resnet50,mobilenet_v2 --batch 10 --threads 2
"""
import argparse, json, os, subprocess, sys, time, warnings

warnings.filterwarnings("ignore")

SIZES = {"vit_b_16": 224, "inception_v3": 299}


def make_model(name, seed=0):
    import torch, torchvision.models as M
    torch.manual_seed(seed)
    kw = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    if name == "vit_b_16" and SIZES.get(name, 224) != 224:
        kw["image_size"] = SIZES[name]
    m = getattr(M, name)(weights=None, **kw).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
                if mod.weight is not None:
                    mod.weight.copy_(0.5 + torch.rand(mod.weight.shape, generator=g))
                    mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=g))
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.running_mean.copy_(0.1 * torch.randn(mod.running_mean.shape, generator=g))
                    mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=g))
        # Scale the last layer (its output, the logits, scales with it) so that the mean top
        # probability is about 0.5: peaked, but not saturated.
        last = [mod for mod in m.modules() if isinstance(mod, (torch.nn.Linear, torch.nn.Conv2d))][-1]
        if last.weight.abs().max() == 0:  # ViT's head starts at zero
            last.weight.normal_(0.0, 0.02, generator=g)
        size = SIZES.get(name, 224)
        logits = m(torch.rand(4, 3, size, size, generator=g))
        lo, hi = 1e-3, 1e3
        for _ in range(60):
            mid = (lo * hi) ** 0.5
            if torch.softmax(logits * mid, 1).max(1).values.mean() < 0.5:
                lo = mid
            else:
                hi = mid
        last.weight.mul_(lo)
        if last.bias is not None:
            last.bias.mul_(lo)
    return m


def export(name, path, opset, batch):
    import numpy as np, torch
    m = make_model(name)
    size = SIZES.get(name, 224)
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(1))
    torch.onnx.export(m, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    with torch.no_grad():
        p = torch.softmax(m(x), 1)
    base = path[:-5]
    x.numpy().astype(np.float32).tofile(base + ".input.f32")
    p.numpy().astype(np.float32).tofile(base + ".probs.f32")
    return float(p.max(1).values.mean())


def peak_rss_mb():
    """VmHWM: this process's own peak (ru_maxrss survives exec, so it would include the parent's)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def time_torch(name, batch, threads, seconds, rounds, grad):
    """Images/s of PyTorch eager (no_grad forward, or forward+backward to the input), in this process."""
    import torch
    torch.set_num_threads(threads)
    m = make_model(name)
    size = SIZES.get(name, 224)
    x = torch.rand(batch, 3, size, size)
    targets = torch.arange(batch) % 10

    def step():
        if grad:
            xi = x.clone().requires_grad_(True)
            p = torch.softmax(m(xi), 1)
            g, = torch.autograd.grad(p.gather(1, targets.view(-1, 1)).sum(), xi)
        else:
            with torch.no_grad():
                torch.softmax(m(x), 1)

    rates = []
    step()
    for _ in range(rounds):
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            step()
            calls += 1
        rates.append(batch * calls / (time.perf_counter() - start))
    rates.sort()
    rss = peak_rss_mb()
    return {"images_per_s": rates[len(rates) // 2], "peak_rss_mb": rss}


def run_fool(build, path, backend, batch, threads, seconds, rounds):
    cmd = [os.path.join(build, "bench", "bench_runtime"), "--model", path, "--backend", backend, "--batch",
           str(batch), "--threads", str(threads), "--seconds", str(seconds), "--rounds", str(rounds)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"error": (out.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--models", default="resnet50,mobilenet_v2,efficientnet_b0,alexnet,vit_b_16")
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--opset", type=int, default=14)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/fool_bench_runtime", help="where the exported models are cached")
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--contenders", default="torch,torch-grad,opencv,bare,pytorch,pytorch-grad")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:  # PyTorch eager, timed in its own process
        name, grad = a.child.split(":")
        print(json.dumps(time_torch(name, a.batch, a.threads, a.seconds, a.rounds, grad == "1")))
        return
    os.makedirs(a.dir, exist_ok=True)
    contenders = a.contenders.split(",")
    rows = []
    for name in a.models.split(","):
        path = os.path.join(a.dir, f"{name}_op{a.opset}.onnx")
        if not os.path.exists(path):
            peak = export(name, path, a.opset, 2)
            print(f"exported {path} (mean top probability {peak:.3f})", file=sys.stderr)
        if a.export_only:
            continue
        # Rounds are interleaved: each round runs every contender once, in its own process, so that a
        # change in the machine's load (it is shared) falls on all contenders alike, not on one.
        per_round = {c: [] for c in contenders}
        for k in range(a.rounds):
            for c in contenders:
                if c.startswith("pytorch"):
                    out = subprocess.run([sys.executable, __file__, "--child", f"{name}:{int(c.endswith('grad'))}",
                                          "--batch", str(a.batch), "--threads", str(a.threads), "--seconds",
                                          str(a.seconds), "--rounds", "1"], capture_output=True, text=True)
                    res = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {"error": out.stderr[-200:]}
                else:
                    res = run_fool(a.build, path, c, a.batch, a.threads, a.seconds, 1)
                per_round[c].append(res)
                print(f"  {name} round {k + 1} {c}: {res}", file=sys.stderr, flush=True)
        r = {"model": name}
        for c, results in per_round.items():
            ok = [x for x in results if "images_per_s" in x]
            if not ok:
                r[c] = results[-1]
                continue
            ok.sort(key=lambda x: x["images_per_s"])
            r[c] = {"images_per_s": ok[len(ok) // 2]["images_per_s"],
                    "peak_rss_mb": max(x.get("peak_rss_mb", 0.0) for x in ok)}
        rows.append(r)
    if a.export_only:
        return

    def rate(r, c):
        return r.get(c, {}).get("images_per_s")

    def fmt(v):
        return "-" if v is None else f"{v:.1f}"

    def ratio(x, y):
        return "-" if x is None or y is None else f"{x / y:.2f}x"

    print(f"batch {a.batch}, {a.threads} threads, opset {a.opset}; images/s (median of {a.rounds} interleaved rounds of {a.seconds} s)")
    print("| model | fool torch | fool opencv | OpenCV bare | PyTorch eager | torch/PyTorch | opencv/bare "
          "| fool torch grad | PyTorch grad | grad ratio | peak RSS MB torch / PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        rss_t = r.get("torch", {}).get("peak_rss_mb")
        rss_p = r.get("pytorch", {}).get("peak_rss_mb")
        print(f"| {r['model']} | {fmt(rate(r, 'torch'))} | {fmt(rate(r, 'opencv'))} | {fmt(rate(r, 'bare'))} | "
              f"{fmt(rate(r, 'pytorch'))} | {ratio(rate(r, 'torch'), rate(r, 'pytorch'))} | "
              f"{ratio(rate(r, 'opencv'), rate(r, 'bare'))} | {fmt(rate(r, 'torch-grad'))} | "
              f"{fmt(rate(r, 'pytorch-grad'))} | {ratio(rate(r, 'torch-grad'), rate(r, 'pytorch-grad'))} | "
              f"{fmt(rss_t)} / {fmt(rss_p)} |")
    for r in rows:
        for c in contenders:
            if "error" in r.get(c, {}):
                print(f"{r['model']} {c}: {r[c]['error']}")


if __name__ == "__main__":
    main()
