#!/usr/bin/python3
"""fool's backends against ONNX Runtime's CPU engine and PyTorch eager on the same ONNX files:
images/s (median of interleaved rounds) and peak RSS, for each thread count and batch size; then
fool's and ONNX Runtime's images per CPU second of their process (steadier on a shared machine).

Every contender runs in its own process per measurement (so each peak RSS is its own) and rounds are
interleaved (each round runs every contender once), so that a change in the shared machine's load
falls on all contenders alike. Models are torchvision names (exported as bench_runtime.py does:
random weights made peaked) or paths to .onnx files (PyTorch eager then runs only for torchvision
names).

ONNX Runtime is a yardstick, not a dependency: install it with
    mkdir -p /work/ort && cd /work/ort && npm install --ignore-scripts onnxruntime-node@1.30.0
and pass --ort /work/ort/node_modules (default); without it the ORT column is skipped with one line.

    python3 bench/bench_vs_ort.py --build build --models resnet50,mobilenet_v2 --threads 1,2 --batch 1,10,100
"""
import argparse, json, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_runtime as br  # noqa: E402  (export, PyTorch eager child, fool's bench_runtime)


def input_size(path):
    import onnx
    m = onnx.load(path, load_external_data=False)
    dims = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    return f"{dims[1]}x{dims[2]}x{dims[3]}"


def model_gflop(path):
    """Multiply-adds x 2 per image of the model's Conv, Gemm and MatMul nodes (ONNX shape inference),
    in GFLOP: what FLOP/s per engine and the fraction of the measured fp32 peak are counted from."""
    import onnx
    m = onnx.shape_inference.infer_shapes(onnx.load(path))
    shapes = {}
    for v in list(m.graph.value_info) + list(m.graph.output) + list(m.graph.input):
        shapes[v.name] = [d.dim_value for d in v.type.tensor_type.shape.dim]
    for t in m.graph.initializer:
        shapes[t.name] = list(t.dims)
    macs = 0
    for n in m.graph.node:
        out = shapes.get(n.output[0])
        if not out:
            continue
        per_image = 1
        for d in out[1:]:
            per_image *= d
        if n.op_type == "Conv":
            w = shapes[n.input[1]]
            k = 1
            for d in w[1:]:
                k *= d  # C/group x kh x kw
            macs += per_image * k
        elif n.op_type in ("Gemm", "MatMul"):
            w = shapes[n.input[1]]
            trans_b = any(a.name == "transB" and a.i for a in n.attribute)
            macs += per_image * (w[1] if trans_b else w[0])
    return 2 * macs / 1e9


def run_ort(ort_dir, path, batch, threads, seconds):
    env = dict(os.environ, NODE_PATH=ort_dir)
    out = subprocess.run(["node", os.path.join(HERE, "ort_bench.js"), path, str(batch), str(threads), str(seconds), "1",
                          input_size(path)], capture_output=True, text=True, env=env)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": (out.stderr.strip().splitlines() or ["no output"])[-1]}


