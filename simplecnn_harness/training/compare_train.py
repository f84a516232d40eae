"""Training parity: the same training run on both sides, compared per
iteration (Newton) or per epoch (SGD, Adam).

    result = compare_train(matlab_dir, config, data, options, seed)
    result.passed, result.rows, result.to_json()

1. Inputs: the config is read and the data loaded (and cut to the first
   ``instances``) once, by the port's readers; both sides get the same
   ``y`` and ``Z`` (the MATLAB side from a .mat file written here).
2. Python side: ``simplecnn_py.cnn_train(y, Z, config, options, stream)``
   with a :class:`~simplecnn_harness.training.replay.RecordingStream` seeded with
   ``seed``; its printed lines are captured (and echoed as progress), its
   per-iteration values are taken from the returned ``info`` (full
   precision).
3. MATLAB side: the tree (current layout; detected from its ``function``
   lines) is copied to a temporary folder; in the copy only, the formats of
   the per-iteration/per-epoch ``fprintf`` lines are widened to ``%.17g`` so
   the printed values carry full precision (the user's files are never
   touched).  Its own ``cnn_train`` (argument list read from its function
   line) runs under Octave with the Python side's draws replayed
   (:mod:`~simplecnn_harness.training.replay`), and the printed lines are parsed:
   ``k-iter f: .. |g|: .. alpha: .. ratio: .. lambda: .. #CG: .. actred: ..
   prered: ..`` and ``k-epoch f: ..`` (tolerantly: any ``name: value`` pairs
   after ``<k>-iter`` / ``<k>-epoch``).
4. Comparison: per iteration, the relative error of f must be <= ``tol``
   (1e-9) and, for Newton, the CG step counts must be equal; both sides
   must run the same number of iterations, and the MATLAB side must consume
   exactly the draws the Python side made.

Errors: bad input -> ``InputError``; no Octave, an Octave error or a timeout
-> ``EnvironmentProblem``; the two sides drawing differently ->
``ReplayDivergence`` (a ``ParityFailure``), caught here and reported as a
failed comparison.
"""
from __future__ import annotations

import io
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simplecnn_py.support.errors import EnvironmentProblem, InputError
from simplecnn_py.support.quirks import explain_training_error

from .. import embedded
from ..octave.layouts import Layout, detect_layout
from .replay import Draw, RecordingStream, Replay, ReplayDivergence
from ..octave.session import INSTALL_HINT, OctaveError, OctaveSession, find_octave

DEFAULT_MATLAB_DIR = embedded.CURRENT_TREE
SOLVERS = {1: "newton", 2: "sgd", 3: "adam"}
NEWTON_FIELDS = ("f", "gnorm", "alpha", "ratio", "lambda", "cg", "actred", "prered")
PERTURBATION = 2.0 ** -50     # relative move of the replayed randn values in the floor run (a few ulps)
FLOOR_FACTOR = 10.0           # the port may differ by up to this many times the original's own floor

# --- parsing the printed progress lines ------------------------------------------

FULL = "simplecnn-full: "    # prefix of the instrumented copies of the progress lines
_NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|Inf|inf|NaN|nan)"
_ITER = re.compile(r"^\s*(\d+)\s*-\s*iter\b[\s,:]*(.*)$", re.IGNORECASE)
_EPOCH = re.compile(r"^\s*(?:(\d+)\s*-\s*epoch\b|epoch\s*[:=#]?\s*(\d+)\b)[\s,:]*(.*)$", re.IGNORECASE)
_INITIAL = re.compile(r"^\s*initial\s+f\s*:\s*(" + _NUM + r")", re.IGNORECASE)
_PAIR = re.compile(r"([#|A-Za-z_][\w#|/]*)\s*[:=]\s*(" + _NUM + r")")
# "f" is the value compared: f (Newton), loss/batch_size (SGD, Adam: the last mini-batch's loss)
_KEYS = {"f": "f", "obj": "f", "fun": "f", "loss": "f", "loss/batch_size": "f", "|g|": "gnorm",
         "gnorm": "gnorm", "alpha": "alpha", "ratio": "ratio", "lambda": "lambda", "#cg": "cg", "cg": "cg",
         "actred": "actred", "prered": "prered", "val_acc": "val_acc"}
_PROGRESS = re.compile(r"^\s*(initial f:|\d+-iter |\d+-epoch |total_#CG:|line search)", re.IGNORECASE)


