"""``simplecnn compare`` end to end: both sides on the same inputs, then the
stage-by-stage comparison.

1. Python side: ``read_config``, ``init_model`` (He init from ``seed``, or the
   weights of ``weights``), the data (a simpleNN .mat file as it is, or
   seeded random images), ``check_data``, the first N instances,
   ``init_net`` and ``lossgrad_subset`` with ``trace.tracing()`` on.
2. MATLAB side: the tree's layout is detected, the tree copied, instrumented
   and run under one Octave session on the same param/model/prob
   (``octave_run.py``); the records are mapped to the canonical stages
   (``mapping.py``).
3. Comparison (``compare.py``) in propagated or isolated mode
   (``isolated.py``), the near-tie analysis of pooling winners, and the first
   divergence in execution order.
"""
from __future__ import annotations

import contextlib
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simplecnn_py.support.errors import EnvironmentProblem, InputError

from . import embedded
from .judge import metrics as C
from .octave.layouts import detect_layout
from .sources.matlab_stages import matlab_stages
from .octave.run import run_matlab
from .octave.session import OctaveSession, find_octave
from .judge.stages import INDEX_STAGES, canonical_stages

DEFAULT_TREE = embedded.SEED_TREE
DEFAULT_CONFIG_NAME = "mnist-demo-layer4.config"
DEFAULT_INSTANCES = 64


@dataclass
class Options:
    matlab_dir: str | None = None
    config: str | None = None
    data: str | None = None
    weights: str | None = None
    instances: int | None = None
    precision: str = "double"
    mode: str = "propagated"
    rtol: float | None = None
    seed: int = 0
    timeout: float = 600.0
    instrument: bool = True
    progress: object = None           # callable(str) or None


