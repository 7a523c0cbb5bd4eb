"""torch.nn.Module classifiers: evolve through fool.torch_classifier, ascend with autograd gradients."""

import numpy as np
import pytest

import fool
from conftest import SMALL

torch = pytest.importorskip("torch")


def small_net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 14 * 14, 6))


def test_evolve_with_a_torch_module_is_deterministic():
    clf = fool.torch_classifier(small_net(), image_shape=(1, 16, 16))
    a = fool.evolve(clf, seed=8, **SMALL)
    b = fool.evolve(fool.torch_classifier(small_net(), image_shape=(1, 16, 16)), seed=8, **SMALL)
    assert a.summary["backend"] == "python" and a.confidences.shape == (6,)
    assert a.images.tobytes() == b.images.tobytes()
    # the module's own softmax on the saved images gives the reported confidences
    with torch.no_grad():
        x = torch.from_numpy(a.images.transpose(0, 3, 1, 2).astype(np.float32) / 255)
        p = torch.softmax(small_net()(x), dim=1).numpy()
    assert np.allclose(p[np.arange(6), a.classes], a.confidences, atol=1e-5)


def test_ascend_with_torch_gradients_raises_confidence():
    clf = fool.torch_classifier(small_net(), image_shape=(1, 16, 16))
    run = fool.ascend(clf, steps=30, classes=[0, 3], seed=1)
    assert run.summary["command"] == "ascend" and run.classes == [0, 3]
    assert run.images.shape == (2, 16, 16, 1) and run.genomes == [None, None]
    start = fool.torch_classifier(small_net(), image_shape=(1, 16, 16))(np.full((1, 1, 16, 16), 0.5, np.float32))
    assert (run.confidences > start[0, [0, 3]]).all()
    assert len(run.generations) == 30


def test_gradients_match_finite_differences():
    clf = fool.torch_classifier(small_net(), image_shape=(1, 16, 16), preprocess=lambda x: (x - 0.5) / 0.25)
    x = np.random.RandomState(0).rand(2, 1, 16, 16).astype(np.float32)
    p, g = clf.gradients_fn(x, np.array([1, 2]))
    d = np.zeros_like(x)
    d[0, 0, 5, 7] = 1e-2
    p2 = clf(x + d)
    assert abs((p2[0, 1] - p[0, 1]) / 1e-2 - g[0, 0, 5, 7]) < 1e-2 * max(1.0, abs(g[0, 0, 5, 7]))


def test_ascend_needs_gradients():
    with pytest.raises(ValueError, match="gives no gradients"):
        fool.ascend(lambda x: np.full((len(x), 3), 1 / 3, np.float32), image_shape=(1, 8, 8), steps=2)


def test_torch_classifier_refuses_what_is_not_a_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        fool.torch_classifier(lambda x: x, image_shape=(1, 8, 8))
