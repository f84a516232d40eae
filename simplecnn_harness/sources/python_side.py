"""A source of ``sources/`` in the place of the port, in today's compare
pipeline (``compare.run_compare(opts, source, python=...)``).

The source is checked before any side runs (``check``: a refusal is one
line, exit 2), run, and its stages handed to the judge as the Python side's.
After the judge: the reasons of the stages it does not expose go into the
table, the side is named in the notes, and at a FAIL the likely porting slip
(``judge/slips.py``) is added to the first divergent stage's note and to the
verdict's notes.

Streamed (``compare --chunk N``), the source is the candidate through
:class:`StreamedSide`: its chunks run in the worker thread of
``streamed.run_streamed``, and what :class:`SideOutcome` adds after the
judge is gathered chunk by chunk and added to the streamed verdict the same
way (``SideOutcome.complete``).
"""
from __future__ import annotations

import contextlib

import numpy as np

from simplecnn_py.support.errors import InputError

from .base import observer


class SideOutcome:
    """What the pipeline keeps of the source's run until the verdict."""

    def __init__(self, source, run=None):
        if run is None:                                   # filled in by the caller (a streamed compare)
            self.describe, self.notes, self.origins, self.extra, self.isolate = \
                getattr(source, "describe", source.origin), {}, {}, {}, None
            return
        self.describe = run.describe or getattr(source, "describe", source.origin)
        self.notes = {k: s.note for k, s in run.stages.items() if s.value is None}
        self.origins = {k: s.origin for k, s in run.stages.items() if s.value is not None}
        self.extra = run.net if isinstance(run.net, dict) else {}
        self.isolate = getattr(run, "isolate", None)     # isolated mode (the judge calls it)

    def finish(self, result, inputs, P, M):
        M = {k: getattr(v, "value", v) for k, v in M.items()}

        def ties():
            from .torch_ties import explain_pooling_ties

            explain_pooling_ties(result, inputs, P, M)

        from ..judge.slips import likely_slip

        self.complete(result, ties if "S" in self.extra else None,
                      lambda first: likely_slip(inputs, P, M, first, self.extra))

    def complete(self, result, ties, slip):
        """The verdict completed: reasons of the stages not exposed, the side
        named, its notes, ``ties()`` (PyTorch's pooling ties; None: not
        asked) at a FAIL, a failure of the network, ``slip(first)`` (the
        likely slip's text or None) at a FAIL."""
        for r in result.stages:
            key = r.key()
            if not r.compared and key in self.notes and self.notes[key]:
                r.note = self.notes[key]
        result.notes.insert(0, f"Python side: {self.describe}")
        result.python_side = self.describe          # the reports' header names it (not a JSON field)
        result.notes.extend(self.extra.get("notes", []))
        if result.mode == "isolated":
            result.notes.extend(getattr(self.isolate, "notes", []))
        if ties is not None and not result.ok:
            ties()
        failed = self.extra.get("failed")
        if failed is not None:
            if result.ok or not result.first_divergence:
                raise failed                # nothing before the failure differs: the failure is the news
            result.notes.append(f"the network then failed: {failed}")
        if result.ok or not result.first_divergence:
            return
        text = slip(result.first_divergence)
        if not text:
            return
        result.notes.append(f"likely slip: {text}")
        fd = result.first_divergence
        for r in result.stages:
            if (r.layer, r.direction, r.stage) == (fd["layer"], fd["direction"], fd["stage"]):
                r.note = (r.note + "; " if r.note else "") + f"likely slip: {text}"


