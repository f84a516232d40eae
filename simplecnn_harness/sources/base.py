"""What a source is: one side of a comparison.

Data flows one way, sources -> judge -> reports.  A source runs (or reads)
one side on the inputs every command loads the same way, and hands the judge
its stage records keyed ``(layer, direction, stage)`` (the canonical stages of
``judge/stages.py``, ``docs/design.md``), each value in MATLAB's shape of the
quantity.  The judge compares two sources' runs without knowing what they
are; the reports show the verdict without knowing either.  A new kind of side
(a PyTorch network, a user's own routines, a second MATLAB tree) is a new
class here with these three members, and touches nothing else::

    class MySource:
        origin = "PyTorch"                     # the side's name in reports
        def check(self, inputs): ...           # refuse before any run (InputError -> exit 2)
        def run(self, inputs, progress):       # a context manager yielding a SideRun
            ...

``inputs`` is what the one loader gives (param, model, prob: the first
``prob.l`` instances; descriptions of config and data).  ``progress`` is the
observer the command hands down (phase lines, bars); a source reports
through it and nowhere else.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterator, Protocol

import numpy as np

Key = tuple  # (layer: int, direction: "forward" | "backward", stage: str)


@dataclass
class Stage:
    """One side's value of one canonical stage.

    ``value`` is None when the side does not expose the stage; ``note`` then
    says why (it is shown as "not compared").  ``source`` and ``origin`` say
    where the value came from, for the reports (e.g. ``'trace'`` and
    ``cnn/vTP.m:42`` for an Octave statement, ``'hook'`` and ``conv1`` for a
    PyTorch layer)."""
    value: np.ndarray | None
    source: str = ""
    origin: str = ""
    note: str = ""


@dataclass
class SideRun:
    """What a source yields for one set of inputs."""
    stages: dict                      # Key -> Stage
    loss: float | None = None         # the batch loss (sum of squared errors), when the side has one
    timings: dict = field(default_factory=dict)   # seconds per phase, bytes recorded, ...
    net: object = None                # the port's ``net`` after the run (isolated mode re-runs from it)
    describe: str = ""                # what exactly ran: tree and layout, trace file, FILE.py:NAME
    meta: dict = field(default_factory=dict)   # facts the reports name: ``layout``, ``tree`` (a MATLAB
    #                                   side), ``port_path`` ("fast" or "reference": the port)
    isolate: object = None            # isolated mode of a side other than the port: a callable
    #                                   (M {key: array or None}, dtype) -> {key: array}, each stage
    #                                   recomputed from the reference's inputs to it (None: the port's,
    #                                   ``isolated.isolated_stages`` from ``net``)


class Source(Protocol):
    origin: str

    def check(self, inputs) -> None:
        """Refuse, before any side runs, what this side cannot run (raise ``InputError``)."""

    def run(self, inputs, progress) -> contextlib.AbstractContextManager[SideRun]:
        """Run on ``inputs``; the yielded run's arrays may live only as long as the block."""


class _Quiet:
    """An observer that reports nothing."""
    live = False

    def phase(self, text):
        pass

    __call__ = phase

    def write(self, text):
        pass

    def bar(self, iterable=None, total=None, desc="", unit="it"):
        return iterable

    def routine(self, name, elapsed=None):
        pass

    def octave_done(self):
        pass

    @contextlib.contextmanager
    def paused(self):
        yield


class _Said(_Quiet):
    """A plain ``say(text)`` callable as an observer: its phases go to
    ``say``; bars, routines and pauses to the observer ``say`` is a method
    of (``progress.write`` handed down), else nowhere."""

    def __init__(self, say, owner=None):
        self.say, self.owner = say, owner
        self.live = bool(getattr(owner, "live", False))

    def phase(self, text):
        self.say(text)

    __call__ = phase

    def write(self, text):
        (self.owner.write if self.owner is not None else self.say)(text)

    def bar(self, iterable=None, total=None, desc="", unit="it"):
        if self.owner is None:
            return iterable
        return self.owner.bar(iterable, total=total, desc=desc, unit=unit)

    def routine(self, name, elapsed=None):
        if self.owner is not None:
            self.owner.routine(name)

    def octave_done(self):
        if self.owner is not None:
            self.owner.octave_done()

    def paused(self):
        return self.owner.paused() if self.owner is not None else super().paused()


def observer(progress):
    """The progress observer the parts call (``phase``/``__call__``, ``write``,
    ``bar``, ``routine``, ``octave_done``, ``paused``): ``progress`` itself
    when it is one (``reports.progress``), a plain callable wrapped, None a
    quiet one."""
    if progress is None:
        return _Quiet()
    if hasattr(progress, "routine") and hasattr(progress, "bar"):
        return progress
    owner = getattr(progress, "__self__", None)
    return _Said(progress, owner if hasattr(owner, "routine") and hasattr(owner, "bar") else None)


def as_stages(arrays: dict, source: str = "", origin: str = "") -> dict:
    """``{key: ndarray}`` (what ``simplecnn_py.support.trace`` records) as ``{key: Stage}``."""
    return {k: Stage(v, source, origin) for k, v in arrays.items()}


def values(stages: dict) -> Iterator:
    """``(key, ndarray)`` of the stages a side exposes."""
    return ((k, s.value) for k, s in stages.items() if s.value is not None)
