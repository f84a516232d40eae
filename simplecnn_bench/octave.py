"""The MATLAB side of ``simplecnn bench``: any simpleNN tree's ``lossgrad_subset`` under Octave.

The tree is run unmodified.  Versions of simpleNN call their routines with
different argument lists (the seed's ``init_net(param, model)`` and
``lossgrad_subset(prob, param, model, net, batch_idx, task)``, the current
``init_net(model, param)`` and ``lossgrad_subset(prob, model, net, batch_idx,
task)``), so the driver's two calls are written from the ``function`` lines
of the tree's own ``init_net.m`` and ``lossgrad_subset.m``
(``call_from_function_line``): each argument is passed by its name.  This
adapter is the only place that knows about signatures (the harness's
per-signature adapters can replace it).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from simplecnn_bench.common import grad_rel, median, rel, run_process_rss
from simplecnn_harness.octave.quoting import quote

# what the driver has in hand, by the argument names simpleNN's versions use
DRIVER_VARIABLES = {"prob": "prob", "param": "param", "model": "model", "net": "net",
                    "batch_idx": "batch_idx", "task": "'fungrad'", "net_config": "param"}

OCTAVE_DRIVER = """\
function bench_driver(cnn_dir, input_file, output_file, repeats)
% Time the tree's lossgrad_subset on the inputs of input_file (simplecnn bench).
addpath(cnn_dir);
opt_dir = fullfile(fileparts(cnn_dir), 'opt');
if exist(opt_dir, 'dir')
  addpath(opt_dir);
end
global gpu_use float_type
S = load(input_file);
gpu_use = 0;
float_type = S.precision;
param = S.param;
model = S.model;
prob = S.prob;
model.weight = S.weight;
model.bias = S.bias;
batch_idx = 1:prob.l;
net = INIT_NET_CALL;
[net, loss] = LOSSGRAD_CALL;
times = zeros(1, repeats);
for r = 1 : repeats
  net = INIT_NET_CALL;
  tic;
  [net, loss] = LOSSGRAD_CALL;
  times(r) = toc;
end
dlossdW = net.dlossdW;
dlossdb = net.dlossdb;
loss = double(loss);
save('-v7', output_file, 'times', 'loss', 'dlossdW', 'dlossdb');
end
"""


def cnn_folder(tree):
    """The folder holding the tree's ``lossgrad_subset.m``: ``tree``,
    ``tree/cnn`` or ``tree/MATLAB/cnn`` (seed and current layouts), or None."""
    for sub in (".", "cnn", "MATLAB/cnn"):
        folder = Path(tree) / sub
        if (folder / "lossgrad_subset.m").exists() and (folder / "init_net.m").exists():
            return folder.resolve()
    return None


def call_from_function_line(mfile):
    """``name(arg, ...)``: the call of the function ``mfile`` defines, each
    argument the driver's variable of the same name (``DRIVER_VARIABLES``).
    ValueError naming the argument when the driver has nothing for it."""
    for line in Path(mfile).read_text(errors="replace").splitlines():
        m = re.match(r"\s*function\s+(?:[^=]*=\s*)?(\w+)\s*\(([^)]*)\)", line)
        if m:
            args = [a.strip() for a in m.group(2).split(",") if a.strip()]
            unknown = [a for a in args if a not in DRIVER_VARIABLES]
            if unknown:
                raise ValueError(f"{mfile}: argument {', '.join(unknown)} of {m.group(1)} is not one the "
                                 f"benchmark knows ({', '.join(sorted(DRIVER_VARIABLES))})")
            return f"{m.group(1)}({', '.join(DRIVER_VARIABLES[a] for a in args)})"
    raise ValueError(f"{mfile}: no function line")


def driver_for(folder):
    """The driver's text for the tree whose routines are in ``folder``."""
    return (OCTAVE_DRIVER.replace("INIT_NET_CALL", call_from_function_line(folder / "init_net.m"))
            .replace("LOSSGRAD_CALL", call_from_function_line(folder / "lossgrad_subset.m")))


def octave_inputs(param, model, prob, precision, path):
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
    folder = cnn_folder(tree)
    try:
        driver = driver_for(folder) if folder is not None else None
    except ValueError:
        driver = None
    if driver is None:
        measure_with_harness(param, model, prob, precision, repeats, tree, timeout, record, label)
        return
    d = inp.workdir
    (d / "bench_driver.m").write_text(driver)
    n = prob.l
    fin, fout = d / f"oct-in-{precision}-{n}.mat", d / f"oct-out-{precision}-{n}.mat"
    octave_inputs(param, model, prob, precision, fin)
    call = f"bench_driver('{quote(folder)}', '{quote(fin)}', '{quote(fout)}', {repeats})"
    cmd = [octave, "--no-gui", "--norc", "--quiet", "--no-window-system", "--eval",
           f"addpath('{quote(d)}'); {call}"]
    wall, rss, rc, so, se = run_process_rss(cmd, timeout)
    if rc != 0 or not fout.exists():
        tail = (se or so or "").strip().splitlines()[-3:]
        record("octave", label, None, None, error=f"exit {rc}: {' | '.join(tail)}")
        return
    v = scipy.io.loadmat(str(fout))
    times = [float(t) for t in np.ravel(v["times"])]
    err = None
    try:
        err = grad_rel(ours["net"].dlossdW, ours["net"].dlossdb,
                        list(v["dlossdW"].ravel()), list(v["dlossdb"].ravel()), model.L)
        err = max(err, rel(ours["loss"], float(np.ravel(v["loss"])[0])))
    except Exception as e:          # a tree whose outputs we cannot read back
        err = f"not compared: {e}"
    # one Octave process doing one call: start-up, loading, the first (warm-up) call
    record("octave", label, median(times), times, peak=rss, calls=driver_calls(driver),
           rel_err_vs_ours=err, process_wall=wall, process_one_call=wall - sum(times))


def measure_with_harness(param, model, prob, precision, repeats, tree, timeout, record, label):
    """A tree the driver above cannot call (another argument list, ``init_net``
    or ``lossgrad_subset`` as a subfunction, a folder elsewhere): timed through
    the harness's per-signature adapters, which drive every tree ``simplecnn
    compare`` drives (``simplecnn_harness.octave.run.time_tree``: one Octave
    session, the code copied uninstrumented).  Timing only: the gradient is
    compared by ``simplecnn compare``, and there is no separate process to
    measure."""
    from simplecnn_harness.octave.run import time_tree

    try:
        times = time_tree(tree, param, model, prob, precision, repeats, timeout=timeout)
    except Exception as e:          # InputError, OctaveError, EnvironmentProblem: one line in the row
        msg = f"{e.where}: {e.what}" if hasattr(e, "what") else str(e)
        record("octave", label, None, None, error=" ".join(msg.split()))
        return
    record("octave", label + " (harness adapter)", median(times), times,
           rel_err_vs_ours="not compared here (use simplecnn compare)")


def driver_calls(driver):
    """The two calls the driver makes (reported with the row)."""
    return [line.strip().rstrip(";") for line in driver.splitlines() if "init_net(" in line or "lossgrad_subset(" in line][:2]


