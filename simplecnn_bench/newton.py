"""One Newton iteration, the port against the MATLAB code under Octave.

The one implementation of the Newton-iteration benchmark (issues 4 and 5):
``scripts/bench_newton.py`` is its command line (``main``), and ``simplecnn
bench`` (``simplecnn_bench/run.py``) calls ``newton_row`` for its
``newton`` / ``newton_octave`` rows.  Both load their data with
``simplecnn_bench.data.bench_data``.

The work, the same on both sides: ``newton`` with ``-iter_max 1`` (what
``cnn_train -s 1 -iter_max 1`` runs after its set-up) on N instances: f and
g on all of them (``fungrad_minibatch 'fungrad'``), the GNsize subset's
``feedforward`` (and ``Jacobian`` with ``-Jacobian 1``), CG with the
Gauss-Newton products (``JTBJv``, or ``R_JTBJv`` with ``-Jacobian 0``), the
line search (``'funonly'`` passes).

Both sides start from the same weights (the port's ``init_model`` from the
seed, handed to Octave in a .mat file) and take the same subset (the port's
``randperm`` draw is served to Octave by a ``randperm.m`` shadow), so they do
the same arithmetic: the f after the step and ``#CG`` of both sides are
reported beside the times as a check (f agrees to ~1e-12, #CG equal).

Timing: each side first runs a warm-up iteration on at most 64 instances
(Octave parses its functions then; the port fills its caches and thread
pool), then ``repeats`` timed iterations on the full problem
(``time.perf_counter`` / ``tic``-``toc`` around ``newton``; process start-up,
data loading and ``init_net`` are outside).  The breakdown is taken by
wrapping, during the timed runs, ``fungrad_minibatch`` (split into the
``'fungrad'`` pass and the ``'funonly'`` passes), ``Jacobian`` and ``CG`` on
each side (the Octave wrappers live in a temporary folder; the tree is not
modified); ``other`` is the rest (mostly the subset's ``feedforward``).
Octave runs as ``octave-cli`` with its own BLAS threads; the port on the path
selected (fast unless ``SIMPLECNN_REFERENCE=1`` or
``fast.use_reference()``; the row says which).
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from simplecnn_bench.common import median_time
from simplecnn_bench.data import WARMUP_INSTANCES, bench_data
from simplecnn_harness.octave.quoting import quote

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "matlab_ref" / "current" / "MATLAB" / "config" / "mnist-demo-layer4.config"
DEFAULT_TREE = REPO / "matlab_ref" / "current" / "MATLAB"
PARTS = ("fungrad", "Jacobian", "CG", "funonly", "other")


def options_for(jacobian, precision, extra=""):
    """``-s 1 -iter_max 1 -Jacobian J -ftype F`` and ``extra`` (appended: it wins)."""
    opts = f"-s 1 -iter_max 1 -Jacobian {jacobian} -ftype {0 if precision == 'single' else 1}"
    return f"{opts} {extra}".strip()


# --- the Python side ---------------------------------------------------------------------------

def _setup(y, Z, config_file, options, seed):
    """cnn_train's set-up (simplecnn_py/cnn_train.py) up to the solver call."""
    from simplecnn_py.cnn.check_data import check_data
    from simplecnn_py.support.conventions import struct
    from simplecnn_py.cnn.init_model import init_model
    from simplecnn_py.cnn.init_net import init_net
    from simplecnn_py.opt.parse_options import parse_options
    from simplecnn_py.cnn.read_config import read_config
    from simplecnn_py.support.rng import Stream

    param = parse_options(options)
    param.stream = Stream(seed)
    param.stream.log = []
    config = read_config(str(config_file))
    config.precision = param.precision
    model = init_model(config, param.stream)
    prob = check_data(struct(y=y.copy(), Z=Z), config, where="bench data")
    model.label_enum = prob.label_enum
    model.gpu_use, model.float_type = False, param.precision
    param.C = param.C * prob.l
    if param.GNsize is None:
        param.GNsize = math.ceil(0.05 * prob.l)
    param.GNsize = min(param.GNsize, prob.l)
    net = init_net(config, model)
    return param, model, prob, net


