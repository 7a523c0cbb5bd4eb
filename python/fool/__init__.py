"""fool: fooling images for image classifiers, from Python.

The same library as the `fool` command line (C++, bound with pybind11). A classifier is either a
model file loaded by one of fool's backends (`fool.load`) or any Python callable
`f(x) -> N x K probabilities` with x float32 N x C x H x W in [0, 1] (RGB for colour, the images
exactly as their saved PNGs decode). Searches (`fool.evolve`, `fool.ascend`) return a `fool.Run`
holding everything the run directory holds; `out=None` keeps it all in memory.

    import fool
    model = fool.load("mnist.onnx")
    run = fool.evolve(model, encoding="direct", generations=50)
    run.confidences, run.images, run.grid()
"""

import numpy as _np

from . import _fool
from ._run import Run, callable_name as _callable_name, run_in as _run_in

__all__ = [
    "load", "Model", "FunctionClassifier", "torch_classifier", "evolve", "ascend", "Run", "render",
    "encodings", "backends", "transfer", "analyze", "report",
]
__version__ = "0.1.0"


def encodings():
    """The encodings evolve knows: ["direct", "cppn"]."""
    return list(_fool.encoding_names())


def backends():
    """The backends load knows: ["auto", "opencv", "torch"]."""
    return list(_fool.backend_names())


def _check_type(value, types, what):
    if not isinstance(value, types) or isinstance(value, bool) and bool not in (
            types if isinstance(types, tuple) else (types,)):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise TypeError(f"{what} must be {names}, not {type(value).__name__}")
    return value


def _check_choice(value, choices, what):
    _check_type(value, str, what)
    if value not in choices:
        raise ValueError(f"unknown {what} '{value}' (known: {', '.join(choices)})")
    return value


def _images(x, shape=None, what="x"):
    """x as a C-contiguous float32 N x C x H x W array in [0, 1] (a ValueError names what is wrong)."""
    try:
        a = _np.ascontiguousarray(x, dtype=_np.float32)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must be a float array N x C x H x W, not {type(x).__name__}") from e
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4:
        raise ValueError(f"{what} must be N x C x H x W, got shape {tuple(a.shape)}")
    if shape is not None and tuple(a.shape[1:]) != tuple(shape):
        raise ValueError(f"{what} has images of {'x'.join(map(str, a.shape[1:]))}, the model takes "
                         f"{'x'.join(map(str, shape))}")
    if a.size and (not _np.isfinite(a).all() or a.min() < 0.0 or a.max() > 1.0):
        raise ValueError(f"{what} must hold values in [0, 1] (images before the model's preprocessing)")
    return a


class Model:
    """A model file loaded once by one of fool's backends (see fool.load)."""

    def __init__(self, loaded):
        self._loaded = loaded

    @property
    def path(self):
        return self._loaded.path

    @property
    def labels(self):
        """The class names, one per output."""
        return list(self._loaded.labels)

    @property
    def classes(self):
        """The number of classes the model scores."""
        return len(self._loaded.labels)

    @property
    def input_shape(self):
        """(C, H, W) of the images the model takes."""
        return tuple(self._loaded.input_shape)

    @property
    def backend(self):
        """The backend that runs the model ("opencv" or "torch")."""
        return self._loaded.backend

    def info(self):
        """What the model file says about itself and which backend runs it (as `fool info`)."""
        return self._loaded.info()

    def probabilities(self, x):
        """N x K float32 probabilities for x, float32 N x C x H x W in [0, 1] (RGB, before preprocessing)."""
        return self._loaded.probabilities(_images(x, self.input_shape))

    def __call__(self, x):
        return self.probabilities(x)

    def gradients(self, x, k):
        """Gradients (N x C x H x W) of the probability of class k (an int, or one per image) with
        respect to the images x, through the preprocessing (torch backend)."""
        a = _images(x, self.input_shape)
        targets = _targets(k, a.shape[0], self.classes)
        return self._loaded.gradients(a, targets)[1]

    def __repr__(self):
        c, h, w = self.input_shape
        return f"fool.Model({self.path!r}, {self.classes} classes, input {c}x{h}x{w}, backend {self.backend})"


def _targets(k, n, classes):
    ks = [k] * n if isinstance(k, (int, _np.integer)) and not isinstance(k, bool) else list(k)
    if len(ks) != n:
        raise ValueError(f"k must be a class index or one per image ({n}), got {len(ks)}")
    for t in ks:
        if not isinstance(t, (int, _np.integer)) or isinstance(t, bool):
            raise TypeError(f"k must hold class indices, not {type(t).__name__}")
        if not 0 <= t < classes:
            raise ValueError(f"class {t} out of range (the model has {classes} classes)")
    return [int(t) for t in ks]


