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
        self.kind = getattr(source, "kind", "torch")

    def finish(self, result, inputs, P, M):
        for r in result.stages:
            key = r.key()
            if not r.compared and key in self.notes and self.notes[key]:
                r.note = self.notes[key]
        result.notes.insert(0, f"Python side: {self.describe}")
        result.python_side = self.describe          # the reports' header names it (not a JSON field)
        result.notes.extend(self.extra.get("notes", []))
        if result.ok or not result.first_divergence:
            return
        from ..judge.slips import likely_slip

        text = likely_slip(inputs, P, {k: getattr(v, "value", v) for k, v in M.items()},
                           result.first_divergence, self.extra)
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
        raise InputError("--mode", f"isolated mode feeds the port's routines MATLAB's inputs; "
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


def size_guide(param, model, n, dtype=np.float64):
    """The canonical stages' MATLAB shapes for ``n`` instances (the port's
    shapes), as zero-memory arrays: the MATLAB side's mapping picks its
    candidates by these sizes, whatever sizes the other side has."""
    from simplecnn_py.cnn.init_net import init_net

    from ..judge.stages import canonical_stages

    net = init_net(param, model)
    L, LC = int(model.L), int(model.LC)
    g = lambda name, m: int(getattr(model, name)[m])  # noqa: E731
    shapes = {}
    for m in range(1, LC + 1):
        d, d2, h = g("ch_input", m), g("ch_input", m + 1), g("wd_filter", m)
        conv = g("ht_conv", m) * g("wd_conv", m) * n
        out = g("ht_input", m + 1) * g("wd_input", m + 1)
        pad = g("ht_pad", m) * g("wd_pad", m) * n
        unp = g("ht_input", m) * g("wd_input", m) * n
        shapes.update({
            (m, "forward", "idx_pad"): np.shape(net.idx_pad[m]), (m, "forward", "idx_phiZ"): np.shape(net.idx_phiZ[m]),
            (m, "forward", "phiZ"): (h * h * d, conv), (m, "forward", "sigmaS"): (d2, conv),
            (m, "forward", "Z"): (d2, out * n), (m, "forward", "idx_pool"): (d2 * out, n),
            (m, "backward", "dXidS"): (d2, (out if g("wd_subimage_pool", m) > 1 else conv // n) * n),
            (m, "backward", "pool_gradient"): (d2, conv), (m, "backward", "dlossdW"): (d2, h * h * d),
            (m, "backward", "dlossdb"): (d2, 1), (m, "backward", "WtDelta"): (h * h * d, conv),
            (m, "backward", "phi_gradient"): (d, pad), (m, "backward", "unpad"): (d, unp),
            (m, "backward", "activation"): (d, unp)})
    n_in = g("ch_input", LC + 1) * g("ht_input", LC + 1) * g("wd_input", LC + 1)
    for m in range(LC + 1, L + 1):
        n_out = int(model.full_neurons[m - LC])
        shapes.update({(m, "forward", "Z"): (n_out, n), (m, "backward", "dXidS"): (n_out, n),
                       (m, "backward", "dlossdW"): (n_out, n_in), (m, "backward", "dlossdb"): (n_out, 1),
                       (m, "backward", "WtDelta"): (n_in, n), (m, "backward", "activation"): (n_in, n)})
        n_in = n_out
    shapes[(L, "forward", "loss")] = ()
    return {k: np.broadcast_to(np.zeros((), dtype), shapes[k]) for k in canonical_stages(model)}