@contextlib.contextmanager
def _python_timers(parts, counts):
    """Wrap newton's fungrad_minibatch, Jacobian and CG to add their times to
    ``parts`` and their calls to ``counts``."""
    import simplecnn_py.opt.newton as N

    saved = {name: getattr(N, name) for name in ("fungrad_minibatch", "Jacobian", "CG")}

    def timed(name, key_of):
        fn = saved[name]

        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                parts[key_of(a)] = parts.get(key_of(a), 0.0) + time.perf_counter() - t0
                counts[key_of(a)] = counts.get(key_of(a), 0) + 1
        return wrapper

    N.fungrad_minibatch = timed("fungrad_minibatch", lambda a: a[4])        # 'fungrad' | 'funonly'
    N.Jacobian = timed("Jacobian", lambda a: "Jacobian")
    N.CG = timed("CG", lambda a: "CG")
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(N, name, fn)


def python_iteration(y, Z, config_file, options, seed):
    """One timed Newton iteration of the port: (seconds, parts, info, model0, perm)."""
    from simplecnn_py.opt.newton import newton

    param, model, prob, net = _setup(y, Z, config_file, options, seed)
    parts, counts = {}, {}
    with _python_timers(parts, counts), contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        _, info = newton(prob, param, model, net)
        seconds = time.perf_counter() - t0
    parts["other"] = seconds - sum(parts.values())
    info.funonly_passes = counts.get("funonly", 0)
    info.GNsize = int(param.GNsize)
    perm = [v for kind, v in param.stream.log if kind == "randperm"][0]
    return seconds, parts, info, model, perm


def measure_python(y, Z, config_file, options, seed, repeats):
    """The port's side: a warm-up on at most 64 instances, then ``repeats``
    timed iterations.  ``model`` (the starting weights), ``perm`` and
    ``perm_warm`` (the subset draws) are for the Octave side."""
    from simplecnn_py import fast

    n_warm = min(WARMUP_INSTANCES, y.size)
    perm_warm = python_iteration(y[:n_warm], Z[:n_warm], config_file, options, seed)[4]
    runs = [python_iteration(y, Z, config_file, options, seed) for _ in range(repeats)]
    times = [r[0] for r in runs]
    _, parts, info, model, perm = runs[times.index(statistics.median_low(times))]
    return {"seconds": statistics.median(times), "times": times, "parts": parts,
            "f": float(info.f[0]) if info.f else None, "cg": int(info.total_CG),
            "alpha": float(info.alpha[0]) if info.alpha else None, "funonly_passes": info.funonly_passes,
            "GNsize": info.GNsize, "port_path": "fast" if fast.enabled() else "reference",
            "model": model, "perm": perm, "perm_warm": perm_warm}


# --- the Octave side ---------------------------------------------------------------------------

DRIVER = r"""function bench_newton_driver__(tree, config_file, input_file, output_file, options, repeats)
% One Newton iteration of the tree's newton (current layout) on the weights,
% data and subset permutation of input_file (simplecnn_bench/newton.py).
addpath(fullfile(tree, 'cnn'), fullfile(tree, 'opt'));
addpath(fileparts(mfilename('fullpath')), '-begin');
global gpu_use float_type bench_t__
S = load(input_file);
param = parse_options(options);
gpu_use = false;
if param.ftype == 0
  float_type = 'single';
else
  float_type = 'double';
end
config = read_config(config_file);
nw = double(S.n_warm);
run_once(S.y(1:nw), S.Z(1:nw, :), S.weight, S.bias, S.perm_warm, param, config);
times = zeros(1, repeats);
parts = zeros(repeats, 4);
for r = 1 : repeats
  [times(r), f, cg] = run_once(S.y, S.Z, S.weight, S.bias, S.perm, param, config);
  parts(r, :) = [bench_t__.fungrad, bench_t__.Jacobian, bench_t__.CG, bench_t__.funonly];
end
save('-v7', output_file, 'times', 'parts', 'f', 'cg');
end

function [t, f, cg] = run_once(y, Z, weight, bias, perm, param, config)
global float_type bench_perm__ bench_t__
model = init_model(config);
for m = 1 : model.L
  model.weight{m} = feval(float_type, weight{m});
  model.bias{m} = feval(float_type, bias{m});
end
prob = check_data(y, Z, model);
model.label_enum = prob.label_enum;
param.C = param.C*prob.l;
if isempty(param.GNsize)
  param.GNsize = ceil(0.05*prob.l);
end
param.GNsize = min(param.GNsize, prob.l);
param.iter_max = 1;
net = init_net(model, param);
bench_perm__ = perm(:)';
bench_t__ = struct('fungrad', 0, 'Jacobian', 0, 'CG', 0, 'funonly', 0);
t0 = tic;
[model, info] = newton(prob, param, model, net);
t = toc(t0);
f = info.f(end);
cg = info.total_CG;
end
"""

