"""fool.evolve with a fool.Model and with Python callables: the Run object, in memory and on disk,
determinism, the CLI's run directory, stopping and resuming, and what bad callables raise."""

import os
import signal
import subprocess

import numpy as np
import pytest

import fool
from conftest import SMALL, LinearSoftmax, needs_opencv


def test_model_run_in_memory(mnist_onnx):
    m = fool.load(mnist_onnx)
    seen = []
    run = fool.evolve(m, encoding="direct", seed=3, on_generation=seen.append, **SMALL)
    assert run.directory is None and run.complete
    assert run.classes == list(range(10)) and run.labels == m.labels
    assert run.confidences.shape == (10,) and ((run.confidences >= 0) & (run.confidences <= 1)).all()
    assert run.images.dtype == np.uint8 and run.images.shape == (10, 28, 28, 1)
    assert run.genomes == [None] * 10  # the direct encoding saves no genome files
    assert [g["generation"] for g in run.generations] == list(range(SMALL["generations"] + 1))
    assert [s["generation"] for s in seen] == list(range(SMALL["generations"] + 1))
    assert seen[-1]["done"] == SMALL["generations"] and "status" in seen[-1]
    assert run.summary["command"] == "evolve" and run.summary["model"] == mnist_onnx
    grid = run.grid()
    assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.shape[2] == 3
    # The saved images are what the model scored.
    p = m.probabilities(run.images.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    assert np.allclose(p[np.arange(10), run.classes], run.confidences, atol=1e-6)


def test_cppn_genomes_render_to_the_saved_images(linear):
    run = fool.evolve(linear, encoding="cppn", image_shape=(1, 16, 16), **SMALL)
    assert all(isinstance(g, dict) for g in run.genomes)
    for i in range(len(run.classes)):
        assert np.array_equal(fool.render(run.genomes[i]), run.images[i])
    assert run.render(0, 32).shape == (32, 32, 1)


def test_same_seed_same_bytes_and_disk_equals_memory(linear, tmp_path):
    a = fool.evolve(linear, image_shape=(1, 16, 16), seed=5, **SMALL)
    b = fool.evolve(LinearSoftmax(), image_shape=(1, 16, 16), seed=5, out=tmp_path / "run", **SMALL)
    assert a.images.tobytes() == b.images.tobytes()
    assert np.array_equal(a.confidences, b.confidences)
    assert b.directory == str(tmp_path / "run")
    names = sorted(os.listdir(tmp_path / "run"))
    for expected in ("summary.json", "grid.png", "images", "log.jsonl", "checkpoint.json"):
        assert expected in names
    c = fool.evolve(linear, image_shape=(1, 16, 16), seed=6, **SMALL)
    assert a.images.tobytes() != c.images.tobytes()


def test_batches_reach_the_callable_in_eval_batch_chunks(linear):
    fool.evolve(linear, image_shape=(1, 16, 16), generations=1, offspring=12, init=12, eval_batch=5)
    # one probe call for the number of classes, then chunks of 5, then the saved PNGs re-scored
    assert linear.batches[1:7] == [5, 5, 2, 5, 5, 2]


@needs_opencv
def test_out_path_writes_the_cli_run_directory(mnist_onnx, tmp_path):
    cli = os.environ.get("FOOL_BIN")
    if not cli or not os.path.exists(cli):
        pytest.skip("FOOL_BIN (the fool CLI) not given")
    args = ["--generations", "3", "--offspring", "10", "--init", "10", "--seed", "2", "--backend", "opencv"]
    subprocess.run([cli, "evolve", "--model", mnist_onnx, "--out", str(tmp_path / "cli"), "--quiet"] + args,
                   check=True, stdout=subprocess.DEVNULL)
    run = fool.evolve(fool.load(mnist_onnx, backend="opencv"), generations=3, offspring=10, init=10, seed=2,
                      out=tmp_path / "py")
    for k in range(10):
        name = f"images/class_{k}.png"
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "py" / name).read_bytes()
    assert sorted(os.listdir(tmp_path / "cli")) == sorted(os.listdir(tmp_path / "py"))
    cli_run = fool.Run.open(tmp_path / "cli")
    assert np.array_equal(cli_run.confidences, run.confidences)
    assert cli_run.summary["settings"] == run.summary["settings"]


def test_stop_from_on_generation_then_resume_equals_one_run(linear, tmp_path):
    whole = fool.evolve(linear, image_shape=(1, 16, 16), seed=4, **SMALL)
    out = tmp_path / "run"
    part = fool.evolve(linear, image_shape=(1, 16, 16), seed=4, out=out, checkpoint_every=1,
                       on_generation=lambda s: s["generation"] < 2, **SMALL)
    assert not part.complete and part.summary["generations"] == 2
    rest = fool.evolve(linear, image_shape=(1, 16, 16), seed=4, out=out, resume=True, **SMALL)
    assert rest.complete and rest.summary["generations"] == SMALL["generations"]
    assert rest.images.tobytes() == whole.images.tobytes()