def _number(text):
    return float(text.replace("Inf", "inf").replace("NaN", "nan"))


def _digits(text):
    """Significant digits of a printed number."""
    mant = re.sub(r"[eE].*$", "", text.lstrip("+-")).replace(".", "").lstrip("0")
    return len(mant)


def progress_lines(lines) -> list[str]:
    """The lines the solvers print (initial f, per iteration/epoch, total),
    without the harness's full-precision copies."""
    return [ln.rstrip() for ln in lines if _PROGRESS.match(ln) and not ln.startswith(FULL)]


def full_lines(lines) -> list[str]:
    """The full-precision copies (prefix removed)."""
    return [ln[len(FULL):].rstrip() for ln in lines if ln.startswith(FULL)]


def parse_progress(lines, solver: str) -> tuple[list[dict], dict]:
    """Per-iteration (Newton) or per-epoch (SGD/Adam) values from printed
    lines: ``[{k, f, ...}]`` and ``{'line_search_failed', 'total_cg',
    'min_digits', 'f0'}``."""
    rows, extra = [], {"line_search_failed": False, "total_cg": None, "min_digits": None, "f0": None}
    pattern = _ITER if solver == "newton" else _EPOCH
    for line in lines:
        if re.search(r"line\s*search\s*fail", line, re.IGNORECASE):
            extra["line_search_failed"] = True
        m = _INITIAL.match(line)
        if m:
            extra["f0"] = _number(m.group(1))
            continue
        m = re.search(r"total_?#?\s*CG\s*[:=]\s*(\d+)", line, re.IGNORECASE)
        if m:
            extra["total_cg"] = int(m.group(1))
            continue
        m = pattern.match(line)
        if not m:
            continue
        if solver == "newton":
            k, rest = int(m.group(1)), m.group(2)
        else:
            k, rest = int(m.group(1) or m.group(2)), m.group(3)
        row = {"k": k}
        for key, value in _PAIR.findall(rest):
            name = _KEYS.get(key.lower())
            if name and name not in row:
                row[name] = int(_number(value)) if name == "cg" else _number(value)
                if name == "f":
                    d = _digits(value)
                    extra["min_digits"] = d if extra["min_digits"] is None else min(extra["min_digits"], d)
        if "f" in row:
            rows.append(row)
    return rows, extra


def compare_text(py_lines, ml_lines) -> dict:
    """The progress lines of both sides as text: ``{'equal', 'digits',
    'structure', 'first'}`` -- lines identical, lines that differ only in
    printed digits, lines that differ in words or count (the first of those)."""
    out = {"lines": max(len(py_lines), len(ml_lines)), "equal": 0, "digits": 0, "structure": 0, "first": None}
    num = re.compile(_NUM)
    for j in range(out["lines"]):
        a = py_lines[j] if j < len(py_lines) else None
        b = ml_lines[j] if j < len(ml_lines) else None
        if a == b:
            out["equal"] += 1
        elif a is not None and b is not None and num.sub("#", a) == num.sub("#", b):
            out["digits"] += 1
            out["first_digits"] = out.get("first_digits") or {"python": a, "matlab": b}
        else:
            out["structure"] += 1
            if out["first"] is None:
                out["first"] = {"line": j + 1, "python": a, "matlab": b}
    return out


# --- the MATLAB tree ------------------------------------------------------------

_FMT_CALL = re.compile(r"\bfprintf\s*\(\s*'((?:[^']|'')*)'(.*)\)\s*;\s*$")
_FLOAT_CONV = re.compile(r"%[-+ 0#]*\d*(?:\.\d+)?[eEfgG]")


def instrument_progress(src: str) -> tuple[str, int]:
    """The source with a full-precision copy after every progress ``fprintf``
    (a format mentioning ``iter``, ``epoch`` or ``initial``) written on one
    line: ``fprintf(FMT, args);`` becomes ``fprintf(FMT, args); fprintf(
    'simplecnn-full: ' FMT', args);`` with FMT' its float conversions as
    ``%.17g``.  The original line prints unchanged (compared as text); every
    line keeps its number (error locations map back to the user's file)."""
    count = 0
    out = []
    for line in src.splitlines(keepends=True):
        end = _comment_start(line)
        code, rest = line[:end], line[end:]
        body = code.rstrip()
        m = _FMT_CALL.search(body)
        if m and re.search(r"iter|epoch|initial", m.group(1), re.IGNORECASE):
            fmt = m.group(1)
            wide = _FLOAT_CONV.sub("%.17g", fmt)
            count += 1
            code = body + f" fprintf('{FULL}{wide}'{m.group(2)});" + code[len(body):]
        out.append(code + rest)
    return "".join(out), count