RANDPERM = r"""function p = randperm(n, varargin)
% The port's randperm draw (simplecnn_bench/newton.py): the same subset.
global bench_perm__
if numel(bench_perm__) ~= n
  error('bench_newton: randperm(%d) asked, the port drew randperm(%d)', n, numel(bench_perm__));
end
p = bench_perm__;
end
"""

WRAPPER = r"""function varargout = {name}(varargin)
% Timing wrapper (simplecnn_bench/newton.py) around the tree's {name}.
global bench_t__
t0 = tic;
[varargout{{1:max(nargout, 1)}}] = bench_orig__{name}(varargin{{:}});
key = {key};
bench_t__.(key) = bench_t__.(key) + toc(t0);
end
"""

WRAPPED = {"fungrad_minibatch": "varargin{5}", "Jacobian": "'Jacobian'", "CG": "'CG'"}


def current_tree(tree) -> Path | None:
    """The folder holding ``cnn/`` and ``opt/newton.m`` of a current-layout
    tree given as itself or as its parent (``.../current`` or ``.../current/MATLAB``)."""
    tree = Path(tree)
    for root in (tree / "MATLAB", tree):
        if (root / "opt" / "newton.m").exists():
            return root
    return None


def _write_wrappers(tree, folder):
    """Copies of the tree's wrapped functions under bench_orig__<name>, and the
    wrappers; a function the tree lacks is not wrapped."""
    for name, key in WRAPPED.items():
        src = next((p for sub in ("cnn", "opt") for p in [tree / sub / f"{name}.m"] if p.exists()), None)
        if src is None:
            continue
        text = src.read_text()
        text, k = re.subn(rf"^(\s*function\b[^\n(]*?\b){name}\b", rf"\1bench_orig__{name}", text, count=1,
                          flags=re.M)
        if k != 1:
            continue
        (folder / f"bench_orig__{name}.m").write_text(text)
        (folder / f"{name}.m").write_text(WRAPPER.format(name=name, key=key))


