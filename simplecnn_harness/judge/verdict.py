"""The judge: two sides' runs in, one verdict out.

``judge(reference, candidate, inputs, ...)`` compares the canonical stages
(``stages.py``) of two :class:`~simplecnn_harness.sources.base.SideRun`
objects with the one metrics core (``metrics.py``): the reference's value
is ``b`` (the MATLAB side, the denominator of ``rel_err``), the candidate's
``a``.  It normalises index stages (per-instance offsets), classifies
differing pooling winners (near-ties, tie-rule differences, downstream of an
earlier divergence), re-judges the stages after near-tie flips by their own
isolated error, finds the first divergence in execution order, and keeps the
heatmap data of the stage to show (``heatmap.py``).  The :class:`Verdict` is
built once, whole, at the end.

Nothing here knows what the sides are, except isolated mode, which re-runs
each stage of the port from the reference's inputs: it needs the port's
``net`` (``SideRun.net``).  Nothing here imports the reports.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import metrics as C
from .heatmap import worst_heatmap
from .pooling import classify_pooling, rejudge_after_flips
from .stages import INDEX_STAGES, canonical_stages


@dataclass
class Verdict:
    """The outcome of one comparison (``to_json``: compare's JSON report)."""
    ok: bool
    layout: str
    tree: str
    config: str
    data: str
    instances: int
    precision: str
    mode: str
    rtol: float
    stages: list
    first_divergence: dict | None
    pooling: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    loss: dict = field(default_factory=dict)
    heatmap: dict | None = None
    port_path: str = "fast"           # the port's path that ran: "fast" or "reference" (simplecnn_py.fast.enabled())
    command: str = ""                 # the shell command that reproduces the report (the CLI gives it)
    chunks: int = 0                   # instance chunks of a streamed compare (0: not streamed)

    def to_json(self) -> dict:
        out = {
            "pass": bool(self.ok),
            "layout": self.layout,
            "first_divergence": self.first_divergence,
            "mode": self.mode,
            "precision": self.precision,
            "rtol": self.rtol,
            "matlab_dir": self.tree,
            "config": self.config,
            "data": self.data,
            "instances": self.instances,
            "loss": self.loss,
            "stages": [s.to_json() for s in self.stages],
            "not_compared": [{"layer": s.layer, "direction": s.direction, "stage": s.stage, "reason": s.note}
                             for s in self.stages if not s.compared],
            "pooling_flips": self.pooling,
            "notes": self.notes,
            "timings": self.timings,
            "port_path": self.port_path,
            "command": self.command,
        }
        if self.chunks:
            out["chunks"] = self.chunks          # only in streamed compares: unchunked JSON is unchanged
        return out


def judge(reference, candidate, inputs, precision, rtol=None, mode="propagated", progress=None,
          started=None, command="") -> Verdict:
    """Compare ``candidate`` with ``reference`` (both ``SideRun``) on
    ``inputs`` (what the loader gave: param, model, prob, descriptions).
    ``started``: ``time.perf_counter()`` when the command began (for
    ``timings['total_s']``); ``progress``: an observer with ``bar``."""
    t0 = time.perf_counter()
    rtol = rtol if rtol is not None else C.DEFAULT_RTOL[precision]
    model, prob = inputs.model, inputs.prob
    L, n = int(model.L), int(prob.l)
    keys = canonical_stages(model)
    P = {k: s.value for k, s in candidate.stages.items() if s.value is not None}
    M = dict(reference.stages)
    # index arrays in the candidate's representation (per-instance offsets removed)
    # before anything reads them: the comparison, isolated mode, the pooling flips
    norm_notes = {}
    for key in keys:
        m, py = M.get(key), P.get(key)
        if key[2] in INDEX_STAGES and m is not None and m.value is not None and py is not None:
            mv, note = C.normalise_index(py, m.value, C.index_stride(model, key[0], key[2]))
            if note:
                norm_notes[key] = note
                if mv is not m.value:
                    M[key] = type(m)(mv, m.source, m.origin, m.note)
    iso = _isolated(inputs, candidate, M, precision) if mode == "isolated" else None
    results, used = [], {}
    bar = getattr(progress, "bar", None)
    for key in (bar(keys, total=len(keys), desc="stages compared", unit="stage") if bar else keys):
        r, value = _stage(key, M.get(key), P.get(key), iso, norm_notes, precision, rtol)
        if value is not None:
            used[key] = value
        results.append(r)

    pooling, flip_layers = _pooling(model, n, results, keys, P, M, precision)
    notes = []
    if flip_layers:
        if iso is None:
            iso = _isolated(inputs, candidate, M, precision)
        notes.append(_rejudge_after_flips(results, keys, flip_layers, iso, M, precision, rtol))

    first = next(({"layer": r.layer, "direction": r.direction, "stage": r.stage} for r in results
                  if r.compared and not r.ok and not r.explained), None)
    ok = first is None and any(r.compared for r in results)
    missing_backward = [m for m in range(1, L + 1)
                        if not any(r.compared for r in results if r.layer == m and r.direction == "backward")]
    if missing_backward:
        notes.append(f"no backward stage compared for layer(s) {missing_backward}")
    heatmap = worst_heatmap(results, used, {k: M[k].value for k in used}, precision)
    timings = dict(candidate.timings)
    timings.update(reference.timings)
    timings["compare_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - (started if started is not None else t0)
    loss_m = reference.loss
    return Verdict(
        ok, reference.meta.get("layout", ""), reference.meta.get("tree", reference.describe),
        inputs.config_desc, inputs.data_desc, n, precision, mode, rtol, results, first, pooling,
        {k: (round(v, 4) if isinstance(v, float) else v) for k, v in timings.items()}, notes,
        {"python": None if candidate.loss is None else float(candidate.loss),
         "matlab": None if loss_m is None else float(loss_m)},
        heatmap, candidate.meta.get("port_path", ""), command)


def _isolated(inputs, candidate, M, precision):
    """The candidate's stages recomputed from the reference's inputs to each: the side's own
    ``isolate`` (a PyTorch network, your routines), else the port's (``sources/isolated.py``)."""
    from ..sources.isolated import isolated_stages

    M = {k: v.value for k, v in M.items()}
    if getattr(candidate, "isolate", None) is not None:      # a side with an isolated mode of its own
        return candidate.isolate(M, C.working_dtype(precision))
    if candidate.net is None:
        from simplecnn_py.support.errors import InputError

        raise InputError("--mode", "isolated needs the port as the Python side (its net re-runs each stage)")
    return isolated_stages(inputs.param, inputs.model, candidate.net, inputs.prob.label_mat, M,
                           C.working_dtype(precision))


def _stage(key, m, py, iso, norm_notes, precision, rtol):
    """One stage's result, and the candidate's value it was compared with (or None)."""
    layer, direction, stage = key
    r = C.StageResult(layer, direction, stage, kind=C.kind_of(stage))
    if iso is not None and stage not in ("idx_pad", "idx_phiZ") and key in iso:
        py = iso[key]
    if m is not None:
        r.source, r.origin = m.source, m.origin
    if py is None:
        r.note = "the port recorded no such stage"
        return r, None
    if m is None or m.value is None:
        r.note = (m.note if m is not None else "") or "not exposed by the MATLAB code"
        return r, None
    if stage in INDEX_STAGES:
        norm_note = norm_notes.get(key, "")
        res = C.compare_index(py, m.value)
        if norm_note:
            res["note"] = norm_note + ("; " + res["note"] if res.get("note") else "")
    else:
        res = C.compare_arrays(py, m.value, precision, rtol)
    r.compared = True
    for k2, v in res.items():
        setattr(r, k2, v)
    if m.note:
        r.note = (m.note + "; " + r.note) if r.note else m.note
    return r, py


def _pooling(model, n, results, keys, P, M, precision):
    """Locate differing pooling winners per layer and judge near-ties:
    (``{layer: info}``, layers whose flips are all near-ties; ``pooling.py``)."""
    def flips(m, sig_err):
        key = (m, "forward", "idx_pool")
        r = next(x for x in results if x.key() == key)
        if r.numel != np.size(P.get(key)):
            return None
        sig_m = M.get((m, "forward", "sigmaS"))
        return C.pooling_flips(model, m, n, P[key], M[key].value, P.get((m, "forward", "sigmaS")),
                               None if sig_m is None else sig_m.value, precision, sig_err)

    return classify_pooling(model, results, keys, flips)


def _rejudge_after_flips(results, keys, flip_layers, iso, M, precision, rtol) -> str:
    """Downstream of a near-tie flip, judge each stage by its own (isolated) error; the note saying so."""
    def isolated(key):
        if key in iso and iso[key] is not None:
            return C.compare_arrays(iso[key], M[key].value, precision, rtol)
        return None

    return rejudge_after_flips(results, keys, flip_layers, isolated)