def widen_progress_formats(src: str) -> tuple[str, int]:
    """Kept for callers of the earlier harness: ``instrument_progress``."""
    return instrument_progress(src)


def _comment_start(line: str) -> int:
    """Offset of a ``%`` comment outside single-quoted strings (or len).

    A ``'`` right after a value character is the transpose operator; inside
    a string ``''`` is an escaped quote."""
    i, n, in_str, prev = 0, len(line), False, ""
    while i < n:
        ch = line[i]
        if in_str:
            if ch == "'":
                if i + 1 < n and line[i + 1] == "'":
                    i += 2
                    continue
                in_str, prev = False, "'"
        elif ch == "'":
            if prev and re.match(r"[\w)\]}.']", prev):
                prev = "'"
            else:
                in_str = True
        elif ch == "%":
            return i
        elif not ch.isspace():
            prev = ch
        else:
            prev = " "
        i += 1
    return n


def check_tree(matlab_dir) -> tuple[Layout, object]:
    """The tree's layout (current only) and its ``cnn_train`` signature."""
    layout = detect_layout(matlab_dir)
    if layout.name != "current":
        raise InputError(matlab_dir, f"compare-train needs a tree of the current layout (Newton, SGD and Adam "
                                     f"under MATLAB/opt); this one is the {layout.name} layout "
                                     "(use `simplecnn compare` to check its gradient)")
    sig = layout.functions.get("cnn_train")
    if sig is None:
        raise InputError(matlab_dir, "no cnn_train.m in the tree: compare-train runs the tree's own cnn_train")
    return layout, sig


def cnn_train_call(sig, y="y", Z="Z", config="config_file", options="options", seed="seed",
                   y_v="[]", Z_v="[]") -> str:
    """``model = cnn_train(...)`` with arguments placed by the names of the
    tree's function line: the first two are the data; ``*config*`` the
    config file, ``*opt*`` the options, ``*seed*`` the seed, a validation
    set (``y_v``, ``Z_v``, ``*valid*``, ``*test*``) the given one (or
    ``[]``); ``varargin`` takes ``config, options``."""
    args = sig.args
    if len(args) < 3:
        raise InputError(sig.file, f"cnn_train takes ({', '.join(args)}); expected (y, Z, ..., config, options)")
    out = [y, Z]
    placed = set()
    for a in args[2:]:
        low = a.lower()
        if low == "varargin":
            rest = [v for k, v in (("config", config), ("options", options)) if k not in placed]
            out += rest
            placed.update(("config", "options"))
            break
        if "config" in low:
            out.append(config)
            placed.add("config")
        elif "opt" in low:
            out.append(options)
            placed.add("options")
        elif "seed" in low:
            out.append(seed)
        elif re.search(r"test|valid|^[yz]_?t$|^[yz]t$|^[yz]_?v$", low):
            out.append(Z_v if low.startswith("z") else y_v)
        else:
            raise InputError(sig.file, f"cnn_train({', '.join(args)}): compare-train does not know what to pass "
                                       f"as '{a}'")
    if "config" not in placed:
        raise InputError(sig.file, f"cnn_train({', '.join(args)}): no argument for the config file")
    if "options" not in placed:
        out.append(options)
    return f"model = cnn_train({', '.join(out)});"


# --- results --------------------------------------------------------------------

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

    @property
    def passed(self) -> bool:
        return not self.problems and all(r["ok"] for r in self.rows)

    @property
    def value_name(self) -> str:
        return "f" if self.solver == "newton" else "loss/batch_size"

    def to_json(self) -> dict:
        """Plain JSON values (non-finite numbers become null)."""
        return _clean({
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
        })


def _clean(v):
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