def measure_octave(y, Z, config_file, options, model, perm, perm_warm, repeats, tree, timeout, workdir):
    """The MATLAB side under ``octave-cli``: the same warm-up and timed
    iterations on the port's weights and subsets; ``{"error": ...}`` when it
    cannot run."""
    import scipy.io

    octave = shutil.which("octave-cli") or shutil.which("octave")
    if octave is None:
        return {"error": "octave-cli not found"}
    root = current_tree(tree)
    if root is None:
        return {"error": f"{tree}: no opt/newton.m or MATLAB/opt/newton.m (not a current-layout tree)"}
    folder = Path(tempfile.mkdtemp(prefix="drv", dir=workdir))
    (folder / "bench_newton_driver__.m").write_text(DRIVER)
    (folder / "randperm.m").write_text(RANDPERM)
    _write_wrappers(root, folder)
    W = np.empty((model.L, 1), dtype=object)
    b = np.empty((model.L, 1), dtype=object)
    for m in range(1, model.L + 1):
        W[m - 1, 0] = np.asarray(model.weight[m], np.float64)
        b[m - 1, 0] = np.asarray(model.bias[m], np.float64).reshape(-1, 1)
    fin, fout = folder / "in.mat", folder / "out.mat"
    scipy.io.savemat(str(fin), {"weight": W, "bias": b, "y": y.reshape(-1, 1), "Z": Z,
                                "perm": np.asarray(perm, np.float64).reshape(1, -1),
                                "perm_warm": np.asarray(perm_warm, np.float64).reshape(1, -1),
                                "n_warm": float(len(perm_warm))}, format="5")
    call = (f"bench_newton_driver__('{quote(root.resolve())}', '{quote(Path(config_file).resolve())}', '{quote(fin)}', "
            f"'{quote(fout)}', '{quote(options)}', {int(repeats)})")
    env = dict(os.environ)
    env.pop("OPENBLAS_NUM_THREADS", None)
    try:
        p = subprocess.run([octave, "--no-gui", "--norc", "--quiet", "--no-window-system",
                            "--eval", f"addpath('{quote(folder)}'); {call}"],
                           capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"octave timed out after {timeout} s"}
    if p.returncode != 0 or not fout.exists():
        tail = (p.stderr or p.stdout or "").strip().splitlines()[-3:]
        return {"error": f"octave exit {p.returncode}: {' | '.join(tail)}"}
    v = scipy.io.loadmat(str(fout))
    times = [float(t) for t in np.ravel(v["times"])]
    rows = np.atleast_2d(v["parts"])
    i = times.index(statistics.median_low(times))
    parts = dict(zip(PARTS[:4], (float(x) for x in rows[i])))
    parts["other"] = times[i] - sum(parts.values())
    return {"seconds": statistics.median(times), "times": times, "parts": parts,
            "f": float(np.ravel(v["f"])[-1]), "cg": int(np.ravel(v["cg"])[-1]), "tree": str(root)}




# --- both ----------------------------------------------------------------------------------------

def newton_row(y, Z, config_file, options, seed=1, repeats=1, matlab_dir=None, octave=True, timeout=1800,
               workdir=None, log=None):
    """One measurement: ``{instances, options, python: {...}, octave: {...},
    ratio, same_work}`` (``octave`` absent when ``octave=False``; ``ratio``
    and ``same_work`` only when both sides ran)."""
    n = int(y.size)
    if log:
        log(f"python: {n} instances, {options}")
    py = measure_python(y, Z, config_file, options, seed, repeats)
    model, perm, perm_warm = py.pop("model"), py.pop("perm"), py.pop("perm_warm")
    row = {"instances": n, "options": options, "python": py}
    if octave:
        if log:
            log(f"octave: {n} instances, {options}")
        with tempfile.TemporaryDirectory(prefix="bench_newton", dir=workdir) as tmp:
            oc = measure_octave(y, Z, config_file, options, model, perm, perm_warm, repeats,
                                matlab_dir or DEFAULT_TREE, timeout, tmp)
        row["octave"] = oc
        if "seconds" in oc:
            row["ratio"] = oc["seconds"] / py["seconds"]
            rel = abs(oc["f"] - py["f"]) / abs(oc["f"]) if oc["f"] else float("inf")
            row["same_work"] = {"f_rel_err": rel, "cg_equal": oc["cg"] == py["cg"]}
    return row


def measure(instances=(256, 1024), jacobian=(1, 0), precision=("double",), repeats=2, config=None,
            data=None, matlab_dir=None, seed=1, octave=True, timeout=1800, log=None, extra="",
            rowmajor=False, normalize=None):
    """Rows of ``newton_row`` plus {jacobian, precision, data} for every
    combination; the data come from ``bench_data(config, data, ...)``.
    ``log`` (a callable) gets a progress line per measurement."""
    config = Path(config or DEFAULT_CONFIG)
    y_all, Z_all, desc = bench_data(config, data, max(instances), seed, rowmajor=rowmajor, normalize=normalize,
                                    smallest=min(min(instances), WARMUP_INSTANCES))
    rows = []
    for prec in precision:
        for n in instances:
            for J in jacobian:
                row = {"jacobian": J, "precision": prec, "data": desc}
                row.update(newton_row(y_all[:n], Z_all[:n], config, options_for(J, prec, extra), seed, repeats,
                                      matlab_dir, octave, timeout, log=log))
                rows.append(row)
                if log:
                    log(_line(row))
    return rows