@dataclass
class Result:
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
    command: str = ""                 # the shell command that reproduces the report (the CLI sets it)

    def to_json(self) -> dict:
        return {
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


def _say(opts, text):
    if opts.progress:
        opts.progress(text)


def default_tree() -> Path:
    if not (DEFAULT_TREE / "cnn").is_dir():
        raise EnvironmentProblem(f"the embedded MATLAB reference is missing ({DEFAULT_TREE}); "
                                 "pass --matlab-dir DIR")
    return DEFAULT_TREE


def default_config() -> Path:
    for cand in (DEFAULT_TREE / "config" / DEFAULT_CONFIG_NAME,
                 embedded.DEMO_DIR / DEFAULT_CONFIG_NAME):
        if cand.is_file():
            return cand
    raise EnvironmentProblem(f"no bundled demo config ({DEFAULT_CONFIG_NAME}) found; pass --config CFG")


def _read_param(path, precision):
    from simplecnn_py.cnn.read_config import read_config

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        param = read_config(str(path))
    for w in caught:
        print(f"simplecnn: warning: {w.message}", file=sys.stderr)
    param.precision = precision
    return param


def generated_data(param, n, seed):
    """``n`` seeded random images (pixels in [0, 1)) and labels covering 1..nL."""
    from simplecnn_py.support.conventions import struct

    nL = int(param.nL)
    if n < nL:
        raise InputError("--instances", f"generated data needs at least nL = {nL} instances (one per class), "
                                        f"not {n}")
    rng = np.random.default_rng(seed + 12345)
    a, b, d = int(param.ht_input), int(param.wd_input), int(param.ch_input[1])
    Z = rng.random((n, a * b * d))
    y = rng.permutation(np.arange(n) % nL) + 1.0
    return struct(Z=Z, y=y, l=n)


def _subset(prob, n):
    """The first n instances (labels mapped over the whole file)."""
    from simplecnn_py.support.conventions import struct

    sub = struct(**vars(prob))
    sub.data = np.asfortranarray(prob.data[:, :n])
    sub.label_mat = np.asfortranarray(prob.label_mat[:, :n])
    sub.y = np.asarray(prob.y)[:n]
    sub.y_mapped = np.asarray(prob.y_mapped)[:n]
    sub.l = n
    return sub


def prepare(opts: Options):
    """Inputs of both sides: ``(param, model, prob, descriptions)``."""
    from simplecnn_py.cnn.check_data import check_data
    from simplecnn_py.cnn.init_model import init_model

    if opts.precision not in ("double", "single"):
        raise InputError("--precision", f"must be double or single, not {opts.precision}")
    if opts.mode not in ("propagated", "isolated"):
        raise InputError("--mode", f"must be propagated or isolated, not {opts.mode}")
    if opts.instances is not None and opts.instances < 1:
        raise InputError("--instances", f"must be a positive number, not {opts.instances}")
    config = Path(opts.config) if opts.config else default_config()
    param = _read_param(config, opts.precision)
    model = init_model(param, seed=opts.seed)
    if opts.weights:
        from simplecnn_py.support.datafile import load_weights

        weight, bias = load_weights(opts.weights, param)
        for m in range(1, model.L + 1):
            model.weight[m] = weight[m].astype(model.weight[m].dtype, order="F")
            model.bias[m] = bias[m].astype(model.bias[m].dtype, order="F")
    if opts.data:
        from simplecnn_py.support.datafile import load_data

        raw = load_data(opts.data, param)
        where = opts.data
        data_desc = str(opts.data)
    else:
        raw = generated_data(param, opts.instances or DEFAULT_INSTANCES, opts.seed)
        where = "generated data"
        data_desc = f"generated (seed {opts.seed})"
    prob = check_data(raw, param, where=where)
    n = prob.l if opts.instances is None else opts.instances
    if n > prob.l:
        raise InputError("--instances", f"asks for {n} instances but {where} has {prob.l}")
    if opts.instances is None:
        fit = max(1, int(MEMORY_BUDGET // bytes_per_instance(model, opts.precision)))
        if n > fit:
            _say(opts, f"compare: using the first {fit} of the {n} instances (the traced intermediates of "
                       f"all would pass {MEMORY_BUDGET / 2**30:.0f} GiB); --instances N chooses")
            n = fit
    prob = _subset(prob, n)
    return param, model, prob, str(config), data_desc


MEMORY_BUDGET = 4 * 2**30          # bytes of traced intermediates per side


def bytes_per_instance(model, precision):
    """Rough bytes of intermediates traced per instance (one side)."""
    item = 4 if precision == "single" else 8
    total = 0
    for m in range(1, int(model.LC) + 1):
        d, d2 = int(model.ch_input[m]), int(model.ch_input[m + 1])
        conv = int(model.ht_conv[m]) * int(model.wd_conv[m])
        pad = int(model.ht_pad[m]) * int(model.wd_pad[m])
        h = int(model.wd_filter[m])
        total += 2 * h * h * d * conv + 3 * d2 * conv + 2 * d * pad + 3 * d * int(model.ht_input[m]) * int(
            model.wd_input[m])
    return item * max(total, 1)


def python_side(param, model, prob):
    from simplecnn_py.support import trace
    from simplecnn_py.cnn.init_net import init_net
    from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset

    net = init_net(param, model)
    with trace.tracing() as tr:
        net, loss = lossgrad_subset(prob, param, model, net, np.arange(1, prob.l + 1), "fungrad")
    return net, loss, dict(tr.records)


def run_compare(opts: Options, source=None, python=None) -> Result:
    """Both sides on the same inputs, then :func:`judge`.  ``source`` gives
    the inputs and the MATLAB side's records: None runs the tree live under
    Octave (:class:`LiveRecords`); ``traces.TraceRecords`` reads them from a
    trace file (``simplecnn compare --trace``).  ``python``: a source of
    ``sources/`` (a PyTorch network, your routines, a second MATLAB tree)
    in place of the port (``compare --python``, ``--against``)."""
    t_start = time.perf_counter()
    timings = {}
    source = LiveRecords(opts) if source is None else source
    param, model, prob, config_desc, data_desc = source.inputs()
    n = int(prob.l)
    dtype = C.working_dtype(opts.precision)
    rtol = opts.rtol if opts.rtol is not None else C.DEFAULT_RTOL[opts.precision]

    from simplecnn_py import fast
    port_path = "fast" if fast.enabled() else "reference"
    t0 = time.perf_counter()
    if python is not None:
        from .sources.python_side import run_python_source

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            net_py, loss_py, P, side = run_python_source(python, opts,
                                                         (param, model, prob, config_desc, data_desc))
    else:
        _say(opts, f"compare: Python port, {n} instances, {opts.precision} precision")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # Inf/NaN are compared, not warned
            net_py, loss_py, P = python_side(param, model, prob)
    timings["python_s"] = time.perf_counter() - t0

    with source.records(param, model, prob, timings) as run:
        _say(opts, f"compare: comparing {len(P)} traced stages "
                   f"({run.timings['recorded_bytes'] / 2**20:.0f} MiB from {source.origin})")
        t0 = time.perf_counter()
        M = matlab_stages(run, model, P if python is None else side.guide, n)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            result = judge(param, model, prob, net_py, P, M, opts.precision, rtol, opts.mode, dtype)
            if python is not None:
                side.finish(result, (param, model, prob), P, M)
        timings["compare_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    result.port_path = port_path
    result.layout = source.layout_name
    result.tree = source.tree
    result.config = config_desc
    result.data = data_desc
    result.instances = n
    result.timings = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in timings.items()}
    loss_m = M.get((int(model.L), "forward", "loss"))
    result.loss = {"python": float(np.asarray(loss_py).reshape(-1)[0]),
                   "matlab": None if loss_m is None or loss_m.value is None
                   else float(np.asarray(loss_m.value).reshape(-1)[0])}
    return result


class LiveRecords:
    """The MATLAB side run live: the tree copied, instrumented and run under
    one Octave session (``octave_run.run_matlab``)."""
    origin = "Octave"

    def __init__(self, opts: Options):
        self.opts = opts
        tree = Path(opts.matlab_dir) if opts.matlab_dir else default_tree()
        self.layout = detect_layout(tree)
        find_octave()                                   # fail early, before any work
        self.layout_name, self.tree = self.layout.name, str(self.layout.root)

    def inputs(self):
        return prepare(self.opts)

    @contextlib.contextmanager
    def records(self, param, model, prob, timings):
        """The ``MatlabRun`` (its values mapped from files that live as long as the block)."""
        opts, layout = self.opts, self.layout
        _say(opts, f"compare: Octave, {layout.name} layout at {layout.root}")
        with tempfile.TemporaryDirectory(prefix="simplecnn-compare-", dir=_fast_tmp()) as work:
            t0 = time.perf_counter()
            with OctaveSession(timeout=opts.timeout) as octave:
                timings["octave_start_s"] = time.perf_counter() - t0
                run = run_matlab(octave, layout, param, model, prob, opts.precision, Path(work),
                                 instrument=opts.instrument, timeout=opts.timeout)
            timings.update({f"octave_{k}" if not k.startswith("octave") else k: v
                            for k, v in run.timings.items()})
            yield run


def judge(param, model, prob, net_py, P, M, precision, rtol, mode, dtype) -> Result:
    """Compare every canonical stage; pooling flips; isolated re-judging; verdict."""
    L = int(model.L)
    n = int(prob.l)
    keys = canonical_stages(model)
    # index arrays in the port's representation (per-instance offsets removed)
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
    iso = None
    if mode == "isolated":
        from .sources.isolated import isolated_stages

        iso = isolated_stages(param, model, net_py, prob.label_mat,
                              {k: v.value for k, v in M.items()}, dtype)
    results = []
    used = {}
    from .reports import progress             # count, rate, time left on a terminal; else keys as they are
    for key in progress.bar(keys, total=len(keys), desc="stages compared", unit="stage"):
        layer, direction, stage = key
        r = C.StageResult(layer, direction, stage, kind=C.kind_of(stage))
        m = M.get(key)
        py = P.get(key)
        if iso is not None and stage not in ("idx_pad", "idx_phiZ") and key in iso:
            py = iso[key]
        if m is not None:
            r.source, r.origin = m.source, m.origin
        if py is None:
            r.note = "the port recorded no such stage"
        elif m is None or m.value is None:
            r.note = (m.note if m is not None else "") or "not exposed by the MATLAB code"
        else:
            used[key] = py
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
        results.append(r)

    # pooling winners: locate the flips and judge near-ties
    pooling = {}
    by_key = {r.key(): r for r in results}
    order = {k: i for i, k in enumerate(keys)}
    flip_layers = []
    for m in range(1, int(model.LC) + 1):
        r = by_key.get((m, "forward", "idx_pool"))
        if r is None or not r.compared or r.ok or not r.n_diff or r.numel != np.size(P.get(r.key())):
            continue
        sig = by_key.get((m, "forward", "sigmaS"))
        sig_m = M.get((m, "forward", "sigmaS"))
        upstream = next((x for x in results if order[x.key()] < order[r.key()]
                         and x.compared and not x.ok and not x.explained), None)
        sig_err = sig.max_abs_err if sig is not None and sig.ok and sig.max_abs_err else 0.0
        info = C.pooling_flips(model, m, n, P[r.key()], M[r.key()].value,
                               P.get((m, "forward", "sigmaS")),
                               None if sig_m is None else sig_m.value, precision, sig_err)
        pooling[str(m)] = info
        loc = info["first"][0] if info["first"] else {}
        where = (f"first at instance {loc.get('instance')}, channel {loc.get('channel')}, "
                 f"output ({loc.get('row')}, {loc.get('col')})") if loc else ""
        if upstream is not None:
            info["near_ties"] = 0
            info["downstream_of"] = {"layer": upstream.layer, "direction": upstream.direction,
                                     "stage": upstream.stage}
            r.note = (f"{info['count']} of {info['windows']} pooling winners differ, downstream of the "
                      f"divergence at layer {upstream.layer}, {upstream.direction}, {upstream.stage}; {where}")
        elif info["count"] and info["near_ties"] == info["count"]:
            r.ok = True
            r.explained = True
            r.note = (f"{info['count']} of {info['windows']} pooling winners differ, all near-ties "
                      f"(the two candidates within {C.NEAR_TIE_ULPS} ULP or the sigma(S) error): "
                      f"summation order flips them; {where}")
            flip_layers.append(m)
        elif info.get("tie_rule"):
            r.note = (f"{info['count']} of {info['windows']} pooling winners differ, {info['tie_rule']} where "
                      f"the window's values are exactly equal on both sides: a tie-rule difference (the port "
                      f"takes the first maximum, as MATLAB's max does); "
                      f"{info['count'] - info['near_ties'] - info['tie_rule']} others not near-ties; {where}")
        else:
            r.note = (f"{info['count']} of {info['windows']} pooling winners differ, "
                      f"{info['count'] - info['near_ties']} not near-ties; {where}")
    notes = []
    if flip_layers:
        # downstream of a flip, judge each stage by its own (isolated) error
        from .sources.isolated import isolated_stages

        if iso is None:
            iso = isolated_stages(param, model, net_py, prob.label_mat,
                                  {k: v.value for k, v in M.items()}, dtype)
        start = min(order[(m, "forward", "idx_pool")] for m in flip_layers)
        for r in results:
            if order[r.key()] <= start or not r.compared or r.ok or r.kind == "index":
                continue
            mv = M[r.key()].value
            if r.key() in iso and iso[r.key()] is not None:
                res = C.compare_arrays(iso[r.key()], mv, precision, rtol)
                r.isolated_rel_err = res.get("rel_err")
                if res.get("ok"):
                    r.explained = True
                    r.note = (f"exceeds the tolerance end to end only because of near-tie pooling flips "
                              f"at layer {', '.join(map(str, flip_layers))}; its own (isolated) error is "
                              f"{res.get('rel_err'):.3g}" + ("; " + r.note if r.note else ""))
        notes.append(f"near-tie pooling flips at layer {', '.join(map(str, flip_layers))}: stages after them "
                     "differ end to end and are judged by their isolated error")

    first = None
    for r in results:
        if r.compared and not r.ok and not r.explained:
            first = {"layer": r.layer, "direction": r.direction, "stage": r.stage}
            break
    ok = first is None and any(r.compared for r in results)
    missing_backward = [m for m in range(1, L + 1)
                        if not any(r.compared for r in results if r.layer == m and r.direction == "backward")]
    if missing_backward:
        notes.append(f"no backward stage compared for layer(s) {missing_backward}")
    result = Result(ok, "", "", "", "", n, precision, mode, rtol, results, first, pooling, {}, notes)
    result.heatmap = _worst_heatmap(results, used, M, precision)
    return result


def _worst_heatmap(results, used, M, precision):
    """Heatmap data of the first divergent stage (where the sides start to
    differ), else of the stage with the largest error."""
    from .reports.report import heatmap_grid

    first = next((r for r in results if r.compared and not r.ok and not r.explained and r.key() in used
                  and np.size(used[r.key()]) == np.size(M[r.key()].value)), None)
    cands = [r for r in results if r.compared and r.kind == "array" and r.rel_err is not None
             and r.key() in used]
    if first is None and not cands:
        return None
    rank = lambda r: (r.rel_err if np.isfinite(r.rel_err) else 1e300, r.max_abs_err or 0.0)  # noqa: E731
    w = first if first is not None else max(cands, key=rank)
    hm = heatmap_grid(used[w.key()], M[w.key()].value, precision)
    if hm is None:
        return None
    hm.update(layer=w.layer, direction=w.direction, stage=w.stage, rel_err=w.rel_err)
    return hm


def _fast_tmp():
    """Folder for the run's files: /dev/shm (tmpfs) when writable, else the
    system's temporary folder; ``SIMPLECNN_TMPDIR`` overrides it.

    (Measured here with 635 MiB recorded per run: tracing costs about 0.3-0.4 s
    into /dev/shm, 1.2-1.7 s into /tmp, whose dirty pages go to a slow disk.)
    """
    import os

    if os.environ.get("SIMPLECNN_TMPDIR"):
        return os.environ["SIMPLECNN_TMPDIR"]
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return str(shm)
    return None
