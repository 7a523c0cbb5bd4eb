"""Shared fixtures of the Python package's tests: the ONNX fixture model and small callables."""

import os

import numpy as np
import pytest

import fool

FIXTURES = os.environ.get("FOOL_FIXTURES_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "fixtures", "onnx")


# A test that needs the opencv backend, skipped where fool was built without it.
needs_opencv = pytest.mark.skipif("opencv" not in fool.backends(),
                                  reason="needs the opencv backend: fool was built with -DFOOL_WITH_OPENCV=OFF")


@pytest.fixture(scope="session")
def mnist_onnx():
    path = os.path.join(FIXTURES, "mnist_bn_cnn.onnx")
    if not os.path.exists(path):
        pytest.fail(f"ONNX fixture missing: {path} (set FOOL_FIXTURES_DIR)")
    return path


class LinearSoftmax:
    """A deterministic numpy classifier: softmax(x W), 1 x 16 x 16 images, 5 classes; counts calls."""

    def __init__(self, seed=0, classes=5, shape=(1, 16, 16)):
        self.w = np.random.RandomState(seed).randn(int(np.prod(shape)), classes).astype(np.float32) * 0.5
        self.shape = shape
        self.batches = []

    def __call__(self, x):
        assert x.dtype == np.float32 and x.shape[1:] == self.shape
        assert x.min() >= 0.0 and x.max() <= 1.0
        self.batches.append(len(x))
        z = x.reshape(len(x), -1).astype(np.float64) @ self.w
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def linear():
    return LinearSoftmax()


SMALL = dict(generations=4, offspring=12, init=12, threads=2)
