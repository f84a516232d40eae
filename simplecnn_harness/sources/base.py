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


class Source(Protocol):
    origin: str

    def check(self, inputs) -> None:
        """Refuse, before any side runs, what this side cannot run (raise ``InputError``)."""

    def run(self, inputs, progress) -> contextlib.AbstractContextManager[SideRun]:
        """Run on ``inputs``; the yielded run's arrays may live only as long as the block."""


def as_stages(arrays: dict, source: str = "", origin: str = "") -> dict:
    """``{key: ndarray}`` (what ``simplecnn_py.support.trace`` records) as ``{key: Stage}``."""
    return {k: Stage(v, source, origin) for k, v in arrays.items()}


def values(stages: dict) -> Iterator:
    """``(key, ndarray)`` of the stages a side exposes."""
    return ((k, s.value) for k, s in stages.items() if s.value is not None)