class StreamedSide:
    """A ``--python``/``--against`` source as the candidate of a streamed
    compare (``streamed.run_streamed``).

    Each chunk runs through the source's ``chunks(progress, instances)`` when
    it has one (set up once: one Octave session for a MATLAB tree, a torch
    module's weights copied once), else through its ``run(inputs,
    progress)``.  :meth:`observe` (in the worker thread, before the judge
    releases the chunk) keeps what the unchunked pipeline adds after the
    judge (``SideOutcome.complete``): the reasons of the stages not exposed,
    the side's notes, a failure of the network, PyTorch's pooling ties (per
    chunk, combined), the values the slip analysis needs of the first chunk
    that diverges in a forward stage (that chunk only), and the module's
    outputs (the loss of all the instances, for a slip of the loss)."""

    def __init__(self, source, opts, ins):
        self.source, self.opts, self.ins = source, opts, ins
        self.origin = source.origin
        self.outcome = SideOutcome(source)
        self.describe = self.outcome.describe
        self.ties = {}            # pooled conv layer -> the tie_pieces of each chunk
        self.kept = None          # (inputs, P, M, extra) of the first chunk diverging in a forward stage
        self.outputs = []         # the module's outputs, chunk by chunk (PyTorch)
        self.torch = False        # the side is a PyTorch network (its runs keep its tensors)
        self.start = 0            # the first instance (0-based) of the next chunk observed

    def check(self, ins):
        self.source.check(ins)
        observer(self.opts.progress)(f"compare: {self.describe}, {int(ins.prob.l)} instances, "
                                     f"{self.opts.precision} precision")

    @contextlib.contextmanager
    def chunks(self, progress=None):
        """``run(inputs, k)`` per chunk (a context manager yielding its
        ``SideRun``); ``run.stop()`` ends an Octave side's session at once
        (called from the main thread when its own side fails)."""
        from simplecnn_py import fast

        port_path = "fast" if fast.enabled() else "reference"
        src = self.source
        if hasattr(src, "chunks"):
            inner = src.chunks(None, instances=int(self.ins.prob.l))
        else:
            inner = contextlib.nullcontext(lambda part, k: src.run(part, None))
        with inner as run_one:
            @contextlib.contextmanager
            def one(part, k):
                with run_one(part, k) as run:
                    run.meta = dict(run.meta or {}, port_path=port_path)
                    yield run

            one.stop = getattr(run_one, "stop", lambda: None)
            yield one

    def observe(self, a, b, c):
        """The next chunk's runs (``a`` the reference's, ``b`` this side's) of ``c`` instances."""
        from ..inputs import subset

        start, self.start = self.start, self.start + c
        out = self.outcome
        for key, s in b.stages.items():
            if s.value is None:
                out.notes.setdefault(key, s.note)
        extra = b.net if isinstance(b.net, dict) else {}
        for note in extra.get("notes", []):
            if note not in out.extra.setdefault("notes", []):
                out.extra["notes"].append(note)
        if extra.get("failed") is not None:
            out.extra.setdefault("failed", extra["failed"])
        if "S" not in extra:
            return
        from .torch_ties import tie_pieces

        self.torch = True
        self.outputs.append(extra.get("output"))
        model = self.ins.model
        for m in range(1, int(model.LC) + 1):
            key = (m, "backward", "pool_gradient")
            py, mat, sigma = _value(b, key), _value(a, key), _value(a, (m, "forward", "sigmaS"))
            if int(model.wd_subimage_pool[m]) > 1:
                self.ties.setdefault(m, []).append(
                    None if py is None or mat is None or sigma is None else tie_pieces(model, m, c, py, mat, sigma))
        if self.kept is None:
            keys = self.forward_keys()
            if any(_diverges(_value(b, k), _value(a, k), self.rtol()) for k in keys):
                P = {k: _value(b, k) for k in keys if _value(b, k) is not None}
                M = {k: np.array(_value(a, k), copy=True) for k in keys if _value(a, k) is not None}
                ins = self.ins
                self.kept = ((ins.param, ins.model, subset(ins.prob, c, start)), P, M,
                             {k: extra[k] for k in ("S", "x", "layers", "output") if k in extra})

    def forward_keys(self):
        from ..judge.stages import INDEX_STAGES, canonical_stages

        return [k for k in canonical_stages(self.ins.model)
                if k[1] == "forward" and k[2] not in INDEX_STAGES and k[2] != "loss"]

    def rtol(self):
        from ..judge.metrics import DEFAULT_RTOL

        return self.opts.rtol if self.opts.rtol is not None else DEFAULT_RTOL[self.ins.precision]

    def finish(self, result):
        """Complete the streamed verdict as ``SideOutcome.finish`` does the unchunked one."""
        from ..judge.slips import likely_slip
        from .torch_ties import accept_ties, ties_combined

        ins = self.ins

        def ties():
            accept_ties(result, lambda r: ties_combined(self.ties.get(r.layer, [None]), result.rtol))

        def slip(first):
            if (first["direction"], first["stage"]) == ("forward", "loss"):
                p, q = result.loss.get("python"), result.loss.get("matlab")
                if self.torch and self.outputs and all(o is not None for o in self.outputs):
                    p = self.source.whole_loss(np.concatenate(self.outputs), np.asarray(ins.prob.label_mat).T,
                                               ins.precision)
                key = (int(ins.model.L), "forward", "loss")
                return likely_slip((ins.param, ins.model, ins.prob), {key: p}, {key: q}, first, {})
            if self.kept is None:
                return None
            return likely_slip(*self.kept[:3], first, self.kept[3])

        self.outcome.complete(result, ties if self.torch else None, slip)
        if self.torch and self.outputs and all(o is not None for o in self.outputs) and \
                result.loss.get("python") is not None:
            whole = self.source.whole_loss(np.concatenate(self.outputs), np.asarray(ins.prob.label_mat).T,
                                           ins.precision)
            summed = result.loss["python"]
            if abs(whole - summed) > 1e-6 * max(abs(whole), abs(summed), np.finfo(np.float64).tiny):
                result.notes.append(f"the network's loss is not a sum over the instances (all of them: {whole:.6g}; "
                                    f"the chunks' added up: {summed:.6g}): its loss and gradients are the "
                                    "chunks' (run without --chunk for the whole batch's)")


def _value(run, key):
    s = run.stages.get(key)
    return None if s is None else s.value


def _diverges(py, mat, rtol):
    """A chunk's stage beyond ``rtol`` (sizes, norm of the difference), as the judge would fail it."""
    if py is None or mat is None:
        return False
    if np.size(py) != np.size(mat):
        return True
    a = np.asarray(py, dtype=np.float64).reshape(-1, order="F")
    b = np.asarray(mat, dtype=np.float64).reshape(-1, order="F")
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.linalg.norm(a - b)
        return not d <= rtol * max(np.linalg.norm(b), np.finfo(np.float64).tiny)


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