def test_keyboard_interrupt_stops_like_sigint_and_resumes(linear, tmp_path):
    def interrupt(stats):
        if stats["generation"] == 1:
            os.kill(os.getpid(), signal.SIGINT)

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt, match="resume=True"):
        fool.evolve(linear, image_shape=(1, 16, 16), seed=4, out=out, on_generation=interrupt, **SMALL)
    assert (out / "checkpoint.json").exists() and (out / "summary.json").exists()
    rest = fool.evolve(linear, image_shape=(1, 16, 16), seed=4, out=out, resume=True, **SMALL)
    whole = fool.evolve(linear, image_shape=(1, 16, 16), seed=4, **SMALL)
    assert rest.images.tobytes() == whole.images.tobytes()


class FailsOnCall(LinearSoftmax):
    """Scores normally until call `n`, then returns `bad` (or raises it, if an exception)."""

    def __init__(self, n, bad):
        super().__init__()
        self.n, self.bad, self.calls = n, bad, 0

    def __call__(self, x):
        self.calls += 1
        if self.calls < self.n:
            return super().__call__(x)
        if isinstance(self.bad, BaseException):
            raise self.bad
        return self.bad(x)


@pytest.mark.parametrize("bad, message", [
    (lambda x: np.zeros((len(x), 4), np.float32), r"returned an array of shape \(12, 4\) for 12 images; expected \(12, 5\)"),
    (lambda x: np.full((len(x), 5), np.nan, np.float32), "returned NaN or infinity"),
    (lambda x: np.full((len(x), 5), 1.5, np.float32), r"outside \[0, 1\].*logits"),
    (lambda x: "nonsense", "returned str"),
])
def test_bad_outputs_raise_value_error_naming_them(bad, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        fool.evolve(FailsOnCall(3, bad), image_shape=(1, 16, 16), out=tmp_path / "run", **SMALL)


def test_callable_exception_leaves_the_run_resumable(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="model on fire"):
        fool.evolve(FailsOnCall(4, RuntimeError("model on fire")), image_shape=(1, 16, 16), seed=4, out=out,
                    checkpoint_every=1, **SMALL)
    assert (out / "checkpoint.json").exists()
    rest = fool.evolve(LinearSoftmax(), image_shape=(1, 16, 16), seed=4, out=out, resume=True, **SMALL)
    whole = fool.evolve(LinearSoftmax(), image_shape=(1, 16, 16), seed=4, **SMALL)
    assert rest.images.tobytes() == whole.images.tobytes()


def test_in_memory_failure_says_where_its_checkpoint_is():
    with pytest.raises(RuntimeError) as e:
        fool.evolve(FailsOnCall(4, RuntimeError("x")), image_shape=(1, 16, 16), checkpoint_every=1, **SMALL)
    note = " ".join(getattr(e.value, "__notes__", []))
    assert "resume=True" in note
    directory = note.split("checkpoint is in ")[1].split(":")[0]
    assert os.path.exists(os.path.join(directory, "checkpoint.json"))


def test_logits_pass_through_softmax(linear):
    def logits(x):
        return np.log(linear(x))

    a = fool.evolve(logits, image_shape=(1, 16, 16), outputs="logits", seed=2, **SMALL)
    b = fool.evolve(LinearSoftmax(), image_shape=(1, 16, 16), seed=2, **SMALL)
    assert np.allclose(a.confidences, b.confidences, atol=1e-5)


def test_bad_arguments_raise_and_write_nothing(linear, mnist_onnx, tmp_path):
    out = tmp_path / "run"
    m = fool.load(mnist_onnx)
    cases = [
        (TypeError, "classifier must be", dict(classifier=42)),
        (TypeError, "needs image_shape", dict(classifier=linear)),
        (ValueError, "unknown encoding 'pixels'", dict(classifier=m, encoding="pixels")),
        (TypeError, "encoding must be str", dict(classifier=m, encoding=1)),
        (ValueError, "class 12 is out of range", dict(classifier=m, classes=[12])),
        (ValueError, "offspring must be positive", dict(classifier=m, offspring=0)),
        (TypeError, "unexpected keyword argument 'generatoins'", dict(classifier=m, generatoins=3)),
        (ValueError, "unknown preset 'cifar'", dict(classifier=m, preset="cifar")),
        (ValueError, "preset imagenet needs a square colour model", dict(classifier=m, preset="imagenet")),
        (ValueError, "resume=True needs out=", dict(classifier=m, resume=True, out=None)),
    ]
    for kind, message, kwargs in cases:
        kwargs.setdefault("out", out)
        with pytest.raises(kind, match=message):
            fool.evolve(**kwargs)
        assert not out.exists()
    with pytest.raises(ValueError, match="holds another run"):
        fool.evolve(m, out=out, **SMALL)
        fool.evolve(m, out=out, **SMALL)


def test_on_generation_exception_stops_the_run_resumably(linear, tmp_path):
    def explode(stats):
        if stats["generation"] == 2:
            raise LookupError("observer failed")

    out = tmp_path / "run"
    with pytest.raises(LookupError, match="observer failed"):
        fool.evolve(linear, image_shape=(1, 16, 16), seed=4, out=out, on_generation=explode, **SMALL)
    assert fool.Run.open(out).summary["generations"] == 2
    rest = fool.evolve(linear, image_shape=(1, 16, 16), seed=4, out=out, resume=True, **SMALL)
    assert rest.images.tobytes() == fool.evolve(linear, image_shape=(1, 16, 16), seed=4, **SMALL).images.tobytes()
