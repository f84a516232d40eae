"""The verdict of a training comparison: both sides' per-iteration (Newton)
or per-epoch (SGD, Adam) values, judged row by row.

Relative errors come from the harness's one metrics core
(:func:`simplecnn_harness.judge.metrics.compare_arrays`), on the scalars of
each row (f, and for Newton alpha, lambda and |g|, all judged against the
same allowed error) and on the final weights.  Each row also carries the verdict shape
of compare's judge: ``stages``, a list of
:class:`~simplecnn_harness.judge.metrics.StageResult` records (``layer`` 0,
``direction`` ``'train'``, ``stage`` the quantity: ``f``, ``cg``,
``val_acc``), and the comparison has a first divergence (the earliest row
that fails, with what failed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..judge.metrics import StageResult, compare_arrays, compare_index

FLOOR_FACTOR = 10.0           # the port may differ by up to this many times the original's own floor


def unit_of(solver):
    return "iteration" if solver == "newton" else "epoch"


@dataclass
class Side:
    name: str
    rows: list = field(default_factory=list)        # [{k, f, cg, alpha, lambda, gnorm, val_acc, ...}]
    lines: list = field(default_factory=list)       # progress lines as printed
    seconds: float = float("nan")
    line_search_failed: bool = False
    total_cg: int | None = None
    min_digits: int | None = None
    f0: float | None = None
    weights: np.ndarray | None = None               # final flat [vec(W_m); b_m] of all layers
    error: str | None = None


@dataclass
class TrainComparison:
    solver: str
    tol: float
    python: Side
    matlab: Side
    layout: str
    matlab_dir: str
    options: str
    seed: int
    instances: int
    replay: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    first_divergence: dict | None = None
    weights_rel_err: float | None = None
    perturbed: Side | None = None                   # the MATLAB side again, weights moved by rounding
    perturbation: float | None = None
    floor_factor: float = FLOOR_FACTOR
    text: dict = field(default_factory=dict)
    validation: int = 0
    notes: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and all(r["ok"] for r in self.rows)

    @property
    def value_name(self) -> str:
        return "f" if self.solver == "newton" else "loss/batch_size"

    def to_json(self) -> dict:
        """Plain JSON values (non-finite numbers become null)."""
        return json_plain({
            "pass": self.passed,
            "solver": self.solver,
            "layout": self.layout,
            "matlab_dir": self.matlab_dir,
            "options": self.options,
            "seed": self.seed,
            "instances": self.instances,
            "validation_instances": self.validation,
            "value": self.value_name,
            "tolerance": {"rel": self.tol, "floor_factor": self.floor_factor,
                          "perturbation": self.perturbation},
            "initial_f": {"python": self.python.f0, "matlab": self.matlab.f0},
            "iterations": self.rows,
            "first_divergence": self.first_divergence,
            "problems": self.problems,
            "printed_lines": self.text,
            "replay": self.replay,
            "final_weights_rel_err": _finite_or_none(self.weights_rel_err),
            "seconds": {"python": _finite_or_none(self.python.seconds),
                        "matlab": _finite_or_none(self.matlab.seconds)},
            "total_cg": {"python": self.python.total_cg, "matlab": self.matlab.total_cg}
            if self.solver == "newton" else None,
            "lines": {"python": self.python.lines, "matlab": self.matlab.lines},
            "notes": self.notes,
        })


def json_plain(v):
    """``v`` with plain JSON values (non-finite numbers become null)."""
    if isinstance(v, dict):
        return {str(k): json_plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_plain(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if hasattr(v, "item"):                     # a numpy scalar or 0-d array of another kind
        return json_plain(v.item())
    return v


def _finite_or_none(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def scalar_metrics(a, b) -> dict:
    """compare_arrays on two printed scalars (a Python, b MATLAB)."""
    return compare_arrays(np.float64(a), np.float64(b), "double", math.inf)


def rel_err(a, b) -> float:
    """|a - b| / |b| (b the MATLAB value) by the metrics core; a missing or
    one-sided non-finite value is infinitely far."""
    if a is None or b is None:
        return math.inf
    e = scalar_metrics(a, b)["rel_err"]
    return math.inf if e is None or math.isnan(e) else float(e)


def row_stages(k, rp, rm, allowed, newton) -> list[dict]:
    """The row's per-quantity verdicts in the judge's StageResult shape."""
    out = []
    if rm is None:
        return out
    m = scalar_metrics(rp.get("f"), rm.get("f")) if rp.get("f") is not None and rm.get("f") is not None else {}
    e = rel_err(rp.get("f"), rm.get("f"))
    out.append(StageResult(0, "train", "f", "scalar", compared=bool(m), ok=e <= allowed, rel_err=e,
                           max_abs_err=m.get("max_abs_err"), max_ulp=m.get("max_ulp"), n_diff=m.get("n_diff"),
                           numel=1, source=f"row {k}").to_json())
    for name in (("alpha", "lambda", "gnorm") if newton else ()):
        if rp.get(name) is not None and rm.get(name) is not None:
            e = rel_err(rp[name], rm[name])
            out.append(StageResult(0, "train", name, "scalar", compared=True, ok=e <= allowed, rel_err=e,
                                   numel=1, source=f"row {k}").to_json())
    for name in (("cg",) if newton else ()) + ("val_acc",):
        if rp.get(name) is None and rm.get(name) is None:
            continue
        if rp.get(name) is None or rm.get(name) is None:
            out.append(StageResult(0, "train", name, "index", compared=False, ok=False,
                                   note="missing on one side").to_json())
            continue
        c = (compare_index(np.int64(rp[name]), np.int64(rm[name])) if name == "cg"
             else compare_arrays(np.float64(rp[name]), np.float64(rm[name]), "double", 0.0))
        out.append(StageResult(0, "train", name, "index" if name == "cg" else "scalar", compared=True,
                               ok=bool(c["ok"]), rel_err=c.get("rel_err"), max_abs_err=c.get("max_abs_err"),
                               n_diff=c.get("n_diff"), numel=1, note=c.get("note", "")).to_json())
    return out


def compare_rows(py: Side, ml: Side, solver: str, tol: float, pert: Side | None = None,
                 factor: float = FLOOR_FACTOR):
    """Per-iteration rows and the problems found.

    Row k passes when the relative error of f (Newton) or loss/batch_size
    (SGD, Adam) is <= max(tol, factor * floor_k), floor_k the largest
    relative difference between the MATLAB run and its perturbed twin up to
    k (the original's own sensitivity to rounding), and, for Newton, the #CG
    counts are equal (unless the perturbed twin's count already differed
    from the MATLAB run's up to k), and the validation accuracies are equal
    (unless the twin's differ too).  Where the floor itself exceeds tol (an
    ill-conditioned run: the original moves by more than the tolerance on
    its own), #CG may differ by one step (noted in the row)."""
    newton = solver == "newton"
    keys = ("f", "cg", "alpha", "lambda", "gnorm", "val_acc") if newton else ("f", "val_acc")
    by_k_ml = {r["k"]: r for r in ml.rows}
    by_k_pt = {r["k"]: r for r in pert.rows} if pert is not None else {}
    rows, problems, first = [], [], None
    floor, cg_moved, acc_moved = 0.0, False, False
    for rp in py.rows:
        k = rp["k"]
        rm = by_k_ml.get(k)
        row = {"k": k, "python": {x: rp.get(x) for x in keys}, "matlab": None, "rel_err": None, "ok": False}
        if rm is None:
            rows.append(row)
            if first is None:
                first = {"k": k, "what": f"the MATLAB side printed no {unit_of(solver)} {k}"}
            continue
        row["matlab"] = {x: rm.get(x) for x in keys}
        rt = by_k_pt.get(k)
        if rt is not None:
            floor = max(floor, rel_err(rt["f"], rm["f"]))
            cg_moved = cg_moved or (newton and rt.get("cg") != rm.get("cg"))
            acc_moved = acc_moved or rt.get("val_acc") != rm.get("val_acc")
            row["floor"] = floor
        elif pert is not None:
            floor = math.inf
            row["floor"] = None
        allowed = max(tol, factor * floor) if math.isfinite(floor) else tol
        row["allowed"] = allowed
        e = rel_err(rp["f"], rm["f"])
        row["rel_err"] = e
        ok = e <= allowed
        why = None if ok else (f"{'f' if newton else 'loss/batch_size'} differs: relative error {e:.3g} > "
                               f"{allowed:.3g} (" + (f"{factor:g} x the MATLAB side's own floor {floor:.3g}"
                                                     if allowed > tol else f"tolerance {tol:g}") + ")")
        if newton:
            for x in ("alpha", "lambda", "gnorm"):     # judged as f is: a wrong step or damping shows here first
                if rp.get(x) is not None and rm.get(x) is not None:
                    ex = row[f"rel_err_{x}"] = rel_err(rp[x], rm[x])
                    if ex > allowed and ok:
                        ok = False
                        why = f"{'|g|' if x == 'gnorm' else x} differs: {rp[x]!r} (Python) vs {rm[x]!r} (MATLAB)"
            if rp.get("cg") is None or rm.get("cg") is None:
                ok, why = False, why or "a #CG count is missing"
            elif int(rp["cg"]) != int(rm["cg"]) and not cg_moved:
                if abs(int(rp["cg"]) - int(rm["cg"])) == 1 and floor > tol:
                    # the original moves by more than the tolerance on its own: CG's stopping
                    # test ||r|| <= xi*||g|| sits on values that uncertain, one step either way
                    row["note"] = (f"#CG {rp['cg']} vs {rm['cg']}: one step apart where the original's own "
                                   f"floor {floor:.2g} exceeds the tolerance {tol:g}")
                else:
                    ok = False
                    why = why or f"#CG differs: {rp['cg']} (Python) vs {rm['cg']} (MATLAB)"
        if rp.get("val_acc") != rm.get("val_acc") and not acc_moved:
            ok = False
            why = why or f"val_acc differs: {rp.get('val_acc')} (Python) vs {rm.get('val_acc')} (MATLAB)"
        row["ok"] = ok
        row["stages"] = row_stages(k, rp, rm, allowed, newton)
        rows.append(row)
        if not ok and first is None:
            failed = [st["stage"] for st in row["stages"] if st["ok"] is False]
            first = {"k": k, "what": why, "layer": 0, "direction": "train",
                     "stage": failed[0] if failed else None}
    extra = [r["k"] for r in ml.rows if r["k"] not in {x["k"] for x in py.rows}]
    if extra:
        problems.append(f"the MATLAB side ran {unit_of(solver)}s the Python side did not: {extra}")
        if first is None:
            first = {"k": extra[0], "what": f"the Python side printed no {unit_of(solver)} {extra[0]}"}
    if len(py.rows) != len(ml.rows):
        problems.append(f"{len(py.rows)} {unit_of(solver)}s on the Python side, {len(ml.rows)} on the MATLAB side")
    if not py.rows:
        problems.append(f"the Python side ran no {unit_of(solver)} (check -iter_max / -epoch_max)")
    if newton and py.f0 is not None and ml.f0 is not None and rel_err(py.f0, ml.f0) > tol:
        problems.append(f"initial f differs: {py.f0!r} (Python) vs {ml.f0!r} (MATLAB)")
    cg_notes = any("note" in r for r in rows)
    if newton and py.total_cg != ml.total_cg and not cg_moved and not cg_notes:
        problems.append(f"total_#CG differs: {py.total_cg} (Python) vs {ml.total_cg} (MATLAB)")
    return rows, problems, first