def _line(r):
    py, oc = r["python"], r.get("octave") or {}
    head = f"{r['instances']:5d}  J={r['jacobian']}  {r['precision']:6s}  python {py['seconds']:7.3f} s"
    if "seconds" in oc:
        return f"{head}  octave {oc['seconds']:7.3f} s  ratio {r['ratio']:5.2f}x"
    return f"{head}  octave: {oc.get('error', 'not run')}"


def print_table(rows, out=None):
    out = out or sys.stdout
    print("One Newton iteration (newton with -iter_max 1; the options of each row), seconds; "
          "ratio = Octave / Python", file=out)
    head = (f"{'l':>5} {'Jac':>3} {'prec':>6} {'side':>6} {'total':>8} " +
            " ".join(f"{p:>9}" for p in PARTS) + f" {'#CG':>4} {'f after step':>22}")
    print(head, file=out)
    for r in rows:
        print(f"-- {r['instances']} instances, GNsize {r['python']['GNsize']}, options '{r['options']}', "
              f"{r['python']['port_path']} path, data: {r['data']}", file=out)
        for side in ("python", "octave"):
            v = r.get(side)
            if not v:
                continue
            if "seconds" not in v:
                print(f"{r['instances']:5d} {r['jacobian']:3d} {r['precision']:>6} {side:>6}  {v.get('error')}",
                      file=out)
                continue
            print(f"{r['instances']:5d} {r['jacobian']:3d} {r['precision']:>6} {side:>6} {v['seconds']:8.3f} " +
                  " ".join(f"{v['parts'].get(p, float('nan')):9.3f}" for p in PARTS) +
                  f" {v['cg']:4d} {v['f']:22.15g}", file=out)
        if "ratio" in r:
            sw = r["same_work"]
            print(f"{'':>5} {'':>3} {'':>6} {'ratio':>6} {r['ratio']:7.2f}x   (f rel. diff {sw['f_rel_err']:.1e}, "
                  f"#CG {'equal' if sw['cg_equal'] else 'DIFFERENT'}; alpha {r['python']['alpha']:g}, "
                  f"{r['python']['funonly_passes']} line-search passes)", file=out)


# --- simplecnn bench's Newton rows ------------------------------------------------------------