def _finite_or_none(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def rel_err(a, b) -> float:
    """|a - b| / |b| (b the MATLAB value); 0 when both are equal."""
    if a is None or b is None:
        return math.inf
    if a == b:
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(b), np.finfo(float).tiny)


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
                first = {"k": k, "what": f"the MATLAB side printed no {_unit(solver)} {k}"}
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
            for x in ("gnorm", "lambda", "alpha"):
                if rp.get(x) is not None and rm.get(x) is not None:
                    row[f"rel_err_{x}"] = rel_err(rp[x], rm[x])
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
        rows.append(row)
        if not ok and first is None:
            first = {"k": k, "what": why}
    extra = [r["k"] for r in ml.rows if r["k"] not in {x["k"] for x in py.rows}]
    if extra:
        problems.append(f"the MATLAB side ran {_unit(solver)}s the Python side did not: {extra}")
        if first is None:
            first = {"k": extra[0], "what": f"the Python side printed no {_unit(solver)} {extra[0]}"}
    if len(py.rows) != len(ml.rows):
        problems.append(f"{len(py.rows)} {_unit(solver)}s on the Python side, {len(ml.rows)} on the MATLAB side")
    if not py.rows:
        problems.append(f"the Python side ran no {_unit(solver)} (check -iter_max / -epoch_max)")
    if newton and py.f0 is not None and ml.f0 is not None and rel_err(py.f0, ml.f0) > tol:
        problems.append(f"initial f differs: {py.f0!r} (Python) vs {ml.f0!r} (MATLAB)")
    cg_notes = any("note" in r for r in rows)
    if newton and py.total_cg != ml.total_cg and not cg_moved and not cg_notes:
        problems.append(f"total_#CG differs: {py.total_cg} (Python) vs {ml.total_cg} (MATLAB)")
    return rows, problems, first


def _unit(solver):
    return "iteration" if solver == "newton" else "epoch"


# --- running both sides -----------------------------------------------------------

class _Tee(io.TextIOBase):
    """stdout of the Python side: kept, and echoed as progress."""

    def __init__(self, progress):
        self.progress = progress
        self.buf = ""
        self.lines = []

    def write(self, s):
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            self.lines.append(line)
            if self.progress:
                self.progress("python", line)
        return len(s)

    def flush(self):
        pass


def load_inputs(config, data, instances=None, rowmajor=False, normalize=False, mean=None):
    """``(param, y, Z, mean)``: the config read by the port, and the first
    ``instances`` of the data file (dense float64, simpleNN's column-major
    image rows); ``normalize``: the upstream MNIST example's Z/255 minus the
    mean of the instances used (or ``mean``, the training set's)."""
    from simplecnn_py.support.datafile import load_data, scale_pixels, subtract_mean
    from simplecnn_py.cnn.read_config import read_config

    param = read_config(config)
    prob = load_data(data, param, rowmajor=rowmajor)
    y, Z = prob.y, prob.Z
    if instances is not None:
        if instances < 1:
            raise InputError("--instances", f"must be a positive number, not {instances}")
        if instances > prob.l:
            raise InputError("--instances", f"{instances} asked but {data} holds {prob.l} instances")
        y, Z = y[:instances], Z[:instances]
    if hasattr(Z, "toarray"):
        Z = Z.toarray()
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    if normalize:
        Z, mean = subtract_mean(scale_pixels(Z), mean)
    return param, np.asarray(y, dtype=np.float64).reshape(-1), Z, mean


def _flat_weights(weight, bias, L):
    parts = []
    for m in range(L):
        W, b = np.asarray(weight[m], dtype=np.float64), np.asarray(bias[m], dtype=np.float64)
        parts += [W.reshape(-1, order="F"), b.reshape(-1)]
    return np.concatenate(parts)


def run_python(y, Z, config, options, seed, progress=None, y_v=None, Z_v=None,
               on_step=None) -> tuple[Side, RecordingStream]:
    """The port's ``cnn_train`` on a recording stream; rows at full
    precision from its ``info``, its printed lines kept as text."""
    from simplecnn_py.cnn_train import cnn_train

    solver = _solver_of(options)
    stream = RecordingStream(seed)
    tee = _Tee(progress)
    t0 = time.perf_counter()
    with redirect_stdout(tee):
        model, info = cnn_train(y, Z, y_v, Z_v, str(config), options, stream, progress=on_step)
    seconds = time.perf_counter() - t0
    side = Side("python", lines=progress_lines(tee.lines), seconds=seconds)
    printed, extra = parse_progress(side.lines, solver)
    side.line_search_failed = extra["line_search_failed"]
    side.total_cg = extra["total_cg"]
    side.f0 = getattr(info, "f0", None)
    values = {"f": getattr(info, "f", None) if solver == "newton" else getattr(info, "loss", None),
              "val_acc": getattr(info, "val_acc", None)}
    if solver == "newton":
        values.update({name: getattr(info, name, None) for name in ("gnorm", "alpha", "ratio", "lambda",
                                                                     "actred", "prered")})
    for name, vals in values.items():
        if vals and len(vals) == len(printed):
            for r, v in zip(printed, vals):
                r[name] = float(v)
    side.rows = printed
    L = model.L
    side.weights = _flat_weights([model.weight[m] for m in range(1, L + 1)],
                                 [model.bias[m] for m in range(1, L + 1)], L)
    return side, stream