def run_pytorch(name, batch, threads, seconds):
    out = subprocess.run([sys.executable, br.__file__, "--child", f"{name}:0", "--batch", str(batch), "--threads",
                          str(threads), "--seconds", str(seconds), "--rounds", "1"], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(results):
    ok = sorted((x for x in results if "images_per_s" in x), key=lambda x: x["images_per_s"])
    if not ok:
        return results[-1] if results else {"error": "not run"}
    cpu = sorted(x["images_per_cpu_s"] for x in ok if "images_per_cpu_s" in x)
    return {"images_per_s": ok[len(ok) // 2]["images_per_s"], "peak_rss_mb": max(x.get("peak_rss_mb", 0) for x in ok),
            **({"images_per_cpu_s": cpu[len(cpu) // 2]} if cpu else {})}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--models", default="resnet50,mobilenet_v2,efficientnet_b0,alexnet")
    ap.add_argument("--batch", default="1,10,100", help="comma-separated batch sizes")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--opset", type=int, default=14)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/fool_bench_runtime", help="where exported models are cached")
    ap.add_argument("--backends", default="onednn,torch,opencv", help="fool's backends to measure")
    ap.add_argument("--ort", default="/work/ort/node_modules", help="node_modules holding onnxruntime-node")
    ap.add_argument("--no-pytorch", action="store_true")
    ap.add_argument("--json", help="also write every measurement here")
    ap.add_argument("--peak", type=float, help="the measured fp32 peak in GFLOP per CPU second (build/bench/bench_gemm's "
                    "gflop_per_cpu_s at 1 thread): the CPU table then says the fraction of it each engine reaches")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    have_ort = os.path.isdir(os.path.join(a.ort, "onnxruntime-node"))
    if not have_ort:
        print(f"ONNX Runtime skipped: no onnxruntime-node under {a.ort} (see --help to install it)", file=sys.stderr)
    fool_backends = [b for b in a.backends.split(",") if b]
    rows = []
    for model in a.models.split(","):
        torchvision = not model.endswith(".onnx")
        path = os.path.join(a.dir, f"{model}_op{a.opset}.onnx") if torchvision else model
        if torchvision and not os.path.exists(path):
            br.export(model, path, a.opset, 2)
        label = model if torchvision else os.path.basename(model)
        gflop = model_gflop(path)
        for threads in [int(t) for t in a.threads.split(",")]:
            for batch in [int(b) for b in a.batch.split(",")]:
                contenders = fool_backends + (["ort"] if have_ort else []) + (
                    ["pytorch"] if torchvision and not a.no_pytorch else [])
                per = {c: [] for c in contenders}
                for k in range(a.rounds):
                    for c in contenders:
                        if c == "ort":
                            res = run_ort(a.ort, path, batch, threads, a.seconds)
                        elif c == "pytorch":
                            res = run_pytorch(model, batch, threads, a.seconds)
                        else:
                            res = br.run_fool(a.build, path, c, batch, threads, a.seconds, 1)
                        per[c].append(res)
                        print(f"  {label} t{threads} b{batch} round {k + 1} {c}: {res}", file=sys.stderr, flush=True)
                rows.append({"model": label, "threads": threads, "batch": batch, "gflop_per_image": gflop,
                             **{c: median(r) for c, r in per.items()}})
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)

    def rate(r, c):
        return r.get(c, {}).get("images_per_s")

    def rss(r, c):
        return r.get(c, {}).get("peak_rss_mb")

    def fmt(v):
        return "-" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.1f}")

    cols = fool_backends + ["ort", "pytorch"]
    names = {"ort": "ONNX Runtime", "pytorch": "PyTorch eager"}
    print(f"images/s, median of {a.rounds} interleaved rounds of {a.seconds} s; peak RSS MB")
    print("| model | threads | batch | " + " | ".join(names.get(c, "fool " + c) for c in cols) +
          " | fool's best / ORT | peak RSS MB " + " / ".join(names.get(c, c) for c in cols) + " |")
    print("|---" * (len(cols) + 5) + "|")
    for r in rows:
        best = max((rate(r, c) or 0) for c in fool_backends) if fool_backends else None
        ort = rate(r, "ort")
        ratio = f"{best / ort:.2f}" if best and ort else "-"
        print(f"| {r['model']} | {r['threads']} | {r['batch']} | " + " | ".join(fmt(rate(r, c)) for c in cols) +
              f" | {ratio} | " + " / ".join(fmt(rss(r, c)) for c in cols) + " |")
    # Images per CPU second of each contender's process (every thread's time): on a shared machine it
    # depends far less on the other work than the wall rate; at one thread it is the fairer ratio
    # (at two, time a thread spends spinning at a barrier counts against its engine).
    cpu_cols = [c for c in cols if c != "pytorch"]
    print(f"\nimages per CPU second (process user + system time), median of {a.rounds}; GFLOP per CPU second of "
          "fool's best and ORT (model GFLOP per image x images per CPU second)" +
          (f", as a fraction of the measured peak {a.peak:g}" if a.peak else ""))
    print("| model | threads | batch | " + " | ".join(names.get(c, "fool " + c) for c in cpu_cols) +
          " | fool's best / ORT | GFLOP/CPU-s fool's best / ORT |")
    print("|---" * (len(cpu_cols) + 5) + "|")
    for r in rows:
        best = max((r.get(c, {}).get("images_per_cpu_s") or 0) for c in fool_backends) if fool_backends else None
        ort = r.get("ort", {}).get("images_per_cpu_s")
        ratio = f"{best / ort:.2f}" if best and ort else "-"

        def flops(v):
            if not v:
                return "-"
            g = v * r["gflop_per_image"]
            return f"{g:.1f}" + (f" ({g / a.peak:.0%})" if a.peak else "")
        print(f"| {r['model']} | {r['threads']} | {r['batch']} | " +
              " | ".join(fmt(r.get(c, {}).get("images_per_cpu_s")) for c in cpu_cols) +
              f" | {ratio} | {flops(best)} / {flops(ort)} |")
    for r in rows:
        for c in cols:
            if "error" in r.get(c, {}):
                print(f"{r['model']} t{r['threads']} b{r['batch']} {c}: {r[c]['error']}")


if __name__ == "__main__":
    main()
