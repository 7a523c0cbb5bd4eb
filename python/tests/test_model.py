"""fool.load on an ONNX model: info, labels, probabilities against the fixture's PyTorch output,
gradients, and the errors of bad input."""

import json
import os

import numpy as np
import pytest

import fool
from conftest import FIXTURES, needs_opencv


def test_load_describes_the_model(mnist_onnx):
    m = fool.load(mnist_onnx)
    assert m.classes == 10
    assert m.labels == [str(i) for i in range(10)]
    assert m.input_shape == (1, 28, 28)
    info = m.info()
    assert info["num_classes"] == 10
    assert info["input"]["shape"] == ["N", 1, 28, 28]
    assert len(info["sha256"]) == 64
    assert info["backend"]["name"] in fool.backends()


@pytest.mark.parametrize("backend", [pytest.param("opencv", marks=needs_opencv), "torch"])
def test_probabilities_match_pytorch_on_the_fixture_batch(mnist_onnx, backend):
    with open(os.path.join(FIXTURES, "fixtures.json"), encoding="utf-8") as f:
        meta = json.load(f)
    shape = meta["mnist_bn_cnn"]["input_shape"]
    x = np.fromfile(os.path.join(FIXTURES, "mnist_bn_cnn.input.f32"), dtype="<f4").reshape(shape)
    want = np.fromfile(os.path.join(FIXTURES, "mnist_bn_cnn.probs.f32"), dtype="<f4").reshape(shape[0], -1)
    m = fool.load(mnist_onnx, backend=backend)
    assert m.backend == backend
    got = m.probabilities(x)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4


def test_gradients_point_uphill(mnist_onnx):
    m = fool.load(mnist_onnx)
    x = np.random.RandomState(1).rand(3, 1, 28, 28).astype(np.float32) * 0.5 + 0.25
    g = m.gradients(x, 4)
    assert g.shape == x.shape and np.isfinite(g).all() and np.abs(g).max() > 0
    step = 1e-3 / np.abs(g).max()
    before = m.probabilities(x)[:, 4]
    after = m.probabilities(np.clip(x + step * g, 0, 1).astype(np.float32))[:, 4]
    assert (after > before).all()


def test_bad_input_gets_python_exceptions(mnist_onnx, tmp_path):
    with pytest.raises(ValueError, match="no-such.onnx"):
        fool.load(str(tmp_path / "no-such.onnx"))
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        fool.load(mnist_onnx, backend="gpu")
    with pytest.raises(TypeError, match="threads must be int"):
        fool.load(mnist_onnx, threads="2")
    m = fool.load(mnist_onnx)
    with pytest.raises(ValueError, match="takes 1x28x28"):
        m.probabilities(np.zeros((1, 3, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m.probabilities(np.full((1, 1, 28, 28), 2, np.float32))
    with pytest.raises(ValueError, match="out of range"):
        m.gradients(np.zeros((1, 1, 28, 28), np.float32), 10)
    assert list(tmp_path.iterdir()) == []


@needs_opencv
def test_ascend_on_a_model_file_runs_the_torch_backend(mnist_onnx):
    m = fool.load(mnist_onnx, backend="opencv")
    run = fool.ascend(m, steps=5, classes=[1, 7])
    assert run.summary["backend"] == "torch" and run.summary["model"] == mnist_onnx
    assert run.classes == [1, 7] and run.images.shape == (2, 28, 28, 1)
    assert len(run.generations) == 5


def test_load_names_its_preprocessing_or_warns(mnist_onnx, tmp_path):
    # A copy of the fixture without fool's metadata: loading it without a preprocessing says what
    # fool assumes.
    import onnx
    m = onnx.load(mnist_onnx)
    del m.metadata_props[:]
    bare = str(tmp_path / "bare.onnx")
    onnx.save(m, bare)
    with pytest.warns(UserWarning, match="--preprocess"):
        plain = fool.load(bare, backend="torch")
    assert plain.info()["preprocessing"]["mean"] == []
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        named = fool.load(bare, preprocess="mnist", backend="torch")
    pre = named.info()["preprocessing"]
    assert pre["mean"] == pytest.approx([0.1307]) and pre["std"] == pytest.approx([0.3081])
    x = np.full((2, 1, 28, 28), 0.5, dtype=np.float32)
    assert not np.allclose(plain.probabilities(x), named.probabilities(x), atol=1e-3)
    with pytest.raises(ValueError, match="gray|preprocess"):
        fool.load(bare, preprocess="torchvision")
    with pytest.raises(ValueError):
        fool.load(bare, preprocess="keras")