def _solver_of(options) -> str:
    from simplecnn_py.opt.parse_options import parse_options

    return SOLVERS[parse_options(options).solver]


def _q(s) -> str:
    return str(s).replace("'", "''")


def perturbed_draws(draws, size, seed=12345):
    """The draws with every ``randn`` value v turned into v*(1 + size*u),
    u uniform in [-1, 1] (a rounding-sized move of the initial weights)."""
    rng = np.random.default_rng(seed)
    out = []
    for d in draws:
        if d.kind == "randn":
            u = rng.uniform(-1.0, 1.0, d.values.size)
            out.append(Draw(d.kind, d.shape, d.values * (1.0 + size * u)))
        else:
            out.append(d)
    return out


def run_matlab(layout, sig, y, Z, config, options, seed, stream, workdir, timeout=600,
               progress=None, strict=True, y_v=None, Z_v=None, perturbation=None) -> tuple[Side, dict]:
    """The tree's ``cnn_train`` under Octave with ``stream``'s draws replayed
    (and, with ``perturbation``, a second time with the weights' draws moved
    by that relative size: ``extra['perturbed']``)."""
    import scipy.io

    from ..octave.run import copy_tree

    workdir = Path(workdir)
    code = workdir / "matlab-code"
    _, dirs = copy_tree(layout, code, instrument=False)
    instrumented = 0
    for f in code.rglob("*.m"):
        src = f.read_text(encoding="utf-8", errors="replace")
        new, n = instrument_progress(src)
        if n:
            f.write_text(new, encoding="utf-8")
            instrumented += n
    data_file = workdir / "train-data.mat"
    mats = {"y": y.reshape(-1, 1), "Z": Z}
    if y_v is not None:
        mats.update({"y_v": np.asarray(y_v, dtype=np.float64).reshape(-1, 1), "Z_v": Z_v})
    scipy.io.savemat(str(data_file), mats, format="5")
    call = cnn_train_call(sig, y="S__.y", Z="S__.Z", config=f"'{_q(Path(config).resolve())}'",
                          options=f"'{_q(options)}'", seed=str(int(seed)),
                          y_v="S__.y_v" if y_v is not None else "[]", Z_v="S__.Z_v" if y_v is not None else "[]")
    solver = _solver_of(options)
    runs = [("matlab", list(stream.draws))]
    if perturbation:
        runs.append(("matlab-perturbed", perturbed_draws(stream.draws, perturbation)))
    sides, status = [], None
    with OctaveSession(timeout=timeout) as octave:
        for d in dirs:
            octave.addpath(d)
        for name, draws in runs:
            model_file = workdir / f"{name}-model.mat"
            folder = workdir / name
            folder.mkdir(exist_ok=True)
            start = len(octave.output)
            stop = threading.Event()
            watcher = None
            if progress:
                watcher = threading.Thread(target=_watch, args=(octave, start, progress, stop, name),
                                           daemon=True)
                watcher.start()
            t0 = time.perf_counter()
            try:
                with Replay(octave, draws, folder, strict=strict) as replay:
                    lines = octave.eval(
                        f"S__ = load('{_q(data_file)}'); cd('{_q(code)}'); {call} "
                        f"try, save('-v7', '{_q(model_file)}', '-struct', 'model', 'weight', 'bias'); "
                        "catch, end", timeout=timeout)
            except OctaveError as e:
                raise EnvironmentProblem(f"the MATLAB side failed under Octave: {e}"
                                         f"{_where(e, code, layout.root)}"
                                         f"{explain_training_error(config, options, len(y))}") from None
            finally:
                stop.set()
                if watcher is not None:
                    watcher.join(1)
            side = Side(name)
            side.seconds = time.perf_counter() - t0
            if status is None:
                status = replay.status()
            side.lines = progress_lines(lines)
            side.rows, extra = parse_progress(full_lines(lines), solver)
            if not side.rows:          # progress lines the instrumentation could not copy: as printed
                side.rows, extra = parse_progress(side.lines, solver)
            side.line_search_failed = extra["line_search_failed"]
            side.total_cg = extra["total_cg"]
            if side.total_cg is None:
                side.total_cg = parse_progress(side.lines, solver)[1]["total_cg"]
            side.f0 = extra["f0"]
            side.min_digits = extra["min_digits"]
            try:
                from simplecnn_py.support.datafile import loadmat

                v = loadmat(model_file, ["weight", "bias"])
                W = list(np.asarray(v["weight"], dtype=object).reshape(-1, order="F"))
                b = list(np.asarray(v["bias"], dtype=object).reshape(-1, order="F"))
                side.weights = _flat_weights(W, b, len(W))
            except Exception:       # a tree whose model has no weight/bias cells: no weight comparison
                side.weights = None
            sides.append(side)
    return sides[0], {"status": status, "instrumented": instrumented,
                      "perturbed": sides[1] if len(sides) > 1 else None}


