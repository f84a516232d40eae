"""Our side of ``simplecnn bench``: ``lossgrad_subset`` on the fast and the
reference path, ``fungrad_minibatch``, peak memory, and the whole
``simplecnn gradient`` process."""
from __future__ import annotations

import os
import sys
import tracemalloc

from simplecnn_bench.common import REPO, grad_rel, median, median_time, rel, run_process_rss


def kept_bytes(net, model):
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
    from simplecnn_py.cnn.fungrad_minibatch import fungrad_minibatch
    from simplecnn_py.cnn.init_net import init_net
    from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset

    param, model, prob = inp.problem(precision, n)
    batch = np.arange(1, n + 1)
    result = {}

    def call():
        net = init_net(param, model)
        return lossgrad_subset(prob, param, model, net, batch, "fungrad")

    with fast.use_reference(False):
        med, times = median_time(call, repeats)
        net, loss = call()
    result["net"], result["loss"] = net, loss

    def call_fast():
        with fast.use_reference(False):
            return call()

    result["call"] = call_fast             # for the GEMM bound, timed alternately with it
    record("ours", "lossgrad_subset (fast path)", med, times)

    if "memory" not in skip:
        with fast.use_reference(False):
            peak, kept = peak_of(call, model)
        record("memory", "lossgrad_subset peak (fast path)", None, None, peak=peak, kept=kept)

    if "reference" not in skip:
        with fast.use_reference(True):
            med_ref, times_ref = median_time(call, 1, warmup=False)
        record("reference", "lossgrad_subset (reference path)", med_ref, times_ref)

    if "minibatch" not in skip:
        bsize = min(n, 256)
        param.bsize = bsize

        def mb():
            net = init_net(param, model)
            return fungrad_minibatch(prob, param, model, net, "fungrad")

        with fast.use_reference(False):
            med_mb, times_mb = median_time(mb, repeats)
            peak_mb = None
            if "memory" not in skip:
                peak_mb, _ = peak_of(mb, None)
        record("minibatch", f"fungrad_minibatch (bsize {bsize})", med_mb, times_mb, peak=peak_mb)
    return param, model, prob, result


def peak_of(fn, model):
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
    kept = kept_bytes(out[0], model) if model is not None else None
    return peak, kept


def measure_gradient_process(inp, precision, n, repeats, ours, model, record):
    import scipy.io

    d = inp.workdir
    data, weights = inp.files(model, n)
    out = d / f"grad-{precision}-{n}.mat"
    cmd = [sys.executable, "-m", "simplecnn_cli", "gradient", "--config", str(inp.config), "--data", str(data),
           "--weights", str(weights), "--precision", precision, "--out", str(out)]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    runs = []
    for k in range(repeats + 1):                 # the first run warms the file cache
        wall, rss, rc, so, se = run_process_rss(cmd, 600, env=env)
        if rc != 0:
            record("gradient", "simplecnn gradient (whole process)", None, None,
                   error=f"exit {rc}: {(se or so).strip().splitlines()[-1:] }")
            return
        if k:
            runs.append((wall, rss))
    v = scipy.io.loadmat(str(out))
    err = grad_rel(ours["net"].dlossdW, ours["net"].dlossdb,
                    [w for w in v["dlossdW"].ravel()], [b for b in v["dlossdb"].ravel()], model.L)
    err = max(err, rel(ours["loss"], float(v["loss"].ravel()[0])))
    walls = [w for w, _ in runs]
    record("gradient", "simplecnn gradient (whole process)", median(walls), walls,
           peak=max(r for _, r in runs), rel_err_vs_ours=err)
