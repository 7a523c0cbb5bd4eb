#!/usr/bin/env python3
"""Scores exported conformance cases (see export_models.py) with fool, once per backend, compares
fool's probabilities with PyTorch's, and prints a pass/fail table per architecture x opset x
variant x backend.

A cell is
  pass            every probability within 1e-4 of PyTorch's (float32), or, for ill-conditioned
                  cases, within 1e-4 + 2e of PyTorch's float64 result, where e is how far PyTorch's
                  own float32 computations (eager, one image at a time, without oneDNN,
                  TorchScript-frozen with batch norm folded) are from it: four samples of where a
                  correct float32 computation lands, of which fool's backends are more
  FAIL d=...      fool ran, and its largest difference from PyTorch is d
  no: ...         fool refused the model (the first words of its one-line error)
For --backend auto the cell also says which backend auto chose.

Usage: compare.py --fool build/src/cli/fool --cases DIR [--backends opencv,torch,auto]
                  [--family F] [--prune] [--json results.json] [--markdown]
       compare.py --report results1.json [results2.json ...] [--cases DIR] [--markdown]
--family scores only that family's cases; --prune deletes each case's model files once it is
scored (the whole matrix would keep about 45 GB); --report prints the table of saved results.
Exit status: 0 if every case passes with auto, 1 otherwise.
"""
import argparse
import json
import os
import subprocess
import sys
import time

TOLERANCE = 1e-4
CONDITIONING_FACTOR = 2.0  # fool's float64 distance may be this many times PyTorch's largest


def passes(worst, worst64, e):
    """The rule above: worst from PyTorch's float32, worst64 from its float64 (None: not exported)."""
    return worst <= TOLERANCE or (worst64 is not None and e is not None
                                  and worst64 <= TOLERANCE + CONDITIONING_FACTOR * e)


