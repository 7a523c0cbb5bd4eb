#!/usr/bin/env python3
"""Tries fool as a hostile user would and tabulates the outcomes (docs/hardening.md).

For each parser, N mutated copies of a valid seed file (byte flips, truncations, inserted bytes,
and for JSON, values replaced by other types, out-of-range numbers and removed keys) go through the
command that reads that file; then bad flag values. Each outcome is one of: clean (non-zero exit,
stderr exactly one "fool: error:" line), crash (killed by a signal), hang (no exit in 60 s),
multi-line (more than one stderr line), internal (an "internal error" line), accepted (exit 0).
Whether an accepted input was *wrongly* accepted needs a person (or a test) to judge; the mutations
here keep the file valid sometimes (e.g. a weight changed), so "accepted" is not a defect count.

  scripts/hostile.py [--fool build/src/cli/fool] [--cases 100] [--seed 1] [--model M.onnx]

The model defaults to mnist_bn_cnn.onnx among the fixtures of the fool binary's build directory
(BUILD/fixtures/onnx); when that is absent the fixtures are made with
tests/fixtures/make_onnx_fixtures.py (Debian's /usr/bin/python3 with python3-torch) in the work
directory.
"""
import argparse, json, os, random, shutil, subprocess, sys, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--fool", default="build/src/cli/fool")
ap.add_argument("--cases", type=int, default=100)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--only", default="", help="run only the rows whose name contains this (e.g. genome)")
ap.add_argument("--model", default="", help="the ONNX model to use (default: the build's mnist_bn_cnn fixture)")
a = ap.parse_args()
FOOL = os.path.abspath(a.fool)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
rng = random.Random(a.seed)
work = tempfile.mkdtemp(prefix="fool_hostile_")
MODEL = os.path.abspath(a.model) if a.model else os.path.join(os.path.dirname(FOOL), "..", "..", "fixtures", "onnx",
                                                              "mnist_bn_cnn.onnx")
if not a.model and not os.path.isfile(MODEL):
    subprocess.run([os.environ.get("FOOL_PYTHON", "/usr/bin/python3"),
                    os.path.join(ROOT, "tests", "fixtures", "make_onnx_fixtures.py"), "--out",
                    os.path.join(work, "fixtures")], check=True, stdout=subprocess.DEVNULL)
    MODEL = os.path.join(work, "fixtures", "mnist_bn_cnn.onnx")