def _watch(octave, start, progress, stop, name="matlab"):
    n = start
    while not stop.is_set():
        out = octave.output
        while n < len(out):
            if not out[n].startswith(FULL):
                progress(name, out[n])
            n += 1
        stop.wait(0.1)
    out = octave.output
    while n < len(out):
        if not out[n].startswith(FULL):
            progress(name, out[n])
        n += 1


def _where(err, code_dir, root):
    """`` (in <the user's file>, line N)`` for the innermost frame in the
    tree's copy (the copy keeps every line where it is)."""
    for frame in getattr(err, "stack", None) or []:
        file, name, line = (list(frame) + ["", "", ""])[:3]
        if file and str(code_dir) in file:
            return f" (in {Path(root) / os.path.relpath(file, code_dir)}, line {line})"
    return ""


def compare_train(matlab_dir=None, config=None, data=None, options="", seed=0, instances=None,
                  timeout=600, tol=1e-9, rowmajor=False, normalize=False, progress=None,
                  strict_replay=True, keep_dir=None, validation=None, validation_instances=None,
                  perturbation=PERTURBATION, floor_factor=FLOOR_FACTOR, on_step=None) -> TrainComparison:
    """Train on both sides and compare (see the module docstring)."""
    from simplecnn_py.opt.parse_options import parse_options

    matlab_dir = Path(matlab_dir) if matlab_dir else DEFAULT_MATLAB_DIR
    if config is None or data is None:
        raise InputError("compare-train", "--config and --data are required")
    if not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError("--seed", f"must be an integer in [0, 2^32), not {seed}")
    param_opts = parse_options(options)
    solver = SOLVERS[param_opts.solver]
    layout, sig = check_tree(matlab_dir)
    config = Path(config)
    if not config.is_file():
        raise InputError(config, "no such file")
    _, y, Z, mean = load_inputs(config, data, instances, rowmajor, normalize)
    y_v = Z_v = None
    if validation:
        _, y_v, Z_v, _ = load_inputs(config, validation, validation_instances, rowmajor, normalize, mean)
    exe = find_octave()                # no Octave: say so before the Python side trains
    if shutil.which(exe) is None:
        raise EnvironmentProblem(f"cannot start GNU Octave ({exe}): no such program; {INSTALL_HINT}")

    py, stream = run_python(y, Z, config, options, seed, progress, y_v, Z_v, on_step)
    result = TrainComparison(solver, tol, py, Side("matlab"), layout.name, str(matlab_dir), options,
                             int(seed), int(y.size), perturbation=perturbation, floor_factor=floor_factor,
                             validation=0 if y_v is None else int(y_v.size))
    tmp = keep_dir or tempfile.mkdtemp(prefix="simplecnn-train-")
    try:
        try:
            ml, extra = run_matlab(layout, sig, y, Z, config, options, seed, stream, tmp, timeout,
                                   progress, strict_replay, y_v, Z_v, perturbation)
        except ReplayDivergence as e:
            result.problems.append(str(e))
            result.first_divergence = {"k": None, "what": str(e)}
            result.matlab.lines = []
            return result
        result.matlab = ml
        result.perturbed = extra["perturbed"]
        counts = stream.counts()
        status = extra["status"] or {}
        for kind, (draws, values) in counts.items():
            used = status.get(kind, (0, 0, 0, 0))
            result.replay[kind] = {"python_draws": draws, "matlab_draws": used[0],
                                   "python_values": values, "matlab_values": used[2]}
            if used[0] != draws:
                result.problems.append(f"replayed randomness: the MATLAB side used {used[0]} of the Python "
                                       f"side's {draws} {kind} draws (the two sides draw differently)")
        if ml.min_digits is not None and ml.min_digits < 12:
            result.problems.append(f"the MATLAB side printed its values with only {ml.min_digits} significant "
                                   "digits (its progress lines could not be instrumented), too few to check")
        rows, problems, first = compare_rows(py, ml, solver, tol, result.perturbed, floor_factor)
        result.rows = rows
        result.problems += problems
        result.text = compare_text(py.lines, ml.lines)
        if result.text["structure"]:
            result.problems.append(f"printed lines differ in words or number: first at line "
                                   f"{result.text['first']['line']}: Python {result.text['first']['python']!r}"
                                   f", MATLAB {result.text['first']['matlab']!r}")
        result.first_divergence = first if first is not None else (
            {"k": None, "what": result.problems[0]} if result.problems else None)
        if py.weights is not None and ml.weights is not None and py.weights.size == ml.weights.size:
            den = np.linalg.norm(ml.weights)
            result.weights_rel_err = float(np.linalg.norm(py.weights - ml.weights) / (den if den else 1.0))
    finally:
        if keep_dir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