def score(fool, case_dir, expected, backend, timeout):
    images = [os.path.join(case_dir, f) for f in expected["images"]]
    k = len(expected["probabilities"][0])
    cmd = [fool, "score", "--model", os.path.join(case_dir, "model.onnx"), "--top", str(k)]
    if backend:
        cmd += ["--backend", backend]
    t0 = time.time()
    try:
        r = subprocess.run(cmd + images, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": "timed out after %d s" % timeout, "seconds": timeout}
    seconds = time.time() - t0
    if r.returncode != 0:
        lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
        return {"status": "error", "error": lines[-1] if lines else "exit %d" % r.returncode,
                "stderr_lines": len(lines), "seconds": seconds}
    out = json.loads(r.stdout)
    worst = worst64 = 0.0
    for i, img in enumerate(out["images"]):
        got = [0.0] * k
        for t in img["top"]:
            got[t["class"]] = t["probability"]
        worst = max(worst, max(abs(a - b) for a, b in zip(got, expected["probabilities"][i])))
        if "probabilities_float64" in expected:
            worst64 = max(worst64, max(abs(a - b) for a, b in zip(got, expected["probabilities_float64"][i])))
    ok = passes(worst, worst64 if "probabilities_float64" in expected else None,
                expected.get("pytorch_float32_error"))
    return {"status": "pass" if ok else "fail", "max_difference": worst, "max_difference_float64": worst64,
            "backend": out.get("backend"), "seconds": seconds}


def cell(r, show_backend):
    if r["status"] == "pass":
        s = "pass"
    elif r["status"] == "fail":
        s = "FAIL d=%.1e" % r["max_difference"]
    else:
        e = r["error"].replace("fool: error: ", "")
        # drop the model path that starts fool's error lines
        if ": " in e and e.split(": ", 1)[0].endswith(".onnx"):
            e = e.split(": ", 1)[1]
        s = "no: " + e[:70]
    if show_backend and r.get("backend"):
        s += " (%s)" % r["backend"]
    return s


def print_table(results, backends, rows_as, failed_exports):
    """Prints the rows (rows_as: "markdown", "plain" or None) and a summary line per backend;
    True if every case passes with auto (or the first backend)."""
    rows = []
    for name in sorted(results):
        v = results[name]
        rows.append([v["architecture"], str(v["opset"]), v["variant"]] +
                    [cell(v["results"][b], b in ("auto", "default")) if b in v["results"] else "-" for b in backends])
    if rows_as == "plain":
        for r in rows:
            print(" | ".join(r))
    if rows_as == "markdown":
        header = ["architecture", "opset", "variant"] + backends
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    print()
    for b in backends:
        rs = [v["results"][b] for v in results.values() if b in v["results"]]
        statuses = [r["status"] for r in rs]
        strict = sum(1 for r in rs if r["status"] == "pass" and r["max_difference"] <= TOLERANCE)
        chosen = sorted({r["backend"] for r in rs if r.get("backend")}) if b in ("auto", "default") else []
        print("%-8s pass %d (%d within %.0e of PyTorch's float32, %d only within the conditioning "
              "tolerance), wrong %d, refused %d, of %d cases%s" % (
                  b, statuses.count("pass"), strict, TOLERANCE, statuses.count("pass") - strict,
                  statuses.count("fail"), statuses.count("error"), len(statuses),
                  "".join("; ran %s %d" % (c, sum(1 for r in rs if r.get("backend") == c)) for c in chosen)))
    for name in failed_exports:
        print("not exported (PyTorch's exporter refused): %s" % name)
    main_backend = "auto" if "auto" in backends else backends[0]
    return all(v["results"].get(main_backend, {}).get("status") == "pass" for v in results.values())


def failed_exports_in(cases, family=None):
    """The cases PyTorch's exporter refused (CASE.export-failed without CASE/expected.json)."""
    names = sorted(f[:-len(".export-failed")] for f in os.listdir(cases) if f.endswith(".export-failed")
                   and not os.path.exists(os.path.join(cases, f[:-len(".export-failed")], "expected.json")))
    return [n for n in names if family is None or n.startswith(family + "-op")]


def report(files, markdown, cases):
    results = {}
    for path in files:
        with open(path) as f:
            results.update(json.load(f))
    # Judged again by the current rule (results saved by an earlier compare.py may predate it).
    for name, v in results.items():
        e = v.get("pytorch_float32_error")
        expected_path = os.path.join(cases, name, "expected.json") if cases else ""
        if e is None and os.path.exists(expected_path):
            with open(expected_path) as f:
                e = json.load(f)["pytorch_float32_error"]
        for r in v["results"].values():
            if r["status"] in ("pass", "fail"):
                r["status"] = "pass" if passes(r["max_difference"], r.get("max_difference_float64"), e) else "fail"
    backends = []
    for v in results.values():
        backends += [b for b in v["results"] if b not in backends]
    return print_table(results, backends, "markdown" if markdown else "plain",
                       failed_exports_in(cases) if cases else [])


def prune(case_dir):
    for f in ("model.onnx", "model.onnx.data"):
        if os.path.exists(os.path.join(case_dir, f)):
            os.remove(os.path.join(case_dir, f))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fool")
    p.add_argument("--cases")
    p.add_argument("--backends", default="opencv,torch,auto")
    p.add_argument("--family", help="score only this family's cases")
    p.add_argument("--prune", action="store_true", help="delete each case's model files once scored")
    p.add_argument("--json", help="also write every result here")
    p.add_argument("--report", nargs="+", metavar="RESULTS_JSON", help="print the table of saved results")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--timeout", type=int, default=600)
    a = p.parse_args()
    if a.report:
        sys.exit(0 if report(a.report, a.markdown, a.cases) else 1)
    if not a.fool or not a.cases:
        p.error("--fool and --cases are required (or --report)")
    backends = a.backends.split(",")
    names = sorted(d for d in os.listdir(a.cases) if os.path.exists(os.path.join(a.cases, d, "model.onnx"))
                   and os.path.exists(os.path.join(a.cases, d, "expected.json")))
    failed_exports = failed_exports_in(a.cases, a.family)
    results = {}
    for name in names:
        case_dir = os.path.join(a.cases, name)
        with open(os.path.join(case_dir, "expected.json")) as f:
            expected = json.load(f)
        if a.family and expected["family"] != a.family:
            continue
        res = {b: score(a.fool, case_dir, expected, None if b == "default" else b, a.timeout) for b in backends}
        results[name] = {"family": expected["family"], "architecture": expected["architecture"],
                         "opset": expected["opset"], "variant": expected["variant"],
                         "pytorch_float32_error": expected.get("pytorch_float32_error"), "results": res}
        if a.prune:
            prune(case_dir)
        if not a.markdown:
            print(" | ".join([expected["architecture"], str(expected["opset"]), expected["variant"]] +
                             [cell(res[b], b in ("auto", "default")) for b in backends]), flush=True)
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump(results, f, indent=1)
        os.replace(a.json + ".tmp", a.json)
    ok = print_table(results, backends, "markdown" if a.markdown else None, failed_exports)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
