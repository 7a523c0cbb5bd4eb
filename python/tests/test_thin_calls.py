"""fool.transfer, fool.analyze and fool.report: thin calls over the library on runs written to disk."""

import json
import os

import pytest

import fool
from conftest import SMALL


@pytest.fixture(scope="module")
def disk_run(mnist_onnx, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    return fool.evolve(fool.load(mnist_onnx), encoding="cppn", out=out, seed=2, **SMALL)


def test_transfer_scores_a_run_with_models(disk_run, mnist_onnx, tmp_path):
    m = fool.transfer([disk_run], [mnist_onnx], out=tmp_path / "t")
    assert m["format"] == "fool-transfer/1"
    assert len(m["sources"]) == 1 and len(m["scorers"]) == 1
    assert json.loads((tmp_path / "t" / "transfer.json").read_text()) == m
    assert (tmp_path / "t" / "transfer.png").exists()
    cell = m["sources"][0]["scores"][0]
    assert cell["images"] == 10
    # the run's own model scores its champions as the run did
    assert abs(cell["median_confidence"] - disk_run.summary["median_confidence"]) < 1e-6


def test_analyze_and_report(disk_run, tmp_path):
    r = fool.analyze(disk_run, "occlusion", masks=2)
    assert r["format"] == "fool-occlusion/1" and len(r["classes"]) == 10
    assert os.path.exists(os.path.join(disk_run.directory, "analysis", "occlusion.json"))
    assert all("drops" in c for c in r["classes"])
    html = fool.report([disk_run], tmp_path / "report.html")
    text = open(html, encoding="utf-8").read()
    assert text.startswith("<!") and "data:image/png;base64" in text


def test_thin_calls_refuse_in_memory_runs_and_bad_kinds(mnist_onnx):
    run = fool.evolve(fool.load(mnist_onnx), **SMALL)
    with pytest.raises(ValueError, match="kept in memory"):
        fool.analyze(run)
    with pytest.raises(ValueError, match="unknown analysis 'colour'"):
        fool.analyze("somewhere", "colour")
    with pytest.raises(TypeError, match="unexpected keyword argument 'patches'"):
        fool.analyze("somewhere", "occlusion", patches=3)