# --- reports ------------------------------------------------------------------------

def format_table(result: TrainComparison) -> str:
    newton = result.solver == "newton"
    name = result.value_name
    head = (f"{'k':>4}  {name + ' (Python)':>24}  {name + ' (MATLAB)':>24}  {'rel err':>9}  "
            f"{'floor':>9}  {'allowed':>9}")
    if newton:
        head += f"  {'#CG':>9}  {'alpha':>10}  {'lambda':>12}"
    if result.validation:
        head += f"  {'val_acc Py/ML':>17}"
    out = [head + "  ok"]
    for r in result.rows:
        p, m = r["python"], r["matlab"] or {}
        e = r["rel_err"]
        line = (f"{r['k']:>4}  {_g(p.get('f')):>24}  {_g(m.get('f')):>24}  "
                f"{('-' if e is None else f'{e:.2e}'):>9}  {_e(r.get('floor')):>9}  {_e(r.get('allowed')):>9}")
        if newton:
            cg = f"{p.get('cg')}/{m.get('cg', '-')}"
            line += f"  {cg:>9}  {_g(p.get('alpha'), 4):>10}  {_g(p.get('lambda'), 6):>12}"
        if result.validation:
            acc = f"{_g(p.get('val_acc'), 6)}/{_g(m.get('val_acc'), 6)}"
            line += f"  {acc:>17}"
        out.append(line + ("  ok" if r["ok"] else "  FAIL") + (" (#CG one step apart, within the floor)"
                                                               if r.get("note") else ""))
    return "\n".join(out)


def _e(x):
    return "-" if x is None else f"{x:.2e}"


def _g(x, digits=17):
    return "-" if x is None else f"{x:.{digits}g}"


def summary(result: TrainComparison) -> str:
    unit = _unit(result.solver)
    n = len(result.rows)
    worst = max((r["rel_err"] for r in result.rows if r["rel_err"] is not None), default=None)
    floor = max((r.get("floor") or 0.0 for r in result.rows), default=None) if result.perturbed else None
    text = (f"compare-train ({result.solver}, {result.instances} instances"
            + (f" + {result.validation} validation" if result.validation else "")
            + f", seed {result.seed}, {result.layout} layout at {result.matlab_dir}): "
            + (f"{n} {unit}s" if n else f"no {unit} compared"))
    if worst is not None:
        text += f", largest {result.value_name} relative error {worst:.2e}"
        if floor is not None:
            text += (f", the MATLAB side's own floor {floor:.2e} (its run with the initial weights moved by "
                     f"{result.perturbation:.1e} relative)")
        text += f" (tolerance max({result.tol:g}, {result.floor_factor:g} x floor))"
    if result.weights_rel_err is not None:
        text += f", final weights relative difference {result.weights_rel_err:.2e}"
    if result.text:
        t = result.text
        text += (f"; printed lines: {t['equal']}/{t['lines']} identical"
                 + (f", {t['digits']} differ in the last printed digits" if t["digits"] else ""))
    if result.passed:
        return text + ": PASS"
    lines = [text + ": FAIL"]
    if result.first_divergence:
        k = result.first_divergence.get("k")
        lines.append(f"first divergence{'' if k is None else f' at {unit} {k}'}: {result.first_divergence['what']}")
    lines += [f"- {p}" for p in result.problems if not result.first_divergence
              or p != result.first_divergence.get("what")]
    return "\n".join(lines)