def load(path, preprocess=None, backend="auto", input_size=None, output=None, threads=0, layout=None):
    """Loads an ONNX (or TorchScript) classifier once and returns a fool.Model.

    preprocess: "none", "torchvision", "caffe", "tf" or "mnist" (None: the model's metadata, else
    none with a warning); input_size: "HxW" or (H, W) for a dynamic or TorchScript input; output:
    the output to read, for a model with several; layout: "nchw" or "nhwc" (None: from the shape);
    backend "auto", "opencv" or "torch"; threads 0: the backend's default. A missing, corrupt or
    non-image model raises ValueError naming the file; what fool assumed about the model is issued
    as a UserWarning."""
    import os
    import warnings
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
    _check_choice(backend, backends(), "backend")
    _check_type(threads, int, "threads")
    if preprocess is not None:
        _check_choice(preprocess, ["none", "torchvision", "caffe", "tf", "mnist"], "preprocess")
    if isinstance(input_size, (tuple, list)):
        if len(input_size) != 2 or not all(isinstance(v, int) for v in input_size):
            raise TypeError("input_size must be \"HxW\" or a pair of ints")
        input_size = f"{input_size[0]}x{input_size[1]}"
    for name, v in (("input_size", input_size), ("output", output), ("layout", layout)):
        if v is not None and not isinstance(v, str):
            raise TypeError(f"{name} must be a str, not {type(v).__name__}")
    loaded = _fool.load(os.fspath(path), backend, threads, preprocess or "", input_size or "", output or "",
                        layout or "")
    for w in loaded.warnings:
        warnings.warn(w, UserWarning, stacklevel=2)
    return Model(loaded)


