"""A source of ``sources/`` in the place of the port, in today's compare
pipeline (``compare.run_compare(opts, source, python=...)``).

The source is checked before any side runs (``check``: a refusal is one
line, exit 2), run, and its stages handed to the judge as the Python side's.
After the judge: the reasons of the stages it does not expose go into the
table, the side is named in the notes, and at a FAIL the likely porting slip
(``judge/slips.py``) is added to the first divergent stage's note and to the
verdict's notes.
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.support.errors import InputError


class SideOutcome:
    """What the pipeline keeps of the source's run until the verdict."""

    def __init__(self, source, run):
        self.describe = run.describe or getattr(source, "describe", source.origin)
        self.notes = {k: s.note for k, s in run.stages.items() if s.value is None}
        self.origins = {k: s.origin for k, s in run.stages.items() if s.value is not None}
        self.extra = run.net if isinstance(run.net, dict) else {}
        self.isolate = getattr(run, "isolate", None)     # isolated mode (the judge calls it)

    def finish(self, result, inputs, P, M):
        M = {k: getattr(v, "value", v) for k, v in M.items()}
        for r in result.stages:
            key = r.key()
            if not r.compared and key in self.notes and self.notes[key]:
                r.note = self.notes[key]
        result.notes.insert(0, f"Python side: {self.describe}")
        result.python_side = self.describe          # the reports' header names it (not a JSON field)
        result.notes.extend(self.extra.get("notes", []))
        if result.mode == "isolated":
            result.notes.extend(getattr(self.isolate, "notes", []))
        if "S" in self.extra and not result.ok:
            from .torch_ties import explain_pooling_ties

            explain_pooling_ties(result, inputs, P, M)
        failed = self.extra.get("failed")
        if failed is not None:
            if result.ok or not result.first_divergence:
                raise failed                # nothing before the failure differs: the failure is the news
            result.notes.append(f"the network then failed: {failed}")
        if result.ok or not result.first_divergence:
            return
        from ..judge.slips import likely_slip

        text = likely_slip(inputs, P, M, result.first_divergence, self.extra)
        if not text:
            return
        result.notes.append(f"likely slip: {text}")
        fd = result.first_divergence
        for r in result.stages:
            if (r.layer, r.direction, r.stage) == (fd["layer"], fd["direction"], fd["stage"]):
                r.note = (r.note + "; " if r.note else "") + f"likely slip: {text}"


def run_python_source(python, opts, inputs):
    """(net or None, loss, {key: ndarray}, SideOutcome) of ``python`` on ``inputs``."""
    if opts.mode == "isolated" and not getattr(python, "isolated", False):
        raise InputError("--mode", f"isolated mode feeds each stage MATLAB's inputs; "
                                   f"not with {python.describe} (use propagated)")
    python.check(inputs)
    n = int(inputs[2].l)
    if opts.progress:
        opts.progress(f"compare: {python.describe}, {n} instances, {opts.precision} precision")
    with python.run(inputs, opts.progress) as run:
        P = {k: np.array(s.value, copy=True, order="K") for k, s in run.stages.items() if s.value is not None}
        outcome = SideOutcome(python, run)
        net = None if isinstance(run.net, dict) else run.net
        loss = float("nan") if run.loss is None else run.loss
    from .matlab_pair import size_guide

    outcome.guide = size_guide(inputs[0], inputs[1], n)
    return net, loss, P, outcome


def python_source(python, against, opts):
    """The source of ``--python KIND:SPEC`` (``torch:FILE.py:NAME``,
    ``routines:FILE.py``) or ``--against matlab:DIR``; made (the file
    imported, the tree's layout detected) before any work starts."""
    if python and against:
        raise InputError("--against", "one side in place of the port: --python or --against, not both")
    if against:
        kind, sep, rest = against.partition(":")
        if kind != "matlab" or not sep or not rest:
            raise InputError("--against", f"{against}: give matlab:DIR (a second MATLAB tree)")
        from .matlab_pair import MatlabTreeSource

        return MatlabTreeSource(rest, opts)
    kind, sep, rest = python.partition(":")
    if kind == "torch" and sep:
        from .torch import TorchSource

        return TorchSource(rest)
    if kind == "routines" and sep:
        from .routines import RoutinesSource

        return RoutinesSource(rest)
    raise InputError("--python", f"{python}: give torch:FILE.py:NAME or routines:FILE.py")