def write_html(path, result: TrainComparison) -> None:
    """A self-contained page: f per iteration on a log scale (both sides), the table."""
    import html

    from ..reports.html import page as html_page
    from ..reports.train_report import series_svg

    unit = _unit(result.solver)
    name = result.value_name
    series = {"Python": [(r["k"], r["python"].get("f")) for r in result.rows],
              "MATLAB": [(r["k"], (r["matlab"] or {}).get("f")) for r in result.rows]}
    svg = series_svg(series, unit, f"{name} (log scale)")
    errs = {"relative error": [(r["k"], max(r["rel_err"], 1e-17)) for r in result.rows
                               if r["rel_err"] is not None]}
    floor = [(r["k"], r.get("floor")) for r in result.rows] if result.perturbed is not None else None
    svg_err = series_svg(errs, unit, "relative error (log scale)", line=result.tol,
                         line_label=f"tolerance {result.tol:g}", floor=floor)
    newton = result.solver == "newton"
    cols = (["k", f"{name} (Python)", f"{name} (MATLAB)", "rel. error", "floor", "allowed"]
            + (["#CG Py/ML", "alpha", "lambda", "|g|"] if newton else [])
            + (["val_acc Py/ML"] if result.validation else []) + ["ok"])
    rows_html = []
    for r in result.rows:
        p, m = r["python"], r["matlab"] or {}
        cells = [str(r["k"]), _g(p.get("f")), _g(m.get("f")),
                 "-" if r["rel_err"] is None else f"{r['rel_err']:.2e}", _e(r.get("floor")), _e(r.get("allowed"))]
        if newton:
            cells += [f"{p.get('cg')}/{m.get('cg', '-')}", _g(p.get("alpha"), 6), _g(p.get("lambda"), 8),
                      _g(p.get("gnorm"), 8)]
        if result.validation:
            cells.append(f"{_g(p.get('val_acc'), 6)}/{_g(m.get('val_acc'), 6)}")
        cells.append("ok" if r["ok"] else "FAIL")
        cls = "" if r["ok"] else " class='bad'"
        rows_html.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    verdict = "PASS" if result.passed else "FAIL"
    problems = "".join(f"<li>{html.escape(p)}</li>" for p in result.problems)
    replay = "".join(f"<tr><td>{k}</td><td>{v['python_draws']}</td><td>{v['matlab_draws']}</td></tr>"
                     for k, v in result.replay.items() if v["python_draws"] or v["matlab_draws"])
    body = f"""<p>{html.escape(summary(result).splitlines()[0])}</p>
<p>Options <code>{html.escape(result.options)}</code>; tolerance: relative error &le; max({result.tol:g}, {result.floor_factor:g} &times; floor)
{"; equal #CG counts" if newton else ""}. Time: Python {result.python.seconds:.2f} s,
MATLAB under Octave {result.matlab.seconds:.2f} s.</p>
{f"<h2>Problems</h2><ul>{problems}</ul>" if problems else ""}
<h2>{html.escape(name)} per {unit}</h2>
{svg}
<h2>Relative error per {unit} (log scale; dashed red: the tolerance; dotted grey: the original's own floor,
its run with the initial weights moved by {result.perturbation or 0:.1e})</h2>
{svg_err}
<h2>Per {unit}</h2>
<table><tr>{"".join(f"<th>{c}</th>" for c in cols)}</tr>
{"".join(rows_html)}
</table>
<h2>Replayed randomness</h2>
<table><tr><th>kind</th><th>Python draws</th><th>MATLAB draws</th></tr>{replay}</table>"""
    page = html_page(f"simplecnn compare-train: {verdict}", body, heading="compare-train", ok=result.passed,
                     command=getattr(result, "command", ""))
    from simplecnn_py.support.model_file import atomic_write

    atomic_write(path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))


def default_progress(side, line):
    """Progress lines on stderr as iterations run."""
    if _PROGRESS.match(line):
        print(f"[{side:>6}] {line}", file=sys.stderr, flush=True)