def run(args, cwd=None):
    try:
        p = subprocess.run([FOOL] + args, cwd=cwd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "hang"
    err = p.stderr.decode(errors="replace")
    lines = [l for l in err.splitlines() if l.strip() and "\r" not in l]
    if p.returncode < 0 or p.returncode >= 128:
        return "crash"
    if p.returncode == 0:
        return "accepted"
    if any("internal error" in l for l in lines):
        return "internal"
    if len(lines) == 1 and lines[0].startswith("fool: error: "):
        return "clean"
    return "multi-line"


def mutate_bytes(b):
    b = bytearray(b)
    k = rng.randrange(4)
    if k == 0 and b:
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif k == 1 and b:
        b = b[: rng.randrange(len(b))]
    elif k == 2:
        pos = rng.randrange(len(b) + 1)
        b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif b:  # a 32-bit field set to an extreme
        pos = rng.randrange(max(1, len(b) - 4))
        b[pos:pos + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x80"])
    return bytes(b)


EXTREMES = [None, -1, 0, 2.0, -100, 1000, 2**31 - 1, 2**63, "x", "255x", [], {}, True, 1e308, -0.5, "../../etc/hostname",
            "/etc/hostname", "inputt", "normalizedx"]


def mutate_json(j):
    j = json.loads(json.dumps(j))
    paths = []
    def walk(v, p):
        paths.append(p)
        if isinstance(v, dict):
            for k, x in v.items(): walk(x, p + [k])
        elif isinstance(v, list):
            for i, x in enumerate(v[:20]): walk(x, p + [i])
    walk(j, [])
    p = rng.choice(paths[1:]) if len(paths) > 1 else []
    parent = j
    for k in p[:-1]: parent = parent[k]
    if not p:
        return j
    if rng.random() < 0.15 and isinstance(parent, dict):
        del parent[p[-1]]
    elif rng.random() < 0.15 and isinstance(parent, list) and len(parent) > 1:
        i, k = rng.randrange(len(parent)), rng.randrange(len(parent))
        parent[i], parent[k] = parent[k], parent[i]
    else:
        parent[p[-1]] = rng.choice(EXTREMES)
    return j


def mutated_files(seed_paths, name, json_mode):
    for i in range(a.cases):
        src = rng.choice(seed_paths)
        data = open(src, "rb").read()
        if json_mode and rng.random() < 0.8:
            out = json.dumps(mutate_json(json.loads(data))).encode()
        else:
            out = mutate_bytes(data)
        path = os.path.join(work, name)
        open(path, "wb").write(out)
        yield path


def seeds(d):
    return [os.path.join(CORPUS, d, f) for f in sorted(os.listdir(os.path.join(CORPUS, d)))]


# A run to resume from, and one to report on.
base = os.path.join(work, "base")
subprocess.run([FOOL, "evolve", "--model", MODEL, "--encoding", "cppn", "--generations", "2", "--offspring", "10",
                "--init", "10", "--quiet", "--out", base], capture_output=True, check=True)
rows = []

def wanted(name):
    return a.only.lower() in name.lower()

def tally(name, outcomes):
    counts = {k: outcomes.count(k) for k in ["clean", "crash", "hang", "multi-line", "internal", "accepted"]}
    rows.append((name, len(outcomes), counts))
    print(name, len(outcomes), counts, file=sys.stderr, flush=True)

for backend in ["opencv", "torch"] if wanted("ONNX") else []:
    out = [run(["score", "--backend", backend, "--model", p, os.path.join(CORPUS, "fuzz_png", "gray.png")])
           for p in mutated_files(seeds("fuzz_onnx_opencv") + [MODEL], "m.onnx", False)]
    tally(f"ONNX (`score --backend {backend}`)", out)
if wanted("PNG"):
    tally("PNG (`score`)", [run(["score", "--model", MODEL, p]) for p in mutated_files(seeds("fuzz_png"), "i.png", False)])
def resume_case(p):
    d = os.path.join(work, "resume")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(base, d)
    shutil.copy(p, os.path.join(d, "checkpoint.json"))
    return run(["evolve", "--model", MODEL, "--encoding", "cppn", "--generations", "3", "--offspring", "10", "--init", "10",
                "--quiet", "--resume", "--out", d])
if wanted("checkpoint"):
    tally("checkpoint (`evolve --resume`)",
          [resume_case(p) for p in mutated_files([os.path.join(base, "checkpoint.json")], "c.json", True)])
if wanted("genome"):
    tally("genome (`render`)",
          [run(["render", p, "--out", os.path.join(work, "r.png")]) for p in mutated_files(seeds("fuzz_genome"), "g.json", True)])
def summary_case(p):
    d = os.path.join(work, "sum")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(base, d)
    shutil.copy(p, os.path.join(d, "summary.json"))
    return run(["report", d, "--out", os.path.join(work, "r.html")])
if wanted("summary"):
    tally("summary.json (`report`)", [summary_case(p) for p in mutated_files([os.path.join(base, "summary.json")], "s.json", True)])
def idx_case(p):
    d = os.path.join(work, "idx")
    os.makedirs(d, exist_ok=True)
    for n in ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"]:
        shutil.copy(p, os.path.join(d, n))
    for n in ["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"]:
        shutil.copy(os.path.join(CORPUS, "fuzz_idx", "labels.idx"), os.path.join(d, n))
    return run(["data", "stats", "--data-dir", d])
if wanted("IDX"):
    tally("IDX (`data stats`)", [idx_case(p) for p in mutated_files([os.path.join(CORPUS, "fuzz_idx", "images.idx")], "x.idx", False)])

FLAGS = [["--threads", v] for v in ["100000", "-1", "1e9", "x"]] + [["--seed", v] for v in ["-1", "1e30", "x"]] + \
        [["--eval-batch", v] for v in ["-1", "1e18"]] + [["--image-size", v] for v in ["100000", "0", "-5"]] + \
        [["--offspring", v] for v in ["2000000000", "0", "-1"]] + [["--generations", "-1"], ["--init", "0"],
        ["--classes", "99"], ["--classes", "3-1"], ["--crops", "7"], ["--mutation-rate", "2"], ["--eta", "-1"],
        ["--scale", "0"], ["--mean", "1,2,3"], ["--checkpoint-every", "-2"]]
out = [run(["evolve", "--model", MODEL, "--quiet", "--out", os.path.join(work, "flags")] + f) for f in FLAGS] if wanted("flag") else []
out += [run(["data", "export", "--count", "0", "--out", os.path.join(work, "e")]),
        run(["render", os.path.join(base, "genomes", "class_0.json"), "--out", os.path.join(work, "x.jpg")]),
        run(["info", "--model", MODEL, "--threads", "100000"]),
        run(["score", "--model", MODEL, "--threads", "100000", "x.png"])] if wanted("flag") else []
if out: tally("bad flag values (`evolve`, `data`, `render`, `info`, `score`)", out)

print("| input (command) | cases | clean one-line error | crash | hang | multi-line | \"internal error\" | accepted |")
print("|---|---|---|---|---|---|---|---|")
for name, n, c in rows:
    print(f"| {name} | {n} | {c['clean']} | {c['crash']} | {c['hang']} | {c['multi-line']} | {c['internal']} | {c['accepted']} |")
shutil.rmtree(work, ignore_errors=True)
