"""The MATLAB side of compare-train: the tree's own ``cnn_train`` under
Octave, on a copy of the tree whose progress lines are repeated at full
precision (:func:`~simplecnn_harness.training.printed.instrument_progress`),
with the Python side's random draws replayed
(:mod:`~simplecnn_harness.training.replay`; the folder ``shadows/`` adds
``randi`` and ``randsample``, which the seed layout draws with).

The call is generated from the tree's ``function`` line
(:func:`cnn_train_call`): current layout ``cnn_train(y, Z, y_v, Z_v,
config_file, options, seed)``, seed layout ``cnn_train(y, Z, config_file,
options, seed)``, or a user's own order of the same names.
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import numpy as np

from simplecnn_py.support.conventions import vec
from simplecnn_py.support.errors import EnvironmentProblem, InputError
from simplecnn_py.support.quirks import explain_training_error

from ..octave.layouts import Layout, detect_layout
from ..octave.session import OctaveError, OctaveSession, octave_quote
from .printed import FULL, full_lines, instrument_progress, parse_progress, progress_lines
from .replay import Draw, Replay
from .verdict import Side

SHADOWS = Path(__file__).resolve().parent / "shadows"


def check_tree(matlab_dir) -> tuple[Layout, object]:
    """The tree's layout (seed or current) and its ``cnn_train`` signature."""
    layout = detect_layout(matlab_dir)
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



def flat_weights(weight, bias, L):
    """``[vec(W_1); b_1; ...; vec(W_L); b_L]`` of L weight and bias arrays."""
    parts = []
    for m in range(L):
        W, b = np.asarray(weight[m], dtype=np.float64), np.asarray(bias[m], dtype=np.float64)
        parts += [vec(W), vec(b)]
    return np.concatenate(parts)


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
               progress=None, strict=True, y_v=None, Z_v=None, perturbation=None,
               solver="newton") -> tuple[Side, dict]:
    """The tree's ``cnn_train`` under Octave with ``stream``'s draws replayed
    (and, with ``perturbation``, a second time with the weights' draws moved
    by that relative size: ``extra['perturbed']``)."""
    import scipy.io

    from ..octave.prepare import copy_tree

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
    call = cnn_train_call(sig, y="S__.y", Z="S__.Z", config=f"'{octave_quote(Path(config).resolve())}'",
                          options=f"'{octave_quote(options)}'", seed=str(int(seed)),
                          y_v="S__.y_v" if y_v is not None else "[]", Z_v="S__.Z_v" if y_v is not None else "[]")
    runs = [("matlab", list(stream.draws))]
    if perturbation:
        runs.append(("matlab-perturbed", perturbed_draws(stream.draws, perturbation)))
    sides, status = [], None
    with OctaveSession(timeout=timeout, progress=progress) as octave:
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
                watcher = threading.Thread(target=watch_output, args=(octave, start, progress, stop, name),
                                           daemon=True)
                watcher.start()
            t0 = time.perf_counter()
            try:
                with Replay(octave, draws, folder, strict=strict, shadows=[SHADOWS]) as replay:
                    lines = octave.eval(
                        f"S__ = load('{octave_quote(data_file)}'); cd('{octave_quote(code)}'); {call} "
                        f"try, save('-v7', '{octave_quote(model_file)}', '-struct', 'model', 'weight', 'bias'); "
                        "catch, end", timeout=timeout)
            except OctaveError as e:
                raise EnvironmentProblem(f"the MATLAB side failed under Octave: {e}"
                                         f"{where_in_tree(e, code, layout.root)}"
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
                W = list(vec(np.asarray(v["weight"], dtype=object)))
                b = list(vec(np.asarray(v["bias"], dtype=object)))
                side.weights = flat_weights(W, b, len(W))
            except Exception:       # a tree whose model has no weight/bias cells: no weight comparison
                side.weights = None
            sides.append(side)
    return sides[0], {"status": status, "instrumented": instrumented,
                      "perturbed": sides[1] if len(sides) > 1 else None}


def watch_output(octave, start, progress, stop, name="matlab"):
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


def where_in_tree(err, code_dir, root):
    """`` (in <the user's file>, line N)`` for the innermost frame in the
    tree's copy (the copy keeps every line where it is)."""
    for frame in getattr(err, "stack", None) or []:
        file, name, line = (list(frame) + ["", "", ""])[:3]
        if file and str(code_dir) in file:
            return f" (in {Path(root) / os.path.relpath(file, code_dir)}, line {line})"
    return ""