def measure_newton(inp, param, model, prob, precision, repeats, record, newton_tree, timeout):
    """A Gauss-Newton product on a subset, and one Newton iteration here and
    under Octave (current layout), on the same weights and data."""
    import importlib.util

    import numpy as np

    if importlib.util.find_spec("simplecnn_py.opt.JTBJv") is None:
        record("gn", "Gauss-Newton product", None, None, error="simplecnn_py.opt.JTBJv not present")
        return
    from simplecnn_py.cnn.cells_to_vec import cells_to_vec
    from simplecnn_py.cnn.feedforward import feedforward
    from simplecnn_py.cnn.init_net import init_net
    from simplecnn_py.cnn.Jacobian import Jacobian
    from simplecnn_py.opt.JTBJv import JTBJv
    from simplecnn_py.opt.R_JTBJv import R_JTBJv

    nGN = min(prob.l, 64)
    net = init_net(param, model)
    net = feedforward(prob.data[:, :nGN], param, model, net)
    v = cells_to_vec(model.weight, model.bias)
    v = np.random.default_rng(2).standard_normal(v.shape).astype(v.dtype)
    med, times = median_time(lambda: R_JTBJv(model, net, v), repeats)
    record("gn", f"R_JTBJv, Gauss-Newton product by R-operator ({nGN} instances)", med, times)
    med, times = median_time(lambda: Jacobian(model, net), max(1, repeats // 2))
    record("gn", f"Jacobian ({nGN} instances)", med, times)
    net = Jacobian(model, net)
    med, times = median_time(lambda: JTBJv(model, net, v), repeats)
    record("gn", f"JTBJv, Gauss-Newton product with stored Jacobian ({nGN} instances)", med, times)

    # one Newton iteration on all n instances (newton_row, as
    # scripts/bench_newton.py): the GNsize subset is all of them, and Octave is
    # served the port's permutation, so both sides solve the same system
    n = prob.l
    options = options_for(0, precision, f"-GNsize {n} -bsize {n} -C 0.01")
    row = newton_row(inp.y_all[:n], inp.Z_all[:n], inp.config, options, seed=inp.seed, repeats=repeats,
                     matlab_dir=newton_tree, timeout=timeout, workdir=inp.workdir)
    py = row["python"]
    record("newton", f"Newton iteration, ours ({n} instances, GNsize {py['GNsize']}, R-operator)",
           py["seconds"], py["times"], cg=py["cg"], f=py["f"], parts=py["parts"], alpha=py["alpha"],
           funonly_passes=py["funonly_passes"], GNsize=py["GNsize"], options=options, port_path=py["port_path"])
    oc = row["octave"]
    if "seconds" not in oc:
        record("newton_octave", "Newton iteration, Octave", None, None, error=oc["error"])
        return
    record("newton_octave", f"Newton iteration, Octave {Path(newton_tree).name} (current layout)", oc["seconds"],
           oc["times"], cg=oc["cg"], f=oc["f"], rel_err_vs_ours=row["same_work"]["f_rel_err"], parts=oc["parts"])


# --- the command line (scripts/bench_newton.py) ---------------------------------------------------

def main(argv=None):
    import argparse
    import json
    import platform

    from simplecnn_py import fast
    from simplecnn_py.support.errors import InputError

    ap = argparse.ArgumentParser(prog="bench_newton.py",
                                 description="One Newton iteration, the Python port against the MATLAB code "
                                             "under Octave (simplecnn_bench/newton.py).")
    ap.add_argument("--instances", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--jacobian", type=int, nargs="+", default=[1, 0], choices=[0, 1])
    ap.add_argument("--precision", nargs="+", default=["double"], choices=["double", "single"])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--config", default=None, help=f"default: {DEFAULT_CONFIG.relative_to(REPO)}")
    ap.add_argument("--data", default=None,
                    help="simpleNN data file (default for a 28x28x1 10-class config: ../shared/data/mnist-demo.mat, "
                         "row-major and normalized, else the shipped demo digits; other configs: random images)")
    ap.add_argument("--rowmajor", action="store_true", help="images in --data are stored row-major")
    ap.add_argument("--normalize", action="store_true", help="--data's pixels: Z/255 minus the mean")
    ap.add_argument("--matlab-dir", default=None, help="current-layout tree (default matlab_ref/current/MATLAB)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-octave", action="store_true")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--json", default=None)
    ap.add_argument("--extra-options", default="", metavar="'-GNsize 256 ...'",
                    help="appended to both sides' option string (e.g. another GNsize)")
    a = ap.parse_args(argv)
    if min(a.instances) < 1 or a.repeats < 1:
        ap.error("--instances and --repeats must be positive")
    try:
        rows = measure(a.instances, a.jacobian, a.precision, a.repeats, a.config, a.data, a.matlab_dir, a.seed,
                       not a.no_octave, a.timeout, log=lambda s: print(s, file=sys.stderr, flush=True),
                       extra=a.extra_options, rowmajor=a.rowmajor, normalize=a.normalize or None)
    except InputError as e:
        print(f"bench_newton: error: {e}", file=sys.stderr)
        return 2
    print_table(rows)
    if a.json:
        meta = {"machine": platform.node(), "cpus": os.cpu_count(), "numpy": np.__version__,
                "fast_paths": fast.enabled(), "repeats": a.repeats, "seed": a.seed,
                "when": time.strftime("%Y-%m-%d %H:%M:%S")}
        Path(a.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    return 0