def _softmax(z):
    z = z.astype(_np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = _np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(_np.float32)


def _as_array(out, name, what):
    if hasattr(out, "detach") and hasattr(out, "cpu"):  # a torch tensor
        out = out.detach().cpu().numpy()
    try:
        a = _np.asarray(out)
    except Exception as e:  # noqa: BLE001 - anything that is not array-like
        raise ValueError(f"{name} returned {type(out).__name__}, not {what}") from e
    if a.dtype == object or not (_np.issubdtype(a.dtype, _np.floating) or _np.issubdtype(a.dtype, _np.integer)):
        raise ValueError(f"{name} returned {type(out).__name__} of {a.dtype}, not {what}")
    return a


class FunctionClassifier:
    """A Python callable as a classifier: fn(x) -> N x K probabilities (outputs="logits": logits, to
    which fool applies softmax), x float32 N x C x H x W in [0, 1] with (C, H, W) = image_shape.
    gradients(x, targets) -> (N x K probabilities, N x C x H x W gradients of p[i, targets[i]]) makes
    it usable by fool.ascend (it returns probabilities, whatever `outputs` says). labels: class names (default: "0".."K-1", K found by one call)."""

    def __init__(self, fn, image_shape=None, outputs="probabilities", labels=None, gradients=None, name=None):
        if not callable(fn):
            raise TypeError(f"classifier must be a fool.Model or a callable, not {type(fn).__name__}")
        if gradients is not None and not callable(gradients):
            raise TypeError(f"gradients must be callable, not {type(gradients).__name__}")
        self.fn = fn
        self.image_shape = None if image_shape is None else _shape(image_shape)
        self.outputs = _check_choice(outputs, ["probabilities", "logits"], "outputs")
        self.labels = None if labels is None else [str(s) for s in labels]
        self.gradients_fn = gradients
        self.name = name or _callable_name(fn)

    def __call__(self, x):
        return self.fn(x)

    def _scores(self, out, n, k, outputs=None):
        outputs = outputs or self.outputs
        a = _as_array(out, self.name, "an N x K array")
        if a.ndim != 2 or a.shape[0] != n or (k is not None and a.shape[1] != k):
            want = f"({n}, {k})" if k is not None else f"({n}, K)"
            raise ValueError(f"{self.name} returned an array of shape {tuple(a.shape)} for {n} images; expected {want}")
        a = a.astype(_np.float32)
        if not _np.isfinite(a).all():
            r = int(_np.argwhere(~_np.isfinite(a))[0][0])
            raise ValueError(f"{self.name} returned NaN or infinity (row {r} of {n})")
        if outputs == "logits":
            return _softmax(a)
        if a.size and (a.min() < 0.0 or a.max() > 1.0):
            raise ValueError(f"{self.name} returned values outside [0, 1] (min {a.min():g}, max {a.max():g}); "
                             "pass outputs=\"logits\" if it returns logits")
        return _np.ascontiguousarray(a)

    def _native(self, image_shape):
        shape = self.image_shape if image_shape is None else _shape(image_shape)
        if shape is None:
            raise TypeError(f"{self.name}: a callable classifier needs image_shape=(C, H, W)")
        labels = self.labels
        if labels is None:  # one call on a gray image says how many classes there are
            probe = _np.full((1,) + shape, 0.5, dtype=_np.float32)
            labels = [str(i) for i in range(self._scores(self.fn(probe), 1, None).shape[1])]
        k = len(labels)

        def score(x):
            return self._scores(self.fn(x), x.shape[0], k)

        grad = None
        if self.gradients_fn is not None:
            def grad(x, targets):
                r = self.gradients_fn(x, _np.asarray(targets, dtype=_np.int64))
                if not isinstance(r, (tuple, list)) or len(r) != 2:
                    raise ValueError(f"{self.name}: gradients returned {type(r).__name__}, "
                                     "not (probabilities, gradients)")
                p = self._scores(r[0], x.shape[0], k, "probabilities")
                g = _as_array(r[1], self.name + ": gradients", "an N x C x H x W array").astype(_np.float32)
                if g.shape != x.shape:
                    raise ValueError(f"{self.name}: gradients returned shape {tuple(g.shape)}, expected {tuple(x.shape)}")
                if not _np.isfinite(g).all():
                    raise ValueError(f"{self.name}: gradients returned NaN or infinity")
                return p, _np.ascontiguousarray(g)
        return _fool.CallableClassifier(score, grad, shape[0], shape[1], shape[2], labels, self.name,
                                        self.outputs == "logits")

    def __repr__(self):
        return f"fool.FunctionClassifier({self.name}, image_shape={self.image_shape}, outputs={self.outputs!r})"


def _shape(image_shape):
    try:
        shape = tuple(int(v) for v in image_shape)
    except TypeError as e:
        raise TypeError(f"image_shape must be (C, H, W), not {type(image_shape).__name__}") from e
    if len(shape) != 3 or shape[0] not in (1, 3) or shape[1] < 1 or shape[2] < 1:
        raise ValueError(f"image_shape must be (C, H, W) with C 1 or 3, got {image_shape}")
    return shape


def torch_classifier(module, preprocess=None, device="cpu", image_shape=None, outputs="logits", labels=None):
    """A torch.nn.Module as a classifier with gradients (autograd): x float32 N x C x H x W in [0, 1]
    goes through preprocess (a function on tensors, e.g. torchvision's Normalize) into the module;
    outputs "logits" (softmax applied) or "probabilities"."""
    from ._torch import torch_classifier as make
    return make(module, preprocess=preprocess, device=device, image_shape=image_shape, outputs=outputs, labels=labels)


def _native_classifier(classifier, image_shape, outputs, labels, want_gradients=False):
    if isinstance(classifier, Model):
        return classifier._loaded, None
    if not isinstance(classifier, FunctionClassifier):
        if not callable(classifier):
            raise TypeError("classifier must be a fool.Model or a callable f(x) -> N x K probabilities, not "
                            f"{type(classifier).__name__}")
        grad = getattr(classifier, "gradients", None)
        classifier = FunctionClassifier(classifier, image_shape=image_shape, outputs=outputs, labels=labels,
                                        gradients=grad if callable(grad) else None)
    if want_gradients and classifier.gradients_fn is None:
        raise ValueError(f"{classifier.name} gives no gradients: fool.ascend needs a fool.Model, "
                         "fool.torch_classifier(module) or a callable with a gradients(x, targets) method")
    return classifier._native(image_shape), classifier


_EVOLVE_OPTIONS = {
    "threads": int, "image_size": int, "color": str, "crops": int, "eval_batch": int, "checkpoint_every": int,
    "mutation_rate": float, "halve_every": int, "eta": float, "crossover": str, "coordinates": str,
    "resume": bool, "overwrite": bool,
}


def _options(options, known, function):
    out = {}
    for key, value in options.items():
        if key not in known:
            raise TypeError(f"{function}() got an unexpected keyword argument '{key}'")
        if value is None:
            continue
        t = known[key]
        if t is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        _check_type(value, t, key)
        out[key] = value
    return out


def _positive(value, what, allow_zero=False):
    if value is None:
        return None
    _check_type(value, int, what)
    if value < 0 or value == 0 and not allow_zero:
        raise ValueError(f"{what} must be {'non-negative' if allow_zero else 'positive'}, got {value}")
    return value


def _classes(classes):
    if classes is None:
        return None
    if isinstance(classes, (int, _np.integer)) and not isinstance(classes, bool):
        classes = [classes]
    try:
        out = [c for c in classes]
    except TypeError as e:
        raise TypeError(f"classes must be a list of class indices, not {type(classes).__name__}") from e
    for c in out:
        if not isinstance(c, (int, _np.integer)) or isinstance(c, bool):
            raise TypeError(f"classes must hold class indices, not {type(c).__name__}")
    if not out:
        raise ValueError("classes: no classes given")
    return [int(c) for c in out]


def evolve(classifier, encoding="direct", generations=None, offspring=None, init=None, classes=None, seed=1,
           preset=None, image_shape=None, out=None, on_generation=None, outputs="probabilities", labels=None,
           **options):
    """Evolves fooling images with MAP-Elites (the paper's method), as `fool evolve`.

    classifier: a fool.Model, or a callable f(x) -> N x K probabilities (x float32 N x C x H x W in
    [0, 1]; image_shape=(C, H, W) says C, H, W; outputs="logits" if it returns logits).
    encoding "direct" or "cppn"; generations, offspring, init: unset, the preset's ("mnist",
    "imagenet"), else 200 each; classes: target class indices (None: every real class).
    out=None keeps the run in memory; a path writes the run directory `fool evolve --out` writes.
    on_generation(stats) gets each generation's record (a dict: generation, evaluations, median,
    classes_at_9999, ..., status); returning False stops the run, resumable with resume=True.
    Options as the CLI's flags: threads, image_size, color ("gray"/"color"), crops, eval_batch,
    checkpoint_every, mutation_rate, halve_every, eta, crossover, coordinates, resume, overwrite.
    Returns a fool.Run."""
    _check_choice(encoding, encodings(), "encoding")
    if preset is not None:
        _check_choice(preset, list(_fool.evolve_preset_names()), "preset")
    settings = _options(options, _EVOLVE_OPTIONS, "evolve")
    if "color" in settings:
        _check_choice(settings["color"], ["gray", "color"], "color")
        settings["channels"] = 1 if settings.pop("color") == "gray" else 3
    if "crossover" in settings:
        _check_choice(settings["crossover"], ["none", "sbx"], "crossover")
    if "coordinates" in settings:
        _check_choice(settings["coordinates"], ["raw", "normalized"], "coordinates")
    _check_type(seed, int, "seed")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if on_generation is not None and not callable(on_generation):
        raise TypeError(f"on_generation must be callable, not {type(on_generation).__name__}")
    settings.update(encoding=encoding, preset=preset, seed=seed, classes=_classes(classes),
                    generations=_positive(generations, "generations", allow_zero=True),
                    offspring=_positive(offspring, "offspring"), init=_positive(init, "init"))
    if isinstance(classifier, Model) and image_shape is not None:
        c, h, w = _shape(image_shape)
        if h != w:
            raise ValueError(f"image_shape must be square for a fool.Model, got {image_shape}")
        settings.setdefault("channels", c)
        settings.setdefault("image_size", h)
        image_shape = None
    native, _ = _native_classifier(classifier, image_shape, outputs, labels)
    settings["command_line"] = "python: fool.evolve(" + ", ".join(
        f"{k}={v!r}" for k, v in sorted(settings.items()) if v is not None and k != "command_line") + ")"
    return _run_in(out, settings, lambda opts: _fool.evolve(native, opts, on_generation), "evolve")


_ASCEND_OPTIONS = {
    "steps": int, "start": str, "start_noise": float, "max_gain": float, "gain_fraction": float, "decay": float,
    "blur_sigma": float, "blur_every": int, "target": float, "overwrite": bool,
}


def ascend(classifier, steps=None, classes=None, seed=1, image_shape=None, out=None, on_generation=None,
           outputs="probabilities", labels=None, **options):
    """Gradient ascent on the input (the paper's white-box method), as `fool ascend`.

    classifier: a fool.Model (run by the torch backend), fool.torch_classifier(module), or a callable
    with a gradients(x, targets) method. Options as the CLI's flags: start ("gray", "mean",
    "noise"), start_noise, max_gain, gain_fraction, decay, blur_sigma, blur_every, target, overwrite.
    on_generation(stats) gets each step's record; returning False stops. Returns a fool.Run."""
    settings = _options(options, _ASCEND_OPTIONS, "ascend")
    if "start" in settings:
        _check_choice(settings["start"], list(_fool.ascent_start_names()), "start")
    _check_type(seed, int, "seed")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if on_generation is not None and not callable(on_generation):
        raise TypeError(f"on_generation must be callable, not {type(on_generation).__name__}")
    settings.update(seed=seed, classes=_classes(classes), steps=_positive(steps, "steps"))
    native, _ = _native_classifier(classifier, image_shape, outputs, labels, want_gradients=True)
    settings["command_line"] = "python: fool.ascend(" + ", ".join(
        f"{k}={v!r}" for k, v in sorted(settings.items()) if v is not None and k != "command_line") + ")"
    return _run_in(out, settings, lambda opts: _fool.ascend(native, opts, on_generation), "ascend")


def render(genome, size=0):
    """Draws a saved genome (a dict as genomes/class_<k>.json holds, or Run.genomes[i]) again as an
    H x W x C uint8 image; size: side in pixels (0: the size it was evolved at; CPPNs draw at any)."""
    if isinstance(genome, (str, bytes)) or hasattr(genome, "__fspath__"):
        import json
        import os
        with open(os.fspath(genome), "r", encoding="utf-8") as f:
            genome = json.load(f)
    _check_type(genome, dict, "genome")
    _check_type(size, int, "size")
    if not 0 <= size <= 8192:
        raise ValueError(f"size must be in [0, 8192], got {size}")
    return _fool.render(genome, size)


def _run_dir(run, what):
    import os
    if isinstance(run, Run):
        if run.directory is None:
            raise ValueError(f"{what} reads run directories; this run was kept in memory (run it with out=...)")
        return run.directory
    if isinstance(run, (str, os.PathLike)):
        return os.fspath(run)
    raise TypeError(f"{what} takes fool.Run objects or run directories, not {type(run).__name__}")


def _paths(items, what):
    import os
    if isinstance(items, (str, os.PathLike, Run)):
        items = [items]
    return [_run_dir(i, what) if isinstance(i, Run) else
            (os.fspath(i) if isinstance(i, (str, os.PathLike)) else _run_dir(i, what)) for i in items]


def transfer(runs, models, backend="auto", threads=0, out=None):
    """Scores the champions of runs (fool.Run on disk, or run directories) with other models (ONNX
    paths or fool.Model), as `fool transfer`: returns the matrix as transfer.json holds it; out=
    also writes transfer.json, .csv and .png there."""
    run_dirs = _paths(runs, "fool.transfer")
    model_paths = [m.path if isinstance(m, Model) else m for m in ([models] if isinstance(models, (str, Model)) else models)]
    model_paths = _paths(model_paths, "fool.transfer")
    _check_choice(backend, backends(), "backend")
    _check_type(threads, int, "threads")
    import os
    return _fool.transfer(run_dirs, model_paths, backend, threads, None if out is None else os.fspath(out))


_ANALYZE_OPTIONS = {
    "repetition": {"model": str, "backend": str, "threads": int, "threshold": float, "prominence": float,
                   "min_period": int, "max_steps": int},
    "occlusion": {"model": str, "backend": str, "threads": int, "patch": int, "stride": int, "fractions": list,
                  "masks": int, "seed": int},
}


def analyze(run, kind="repetition", **options):
    """`fool analyze repetition|occlusion` on a run on disk (fool.Run or its directory): writes
    RUN/analysis/<kind>.json and its images, returns the JSON. Options as the CLI's flags."""
    _check_choice(kind, list(_ANALYZE_OPTIONS), "analysis")
    settings = _options(options, _ANALYZE_OPTIONS[kind], "analyze")
    if "model" in settings and isinstance(options.get("model"), Model):
        settings["model"] = options["model"].path
    return _fool.analyze(_run_dir(run, "fool.analyze"), kind, settings)


def report(dirs, out):
    """One self-contained HTML page of runs, transfer matrices and experiments (as `fool report`);
    returns the path written."""
    import os
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a path, not {type(out).__name__}")
    _fool.report(_paths(dirs, "fool.report"), os.fspath(out))
    return os.fspath(out)
