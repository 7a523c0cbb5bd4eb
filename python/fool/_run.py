"""fool.Run: a finished (or stopped) run read back from its directory, and the in-memory runs made
in a temporary directory that is removed once everything is read."""

import json
import os
import shutil
import tempfile

import numpy as np

from . import _fool


def callable_name(fn):
    """A short name for a callable in messages and summary.json: "python:<module>.<name>"."""
    target = fn
    if not hasattr(target, "__qualname__") and hasattr(target, "__class__"):
        target = target.__class__
    name = getattr(target, "__qualname__", None) or type(fn).__name__
    module = getattr(target, "__module__", None)
    return "python:" + (f"{module}.{name}" if module and module != "__main__" else name)


class Run:
    """Everything a run directory holds, in memory.

    summary: the summary.json dict. classes: the target class indices, labels their names.
    confidences: numpy float64, one per class (of the saved 8-bit PNG, re-scored).
    images: numpy uint8 K x H x W x C, the saved PNGs. genomes: one dict per class (None for gradient
    ascent). generations: the log.jsonl records (one per generation or step). complete: False if the
    run was stopped (continue it with resume=True and the same out=). directory: the run directory,
    or None for an in-memory run."""

    def __init__(self, summary, images, genomes, generations, grid, directory=None, messages=(), complete=None):
        self.summary = summary
        self.images = images
        self.genomes = genomes
        self.generations = generations
        self._grid = grid
        self.directory = directory
        self.messages = list(messages)
        self.complete = summary.get("complete", True) if complete is None else complete

    @classmethod
    def open(cls, directory):
        """Reads a run directory written by fool evolve / fool ascend (or fool.evolve(out=...))."""
        return _read_run(os.fspath(directory), keep_directory=True)

    @property
    def classes(self):
        return [c["index"] for c in self.summary["classes"]]

    @property
    def labels(self):
        return [c["label"] for c in self.summary["classes"]]

    @property
    def confidences(self):
        return np.array([c["confidence"] for c in self.summary["classes"]], dtype=np.float64)

    def grid(self):
        """The run's grid.png: every image with its label and confidence, H x W x C uint8."""
        return self._grid.copy()

    def render(self, i, size=0):
        """Draws class i's genome (index into .classes) again at `size` pixels a side."""
        from . import render
        if self.genomes[i] is None:
            raise ValueError("this run saved no genomes (gradient ascent)")
        return render(self.genomes[i], size)

    def __repr__(self):
        s = self.summary
        where = self.directory or "in memory"
        return (f"fool.Run({s.get('command')} {s.get('method')}, {len(self.classes)} classes, "
                f"median {s.get('median_confidence', 0):.4f}, {'complete' if self.complete else 'stopped'}, {where})")


def _read_run(directory, keep_directory, messages=(), complete=None):
    with open(os.path.join(directory, "summary.json"), "r", encoding="utf-8") as f:
        summary = json.load(f)
    images = [_fool.read_image(os.path.join(directory, c["image"])) for c in summary["classes"]]
    images = np.stack(images) if images else np.zeros((0, 0, 0, 0), dtype=np.uint8)
    genomes = []
    for c in summary["classes"]:
        if c.get("genome"):
            with open(os.path.join(directory, c["genome"]), "r", encoding="utf-8") as f:
                genomes.append(json.load(f))
        else:
            genomes.append(None)
    generations = []
    log = os.path.join(directory, "log.jsonl")
    if os.path.exists(log):
        with open(log, "r", encoding="utf-8") as f:
            generations = [json.loads(line) for line in f if line.strip()]
    grid = _fool.read_image(os.path.join(directory, "grid.png"))
    return Run(summary, images, genomes, generations, grid, directory if keep_directory else None, messages, complete)


def run_in(out, settings, call, command):
    """Runs call(settings with "out") in `out`, or in a temporary directory removed afterwards
    (out=None). A stopped or failed in-memory run keeps its temporary directory, so it can resume,
    and says where in the exception."""
    if out is not None and not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a path or None, not {type(out).__name__}")
    if out is None and settings.get("resume"):
        raise ValueError("resume=True needs out= (the directory of the run to continue)")
    temporary = None
    if out is None:
        temporary = tempfile.mkdtemp(prefix="fool-" + command + "-")
        directory = os.path.join(temporary, "run")
    else:
        directory = os.fspath(out)
    keep = False
    try:
        result = call(dict(settings, out=directory))
        if result["interrupted"]:
            keep = True
            raise KeyboardInterrupt(_resume_note(command, directory))
        run = _read_run(directory, keep_directory=temporary is None, messages=result["messages"],
                        complete=result["complete"])
        if not result["complete"] and temporary is not None:
            keep = True  # the checkpoint stays, to resume from
            run.directory = directory
        return run
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        if temporary is not None and os.path.exists(os.path.join(directory, "checkpoint.json")):
            keep = True
            if hasattr(e, "add_note"):
                e.add_note(_resume_note(command, directory))
        raise
    finally:
        if temporary is not None and not keep:
            shutil.rmtree(temporary, ignore_errors=True)


def _resume_note(command, directory):
    if command != "evolve":  # gradient ascent has no checkpoint
        return f"fool: the {command} run stopped; what it wrote is in {directory}"
    return (f"fool: the {command} run stopped; its checkpoint is in {directory}: continue it with "
            f"fool.{command}(..., out={directory!r}, resume=True)")
