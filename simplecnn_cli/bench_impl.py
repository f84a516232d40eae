"""The measurements of ``simplecnn bench`` (see ``simplecnn_cli/bench.py``).

Imported only when the benchmark runs, so that the other commands do not pay
for compiling it.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from simplecnn_cli.bench import ITEMS

REPO = Path(__file__).resolve().parent.parent


def _median(values):
    v = sorted(values)
    k = len(v) // 2
    return v[k] if len(v) % 2 else (v[k - 1] + v[k]) / 2

DEFAULT_CONFIG = """\
% MNIST 28x28x1, the 1-32-64-64 shape (simplecnn bench's default)
L = 4;
LC = 3;
LF = 1;
ht_input = 28;
wd_input = 28;
ch_input = [1,32,64,64];
wd_pad_added = [2,1,1];
wd_filter = [5,3,3];
strides = [1,1,1];
wd_subimage_pool = [2,2,2];
full_neurons = [10];
"""



# --- small helpers ------------------------------------------------------------

def _median_time(fn, repeats, warmup=True):
    """Median wall time of fn() over ``repeats`` runs (after one warm-up run)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return _median(times), times


def _hwm(pid):
    """The peak resident set (VmHWM, bytes) of a running process, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _run_process_rss(cmd, timeout, env=None, cwd=None):
    """Run cmd: (wall seconds, peak resident set in bytes, exit code, stdout, stderr).

    The peak is the child's VmHWM, read every few milliseconds until it exits
    (``ru_maxrss`` from wait4 would include the RSS of the forked copy of
    this process, not just the child's own).
    """
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env, cwd=cwd, text=True)
        peak = None
        while True:
            if proc.poll() is not None:
                break
            h = _hwm(proc.pid)
            if h is not None:
                peak = h if peak is None else max(peak, h)
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                proc.wait()
                return time.perf_counter() - t0, peak, "timeout", "", ""
            time.sleep(0.003)
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        return wall, peak, proc.returncode, fo.read(), fe.read()


def _rel(a, b):
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a)
    return float(np.linalg.norm(a - b) / na) if na else float(np.linalg.norm(b))


def _grad_rel(ours_W, ours_b, W, b, L):
    """Largest normwise relative error over dlossdW{m}, dlossdb{m}."""
    worst = 0.0
    for m in range(1, L + 1):
        worst = max(worst, _rel(ours_W[m], W[m - 1]), _rel(ours_b[m], b[m - 1]))
    return worst


def _gb(nbytes):
    return "-" if nbytes is None else f"{nbytes / 2**30:.2f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MiB"


# --- the inputs -----------------------------------------------------------------

class Inputs:
    """Config, model (weights from --seed) and l instances, as the port holds them."""

    def __init__(self, args, workdir):
        from simplecnn_cli.bench_newton import WARMUP_INSTANCES, bench_data
        from simplecnn_py.read_config import read_config

        self.workdir = workdir
        if args.config:
            self.config = Path(args.config).resolve()
            self.config_name = self.config.name
        else:
            self.config = workdir / "bench-1-32-64-64.config"
            self.config.write_text(DEFAULT_CONFIG)
            self.config_name = "1-32-64-64 (MNIST 28x28x1)"
        self.param = read_config(str(self.config))
        # the one loader of the benchmarks (simplecnn_cli/bench_newton.py): --data as given, else the
        # shared MNIST file (row-major, Z/255 minus the mean) for a 28x28x1 10-class config, else random
        self.y_all, self.Z_all, self.data_desc = bench_data(
            self.config, args.data, max(args.instances), args.seed, rowmajor=args.rowmajor,
            smallest=min(min(args.instances), WARMUP_INSTANCES))
        self.seed = args.seed

    def problem(self, precision, n):
        """(param, model, prob) for the first n instances in a precision."""
        from simplecnn_py.check_data import check_data
        from simplecnn_py.conventions import struct
        from simplecnn_py.init_model import init_model
        from simplecnn_py.read_config import read_config

        param = read_config(str(self.config))
        param.precision = precision
        model = init_model(param, seed=self.seed)
        prob = check_data(struct(y=self.y_all[:n].copy(), Z=self.Z_all[:n]), param, where="bench data")
        return param, model, prob


# --- our side ---------------------------------------------------------------------

def _kept_bytes(net, model):
    """Bytes of the Z and phiZ of a lossgrad_subset call (phiZ as the reference
    path keeps it; the fast path builds it again only when it is read)."""
    n, itemsize = net.num_sampled_data, net.Z[1].itemsize
    total = sum(net.Z[m].nbytes for m in range(1, model.L + 2) if net.Z[m] is not None)
    for m in range(1, model.LC + 1):
        total += model.wd_filter[m] ** 2 * model.ch_input[m] * model.ht_conv[m] * model.wd_conv[m] * n * itemsize
    return total


def measure_ours(inp, precision, n, repeats, skip, record):
    import numpy as np

    from simplecnn_py import fast
    from simplecnn_py.fungrad_minibatch import fungrad_minibatch
    from simplecnn_py.init_net import init_net
    from simplecnn_py.lossgrad_subset import lossgrad_subset

    param, model, prob = inp.problem(precision, n)
    batch = np.arange(1, n + 1)
    result = {}

    def call():
        net = init_net(param, model)
        return lossgrad_subset(prob, param, model, net, batch, "fungrad")

    with fast.use_reference(False):
        med, times = _median_time(call, repeats)
        net, loss = call()
    result["net"], result["loss"] = net, loss
    record("ours", "lossgrad_subset (fast path)", med, times)

    if "memory" not in skip:
        with fast.use_reference(False):
            peak, kept = _peak_of(call, model)
        record("memory", "lossgrad_subset peak (fast path)", None, None, peak=peak, kept=kept)

    if "reference" not in skip:
        with fast.use_reference(True):
            med_ref, times_ref = _median_time(call, 1, warmup=False)
        record("reference", "lossgrad_subset (reference path)", med_ref, times_ref)

    if "minibatch" not in skip:
        bsize = min(n, 256)
        param.bsize = bsize

        def mb():
            net = init_net(param, model)
            return fungrad_minibatch(prob, param, model, net, "fungrad")

        with fast.use_reference(False):
            med_mb, times_mb = _median_time(mb, repeats)
            peak_mb = None
            if "memory" not in skip:
                peak_mb, _ = _peak_of(mb, None)
        record("minibatch", f"fungrad_minibatch (bsize {bsize})", med_mb, times_mb, peak=peak_mb)
    return param, model, prob, result


def _peak_of(fn, model):
    """(peak bytes allocated during fn() above the start, kept Z+phiZ bytes)."""
    import gc

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    kept = _kept_bytes(out[0], model) if model is not None else None
    return peak, kept


# --- simplecnn gradient as a process --------------------------------------------------

def measure_gradient_process(inp, precision, n, repeats, ours, model, record):
    import numpy as np
    import scipy.io

    from simplecnn_py.datafile import save_data, save_weights

    d = inp.workdir
    data = d / f"data-{n}.mat"
    if not data.exists():
        save_data(data, inp.y_all[:n], inp.Z_all[:n])
    weights = d / "weights.mat"
    if not weights.exists():
        save_weights(weights, [np.asarray(model.weight[m], np.float64) for m in range(1, model.L + 1)],
                     [np.asarray(model.bias[m], np.float64) for m in range(1, model.L + 1)])
    out = d / f"grad-{precision}-{n}.mat"
    cmd = [sys.executable, "-m", "simplecnn_cli", "gradient", "--config", str(inp.config), "--data", str(data),
           "--weights", str(weights), "--precision", precision, "--out", str(out)]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    runs = []
    for k in range(repeats + 1):                 # the first run warms the file cache
        wall, rss, rc, so, se = _run_process_rss(cmd, 600, env=env)
        if rc != 0:
            record("gradient", "simplecnn gradient (whole process)", None, None,
                   error=f"exit {rc}: {(se or so).strip().splitlines()[-1:] }")
            return
        if k:
            runs.append((wall, rss))
    v = scipy.io.loadmat(str(out))
    err = _grad_rel(ours["net"].dlossdW, ours["net"].dlossdb,
                    [w for w in v["dlossdW"].ravel()], [b for b in v["dlossdb"].ravel()], model.L)
    err = max(err, _rel(ours["loss"], float(v["loss"].ravel()[0])))
    walls = [w for w, _ in runs]
    record("gradient", "simplecnn gradient (whole process)", _median(walls), walls,
           peak=max(r for _, r in runs), rel_err_vs_ours=err)


# --- Octave ---------------------------------------------------------------------------

OCTAVE_DRIVER = """\
function bench_driver(tree, layout, input_file, output_file, repeats)
% Time the tree's lossgrad_subset on the inputs of input_file (simplecnn bench).
if strcmp(layout, 'seed')
  addpath(fullfile(tree, 'cnn'));
  addpath(fullfile(tree, 'opt'));
else
  addpath(fullfile(tree, 'MATLAB', 'cnn'));
  addpath(fullfile(tree, 'MATLAB', 'opt'));
end
S = load(input_file);
param = S.param;
model = S.model;
prob = S.prob;
model.weight = S.weight;
model.bias = S.bias;
batch_idx = 1:prob.l;
if strcmp(layout, 'seed')
  net = init_net(param, model);
  [net, loss] = lossgrad_subset(prob, param, model, net, batch_idx, 'fungrad');
else
  global gpu_use float_type
  gpu_use = 0;
  float_type = S.precision;
  net = init_net(model, param);
  [net, loss] = lossgrad_subset(prob, model, net, batch_idx, 'fungrad');
end
times = zeros(1, repeats);
for r = 1 : repeats
  if strcmp(layout, 'seed')
    net = init_net(param, model);
    tic;
    [net, loss] = lossgrad_subset(prob, param, model, net, batch_idx, 'fungrad');
    times(r) = toc;
  else
    net = init_net(model, param);
    tic;
    [net, loss] = lossgrad_subset(prob, model, net, batch_idx, 'fungrad');
    times(r) = toc;
  end
end
dlossdW = net.dlossdW;
dlossdb = net.dlossdb;
loss = double(loss);
save('-v7', output_file, 'times', 'loss', 'dlossdW', 'dlossdb');
end
"""


def _layout(tree):
    """'seed' or 'current' from the tree's lossgrad_subset function line."""
    for rel, layout in (("cnn/lossgrad_subset.m", "seed"), ("MATLAB/cnn/lossgrad_subset.m", "current")):
        f = Path(tree) / rel
        if f.exists():
            return layout
    return None


def _octave_inputs(inp, param, model, prob, precision, layout, path):
    """Write the structs the driver loads (sizes from our model, same weights and data)."""
    import numpy as np
    import scipy.io

    dt = np.float64 if precision == "double" else np.float32
    LC, L = model.LC, model.L

    def row(c, n):
        return np.array([[float(c[k]) for k in range(1, n + 1)]])

    cfg = {
        "L": float(L), "LC": float(LC), "LF": float(model.LF), "nL": float(model.nL),
        "ch_input": row(model.ch_input, LC + 1), "wd_pad_added": row(model.wd_pad_added, LC),
        "wd_filter": row(model.wd_filter, LC), "strides": row(model.strides, LC),
        "wd_subimage_pool": row(model.wd_subimage_pool, LC), "full_neurons": row(model.full_neurons, model.LF),
    }
    p = dict(cfg, ht_input=float(model.ht_input[1]), wd_input=float(model.wd_input[1]), bsize=float(prob.l))
    mdl = dict(cfg, ht_input=row(model.ht_input, LC + 1), wd_input=row(model.wd_input, LC + 1),
               ht_pad=row(model.ht_pad, LC), wd_pad=row(model.wd_pad, LC),
               ht_conv=row(model.ht_conv, LC), wd_conv=row(model.wd_conv, LC),
               var_ptr=np.asarray(model.var_ptr, np.float64).reshape(-1, 1),
               gpu_use=0.0, float_type=precision)
    W = np.empty((L, 1), dtype=object)
    b = np.empty((L, 1), dtype=object)
    for m in range(1, L + 1):
        W[m - 1, 0] = np.asarray(model.weight[m], dt)
        b[m - 1, 0] = np.asarray(model.bias[m], dt).reshape(-1, 1)
    pr = {"data": np.asarray(prob.data, dt), "label_mat": np.asarray(prob.label_mat, dt), "l": float(prob.l),
          "y": np.asarray(prob.y, np.float64).reshape(-1, 1),
          "y_mapped": np.asarray(prob.y_mapped, np.float64).reshape(-1, 1),
          "label_enum": np.asarray(prob.label_enum, np.float64).reshape(-1, 1)}
    scipy.io.savemat(str(path), {"param": p, "model": mdl, "prob": pr, "weight": W, "bias": b,
                                 "precision": precision}, format="5")


def measure_octave(inp, param, model, prob, precision, repeats, tree, ours, timeout, record):
    import numpy as np
    import scipy.io

    octave = shutil.which("octave-cli") or shutil.which("octave")
    label = f"Octave {Path(tree).name} lossgrad_subset"
    if octave is None:
        record("octave", label, None, None, error="octave-cli not found (apt-get install octave)")
        return
    layout = _layout(tree)
    if layout is None:
        record("octave", label, None, None, error=f"{tree}: no cnn/lossgrad_subset.m or MATLAB/cnn/lossgrad_subset.m")
        return
    d = inp.workdir
    (d / "bench_driver.m").write_text(OCTAVE_DRIVER)
    n = prob.l
    fin, fout = d / f"oct-in-{precision}-{n}.mat", d / f"oct-out-{precision}-{n}.mat"
    _octave_inputs(inp, param, model, prob, precision, layout, fin)
    call = f"bench_driver('{Path(tree).resolve()}', '{layout}', '{fin}', '{fout}', {repeats})"
    cmd = [octave, "--no-gui", "--norc", "--quiet", "--no-window-system", "--eval",
           f"addpath('{d}'); {call}"]
    wall, rss, rc, so, se = _run_process_rss(cmd, timeout)
    if rc != 0 or not fout.exists():
        tail = (se or so or "").strip().splitlines()[-3:]
        record("octave", label, None, None, error=f"exit {rc}: {' | '.join(tail)}")
        return
    v = scipy.io.loadmat(str(fout))
    times = [float(t) for t in np.ravel(v["times"])]
    err = None
    try:
        err = _grad_rel(ours["net"].dlossdW, ours["net"].dlossdb,
                        list(v["dlossdW"].ravel()), list(v["dlossdb"].ravel()), model.L)
        err = max(err, _rel(ours["loss"], float(np.ravel(v["loss"])[0])))
    except Exception as e:          # a tree whose outputs we cannot read back
        err = f"not compared: {e}"
    # one Octave process doing one call: start-up, loading, the first (warm-up) call
    record("octave", f"{label} ({layout} layout)", _median(times), times, peak=rss,
           rel_err_vs_ours=err, process_wall=wall, process_one_call=wall - sum(times))


# --- PyTorch ----------------------------------------------------------------------------

TORCH_SCRIPT = r"""
import json, sys, time, statistics
import numpy as np
import torch
import torch.nn.functional as F
spec = json.load(open(sys.argv[1]))
torch.set_num_threads(spec["threads"])
z = np.load(spec["npz"])
dt = torch.float64 if spec["precision"] == "double" else torch.float32
X = torch.from_numpy(z["X"]).to(dt)
Y = torch.from_numpy(z["Y"]).to(dt)
LC, L = spec["LC"], spec["L"]
W = [torch.from_numpy(z[f"W{m}"]).to(dt).requires_grad_() for m in range(1, L + 1)]
B = [torch.from_numpy(z[f"b{m}"]).to(dt).requires_grad_() for m in range(1, L + 1)]
def step():
    for t in W + B:
        t.grad = None
    out = X
    for m in range(LC):
        out = F.relu(F.conv2d(out, W[m], B[m], stride=spec["strides"][m], padding=spec["pad"][m]))
        if spec["pool"][m] > 1:
            out = F.max_pool2d(out, spec["pool"][m])
    out = out.permute(0, 3, 2, 1).reshape(out.shape[0], -1)      # simpleNN's (c, y, x) order
    for m in range(LC, L):
        out = F.linear(out, W[m], B[m])
        if m < L - 1:
            out = F.relu(out)
    loss = ((out - Y) ** 2).sum()
    loss.backward()
    return loss
step()
times = []
for r in range(spec["repeats"]):
    t0 = time.perf_counter(); loss = step(); times.append(time.perf_counter() - t0)
np.savez(spec["out"], loss=loss.detach().double().numpy(),
         **{f"gW{m+1}": W[m].grad.double().numpy() for m in range(L)},
         **{f"gb{m+1}": B[m].grad.double().numpy() for m in range(L)})
print(json.dumps({"times": times, "version": torch.__version__}))
"""


def measure_torch(inp, model, prob, precision, repeats, ours, record):
    import numpy as np

    try:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            record("torch", "PyTorch CPU", None, None, error="torch not installed (pip install torch; optional)")
            return
    except Exception:
        return
    d = inp.workdir
    n, LC, L = prob.l, model.LC, model.L
    a, b, c = model.ht_input[1], model.wd_input[1], model.ch_input[1]
    X = np.reshape(prob.data, (c, a, b, n), order="F").transpose(3, 0, 1, 2)   # N, C, H, W
    arrays = {"X": np.ascontiguousarray(X, np.float64), "Y": np.ascontiguousarray(prob.label_mat.T, np.float64)}
    for m in range(1, L + 1):
        Wm = np.asarray(model.weight[m], np.float64)
        if m <= LC:
            h, dm = model.wd_filter[m], model.ch_input[m]
            Wm = np.reshape(Wm, (Wm.shape[0], h, h, dm), order="F").transpose(0, 3, 1, 2)   # o, c, i, j
        arrays[f"W{m}"] = np.ascontiguousarray(Wm)
        arrays[f"b{m}"] = np.asarray(model.bias[m], np.float64).reshape(-1)
    npz, out = d / f"torch-in-{n}.npz", d / f"torch-out-{precision}-{n}.npz"
    np.savez(npz, **arrays)
    spec = {"npz": str(npz), "out": str(out), "precision": precision, "repeats": repeats, "threads": 2,
            "LC": LC, "L": L, "strides": [model.strides[m] for m in range(1, LC + 1)],
            "pad": [model.wd_pad_added[m] for m in range(1, LC + 1)],
            "pool": [model.wd_subimage_pool[m] for m in range(1, LC + 1)]}
    (d / "torch_spec.json").write_text(json.dumps(spec))
    (d / "torch_bench.py").write_text(TORCH_SCRIPT)
    wall, rss, rc, so, se = _run_process_rss([sys.executable, str(d / "torch_bench.py"), str(d / "torch_spec.json")],
                                             900)
    if rc != 0:
        record("torch", "PyTorch CPU", None, None, error=f"exit {rc}: {' | '.join(se.strip().splitlines()[-2:])}")
        return
    res = json.loads(so.strip().splitlines()[-1])
    z = np.load(out)
    gW, gb = [], []
    for m in range(1, L + 1):
        G = z[f"gW{m}"]
        if m <= LC:
            G = np.reshape(G.transpose(0, 2, 3, 1), (G.shape[0], -1), order="F")   # back to (o, i + h*j + h*h*c)
        gW.append(G)
        gb.append(z[f"gb{m}"].reshape(-1, 1))
    err = max(_grad_rel(ours["net"].dlossdW, ours["net"].dlossdb, gW, gb, L), _rel(ours["loss"], float(z["loss"])))
    record("torch", f"PyTorch {res['version']} CPU (2 threads)", _median(res["times"]), res["times"],
           peak=rss, rel_err_vs_ours=err)


# --- the GEMM bound ---------------------------------------------------------------------------

def gemm_products(model, n):
    """The port's matrix products for n instances: (what, m, k, n) of C(m x n) = A(m x k) B(k x n)."""
    out = []
    for m in range(1, model.LC + 1):
        rows = model.wd_filter[m] ** 2 * model.ch_input[m]
        cols = model.ht_conv[m] * model.wd_conv[m] * n
        d = model.ch_input[m + 1]
        out.append((f"conv{m} W*phiZ", d, rows, cols))
        out.append((f"conv{m} dXidS*phiZ'", d, cols, rows))
        if m > 1:
            out.append((f"conv{m} W'*dXidS", rows, d, cols))
    for m in range(model.LC + 1, model.L + 1):
        W = model.weight[m]
        out.append((f"full{m} W*Z", W.shape[0], W.shape[1], n))
        out.append((f"full{m} dXidS*Z'", W.shape[0], n, W.shape[1]))
        out.append((f"full{m} W'*dXidS", W.shape[1], W.shape[0], n))
    return out


def measure_gemm(model, n, precision, repeats, record, square_rate):
    """Time each product at its shape with operands laid out as the port has them."""
    import numpy as np

    from simplecnn_py.conventions import mtimes

    dt = np.float64 if precision == "double" else np.float32
    g = np.random.default_rng(0)
    total_time, total_flops = 0.0, 0.0
    detail = []
    for what, M, K, N in gemm_products(model, n):
        if "phiZ'" in what or "Z'" in what:       # D (M x N') times P' with P (K x N'): the long dimension is K
            A = np.asfortranarray(g.standard_normal((M, K)).astype(dt))
            P = np.asfortranarray(g.standard_normal((N, K)).astype(dt))
            fn = lambda A=A, P=P: mtimes(A, P.T)
        elif "W'" in what:
            W = np.asfortranarray(g.standard_normal((K, M)).astype(dt))
            D = np.asfortranarray(g.standard_normal((K, N)).astype(dt))
            fn = lambda W=W, D=D: mtimes(W.T, D)
        else:
            A = np.asfortranarray(g.standard_normal((M, K)).astype(dt))
            B = np.asfortranarray(g.standard_normal((K, N)).astype(dt))
            fn = lambda A=A, B=B: mtimes(A, B)
        t = min(_median_time(fn, repeats)[1])       # a bound: the machine's best
        flops = 2.0 * M * K * N
        total_time += t
        total_flops += flops
        detail.append({"product": what, "shape": [M, K, N], "seconds": t, "gflops": flops / t / 1e9})
    record("gemm", "GEMM bound (port's products at their shapes)", total_time, None,
           flops=total_flops, detail=detail)
    record("gemm_square", f"GEMM bound (flops / square-product rate {square_rate / 1e9:.0f} GFLOP/s)",
           total_flops / square_rate, None, flops=total_flops)


def square_rate(precision, repeats):
    import numpy as np

    dt = np.float64 if precision == "double" else np.float32
    n = 2048
    g = np.random.default_rng(1)
    A = g.standard_normal((n, n)).astype(dt)
    B = g.standard_normal((n, n)).astype(dt)
    # the fastest run, not the median: a bound is what the machine can reach,
    # and a noisy neighbour only ever slows a run down
    t = min(_median_time(lambda: A @ B, repeats)[1])
    return 2.0 * n ** 3 / t


# --- Newton and Gauss-Newton products ----------------------------------------------------------

def measure_newton(inp, param, model, prob, precision, repeats, record, newton_tree, timeout):
    """A Gauss-Newton product on a subset, and one Newton iteration here and
    under Octave (current layout), on the same weights and data."""
    import importlib.util

    import numpy as np

    if importlib.util.find_spec("simplecnn_py.JTBJv") is None:
        record("gn", "Gauss-Newton product", None, None, error="simplecnn_py.JTBJv not present")
        return
    from simplecnn_cli.bench_newton import newton_row, options_for
    from simplecnn_py.cells_to_vec import cells_to_vec
    from simplecnn_py.feedforward import feedforward
    from simplecnn_py.init_net import init_net
    from simplecnn_py.Jacobian import Jacobian
    from simplecnn_py.JTBJv import JTBJv
    from simplecnn_py.R_JTBJv import R_JTBJv

    nGN = min(prob.l, 64)
    net = init_net(param, model)
    net = feedforward(prob.data[:, :nGN], param, model, net)
    v = cells_to_vec(model.weight, model.bias)
    v = np.random.default_rng(2).standard_normal(v.shape).astype(v.dtype)
    med, times = _median_time(lambda: R_JTBJv(model, net, v), repeats)
    record("gn", f"R_JTBJv, Gauss-Newton product by R-operator ({nGN} instances)", med, times)
    med, times = _median_time(lambda: Jacobian(model, net), max(1, repeats // 2))
    record("gn", f"Jacobian ({nGN} instances)", med, times)
    net = Jacobian(model, net)
    med, times = _median_time(lambda: JTBJv(model, net, v), repeats)
    record("gn", f"JTBJv, Gauss-Newton product with stored Jacobian ({nGN} instances)", med, times)

    # one Newton iteration on all n instances (simplecnn_cli/bench_newton.py, as
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


# --- the table -----------------------------------------------------------------------------------

def _summary(rows):
    """Ratios from one (precision, instances) block of measurements."""
    t = {r["item"]: r for r in rows}
    ours = t.get("ours", {}).get("seconds")
    s = {}

    def ratio(key, field="seconds", base=None):
        other = t.get(key, {}).get(field)
        base_t = base if base is not None else ours
        return other / base_t if other and base_t else None

    s["octave_call_vs_ours_call"] = ratio("octave")
    proc = t.get("gradient", {}).get("seconds")
    s["octave_call_vs_gradient_process"] = ratio("octave", base=proc) if proc else None
    s["octave_process_vs_gradient_process"] = ratio("octave", "process_one_call", base=proc) if proc else None
    s["torch_vs_ours"] = ratio("torch")
    s["reference_vs_fast"] = ratio("reference")
    g = t.get("gemm", {}).get("seconds")
    gs = t.get("gemm_square", {}).get("seconds")
    s["fraction_of_gemm_bound"] = g / ours if g and ours else None
    s["fraction_of_gemm_bound_square_rate"] = gs / ours if gs and ours else None
    nt, no = t.get("newton", {}).get("seconds"), t.get("newton_octave", {}).get("seconds")
    s["newton_octave_vs_ours"] = no / nt if nt and no else None
    mem = t.get("memory", {})
    s["peak_over_kept"] = mem["peak"] / mem["kept"] if mem.get("peak") and mem.get("kept") else None
    return s


def print_table(meta, blocks, out=None):
    w = (out or sys.stdout).write
    w(f"simplecnn bench: config {meta['config']}; data {meta['data']}\n")
    w(f"  {meta['machine']}; numpy {meta['numpy']} ({meta['blas']}); repeats {meta['repeats']} "
      f"(median after a warm-up)\n")
    for blk in blocks:
        w(f"\n{blk['precision']}, {blk['instances']} instances\n")
        w(f"  {'measurement':<58} {'time (s)':>9} {'vs ours':>9} {'peak memory':>22}  notes\n")
        ours = next((r["seconds"] for r in blk["rows"] if r["item"] == "ours"), None)
        for r in blk["rows"]:
            if r.get("error"):
                w(f"  {r['what']:<58} {'-':>9} {'':>9} {'':>22}  skipped: {r['error']}\n")
                continue
            sec = r.get("seconds")
            ts = f"{sec:9.3f}" if sec is not None else f"{'':>9}"
            vs = f"{sec / ours:8.2f}x" if sec is not None and ours and r["item"] != "ours" else f"{'':>9}"
            mem = ""
            if r.get("peak") is not None:
                mem = _gb(r["peak"])
                if r.get("kept"):
                    mem += f" ({r['peak'] / r['kept']:.2f}x Z+phiZ)"
                elif r["item"] in ("gradient", "octave", "torch"):
                    mem += " peak RSS"
            notes = []
            if r.get("times") and len(r["times"]) > 1:
                notes.append(f"min {min(r['times']):.3f} max {max(r['times']):.3f}")
            if r.get("kept"):
                notes.append(f"Z+phiZ kept: {_gb(r['kept'])}")
            if r.get("process_one_call") is not None:
                notes.append(f"Octave process with one call {r['process_one_call']:.2f} s")
            if r.get("cg") is not None:
                notes.append(f"#CG {r['cg']}, f {r['f']:.10g}")
            e = r.get("rel_err_vs_ours")
            if isinstance(e, float):
                notes.append(f"rel. err vs ours {e:.1e}")
            elif e:
                notes.append(str(e))
            w(f"  {r['what']:<58} {ts} {vs} {mem:>22}  {'; '.join(notes)}\n")
        s = blk["summary"]
        parts = []
        if s.get("octave_call_vs_gradient_process"):
            parts.append(f"the whole simplecnn gradient process is {s['octave_call_vs_gradient_process']:.1f}x "
                         f"faster than one warm Octave lossgrad_subset call "
                         f"({s['octave_process_vs_gradient_process']:.1f}x process vs process)")
        if s.get("octave_call_vs_ours_call"):
            parts.append(f"lossgrad_subset call vs call: {s['octave_call_vs_ours_call']:.1f}x faster than Octave")
        if s.get("torch_vs_ours"):
            parts.append(f"{s['torch_vs_ours']:.2f}x faster than PyTorch")
        if s.get("fraction_of_gemm_bound"):
            parts.append(f"{100 * s['fraction_of_gemm_bound']:.0f}% of the GEMM bound at the products' shapes "
                         f"({100 * s['fraction_of_gemm_bound_square_rate']:.0f}% at the square-product rate)")
        if s.get("peak_over_kept"):
            parts.append(f"peak memory {s['peak_over_kept']:.2f}x the Z+phiZ kept")
        if s.get("newton_octave_vs_ours"):
            parts.append(f"one Newton iteration {s['newton_octave_vs_ours']:.1f}x faster than Octave's")
        if s.get("reference_vs_fast"):
            parts.append(f"fast path {s['reference_vs_fast']:.1f}x faster than the reference path")
        for p_ in parts:
            w(f"  => {p_}\n")


# --- main -----------------------------------------------------------------------------------------

def run(args) -> int:
    import numpy as np

    from simplecnn_py.errors import InputError

    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(ITEMS)
    if unknown:
        raise InputError("--skip", f"unknown measurement(s) {', '.join(sorted(unknown))}; choose among {', '.join(ITEMS)}")
    if any(n < 1 for n in args.instances):
        raise InputError("--instances", "instance counts must be positive")
    if args.repeats < 1:
        raise InputError("--repeats", "must be at least 1")
    tree = Path(args.matlab_dir) if args.matlab_dir else REPO / "matlab_ref" / "seed"
    if args.matlab_dir and not tree.is_dir():
        raise InputError("--matlab-dir", f"{tree} is not a folder")

    with tempfile.TemporaryDirectory(prefix="simplecnn-bench-") as tmp:
        workdir = Path(tmp)
        inp = Inputs(args, workdir)
        meta = {
            "config": inp.config_name, "data": inp.data_desc, "repeats": args.repeats,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "numpy": np.__version__, "blas": _blas_name(), "matlab_tree": str(tree),
        }
        blocks = []
        rates = {}
        for precision in args.precision:
            for n in args.instances:
                rows = []

                def record(item, what, seconds, times, **extra):
                    row = {"item": item, "what": what, "seconds": seconds, "times": times}
                    row.update({k: v for k, v in extra.items() if v is not None})
                    rows.append(row)
                    _progress(precision, n, row)

                param, model, prob, ours = measure_ours(inp, precision, n, args.repeats, skip, record)
                if "gemm" not in skip:
                    # the square-product rate is measured beside the products (the machine is noisy)
                    rates[precision, n] = square_rate(precision, args.repeats)
                    measure_gemm(model, n, precision, args.repeats, record, rates[precision, n])
                if "gradient" not in skip:
                    measure_gradient_process(inp, precision, n, args.repeats, ours, model, record)
                if "torch" not in skip:
                    measure_torch(inp, model, prob, precision, args.repeats, ours, record)
                if "octave" not in skip:
                    measure_octave(inp, param, model, prob, precision, args.repeats, tree, ours,
                                   args.octave_timeout, record)
                if "newton" not in skip and n == min(args.instances):
                    measure_newton(inp, param, model, prob, precision, max(1, args.repeats // 3), record,
                                   REPO / "matlab_ref" / "current", args.octave_timeout)
                blocks.append({"precision": precision, "instances": n, "rows": rows, "summary": _summary(rows)})
                del ours
        print_table(meta, blocks)
        if args.json:
            doc = {"meta": meta, "square_gemm_rate_flops": {f"{p} {n}": r for (p, n), r in rates.items()},
                   "blocks": blocks}
            try:
                Path(args.json).write_text(json.dumps(doc, indent=1, default=float))
            except OSError as e:
                raise InputError(args.json, f"cannot write: {e.strerror or e}") from None
    return 0


def _progress(precision, n, row):
    sec = row.get("seconds")
    msg = row.get("error") or (f"{sec:.3f} s" if sec is not None else _gb(row.get("peak")))
    print(f"bench: {precision} {n}: {row['what']}: {msg}", file=sys.stderr, flush=True)


def _blas_name():
    try:
        import numpy as np

        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        name = f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        name = "BLAS unknown"
    core = _openblas_core()
    if core:
        name += f", {core} kernels"
    forced = os.environ.get("OPENBLAS_CORETYPE")
    if forced is not None:      # inherited by the Octave runs too
        name += f", OPENBLAS_CORETYPE={forced}"
    return name


def _openblas_core():
    """The kernels numpy's OpenBLAS chose (e.g. Haswell, SkylakeX), or None.
    OpenBLAS picks them by CPU when it loads, unless ``OPENBLAS_CORETYPE``
    names them; the matrix-product rate depends on it (docs/performance.md)."""
    from simplecnn_py.fast import workspace

    return workspace.openblas_corename()
