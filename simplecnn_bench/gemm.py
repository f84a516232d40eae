"""The GEMM bound: the matrix products of ``lossgrad_subset`` alone.

What ``simplecnn bench`` compares the fused pass with is the time of its own
products, done the way the pass does them (``products_pass``): the same
chunks of instances and groups (``fast.workspace.split``,
``fast.fused.FUSED_GROUPS``), the same threads with single-threaded
BLAS (``fast.workspace.run_parts``), the same operand shapes and layouts
(a chunk's phiZ with rows in (c, i, j) order, stored transposed for one
channel; ``W'*dXidS`` one filter offset at a time), on random operands kept
per thread.  Per chunk and conv layer: ``S = W*phiZ``, ``dW += dXidS*phiZ'``,
``dXidS*ones`` (dlossdb), and for m > 1 the h*h blocks of ``W'*dXidS``; per
fully-connected layer ``W*Z``, ``dXidS*Z'``, ``W'*dXidS``.  Everything else
the pass does (phiZ copies, pooling, scatters, masks) is what it costs beyond
this bound, so the pass's time over it is at least 1 (up to the noise of a
shared machine; the table says so when a run comes out below).

The whole-batch products at their shapes (``gemm_products``, one call each,
BLAS's own threads) are not a bound of the chunked pass: products over
800,000 columns run out of cache and an in-cache pass can beat them (the
"485% of the GEMM bound" of an earlier table).  They are kept as a
reference line, beside the flop count over the square-product rate (the
machine's peak: no pass can beat that).
"""
from __future__ import annotations

from simplecnn_bench.common import median, median_time


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


def products_pass(model, n, dtype):
    """A callable running the products of the fused ``lossgrad_subset`` of n
    instances, chunk by chunk in the pass's threads, and nothing else."""
    import numpy as np

    from simplecnn_py.fast import fused
    from simplecnn_py.fast import workspace
    from simplecnn_py.fast.layer import Layer

    dtype = np.dtype(dtype)
    layers = [Layer(model, m) for m in range(1, int(model.LC) + 1)]
    L, LC = int(model.L), int(model.LC)
    full = [(int(model.weight[m].shape[0]), int(model.weight[m].shape[1])) for m in range(LC + 1, L + 1)]
    chunk = workspace.chunk_size(layers, dtype.itemsize)
    groups = workspace.split(n, chunk, fused.FUSED_GROUPS)

    def operands(work, k):
        key = ("gemm-bound", k, dtype)
        ops = work.get(key)
        if ops is None:
            g = np.random.default_rng(k)

            def rnd(*shape):
                return np.asfortranarray(g.standard_normal(shape).astype(dtype))

            ops = {"ones": np.ones(max(ly.ncol for ly in layers) * k if layers else 1, dtype)}
            for ly in layers:
                cols = ly.ncol * k
                ops["W", ly.m] = rnd(ly.d_out, ly.rows)
                ops["P", ly.m] = rnd(cols, ly.rows).T if ly.d == 1 else rnd(ly.rows, cols)
                ops["S", ly.m] = rnd(ly.d_out, cols)
                ops["D", ly.m] = rnd(ly.d_out, cols)
                ops["Wb", ly.m] = [rnd(ly.d_out, ly.d) for _ in range(ly.h * ly.h)]
                ops["V", ly.m] = rnd(ly.d, cols)
            for j, (r, c) in enumerate(full):
                ops["FW", j], ops["FZ", j], ops["FO", j] = rnd(r, c), rnd(c, k), rnd(r, k)
                ops["FD", j], ops["FB", j] = rnd(r, k), rnd(c, k)
            work[key] = ops
        return ops

    def part(chunks, work):
        for c0, c1 in chunks:
            ops = operands(work, c1 - c0)
            for ly in layers:                                           # forward
                workspace.mtimes_into(ops["S", ly.m], ops["W", ly.m], ops["P", ly.m])
            for j in range(len(full)):
                workspace.mtimes_into(ops["FO", j], ops["FW", j], ops["FZ", j])
            for j in reversed(range(len(full))):                        # backward
                np.matmul(ops["FZ", j], ops["FD", j].T)
                workspace.mtimes_into(ops["FB", j], ops["FW", j].T, ops["FD", j])
            for ly in reversed(layers):
                D = ops["D", ly.m]
                np.matmul(ops["P", ly.m], D.T)                          # (dXidS*phiZ')'
                np.matmul(D, ops["ones"][:D.shape[1]])                  # dlossdb
                if ly.m > 1:
                    for Wb in ops["Wb", ly.m]:
                        workspace.mtimes_into(ops["V", ly.m], Wb.T, D)

    return lambda: workspace.run_parts(part, groups)


def measure_gemm(model, n, precision, repeats, record, square_rate, ours_call=None, bound=True):
    """The products-only bound (``products_pass``, median of ``repeats``, as
    ``ours``), the whole-batch products at their shapes, and the flops over
    the square-product rate.

    With ``ours_call`` (the pass itself) the bound and the pass are timed
    alternately, run by run, and the row carries ``ours_over_bound``, the
    median of the paired ratios: on a shared machine a load that comes and
    goes then weighs on both sides alike."""
    import time

    import numpy as np

    from simplecnn_py.support.conventions import mtimes

    dt = np.float64 if precision == "double" else np.float32
    total_flops = sum(2.0 * M * K * N for _, M, K, N in gemm_products(model, n))
    if not bound:
        pass                # timed alternately with ours and the other sides (simplecnn_bench/run.py)
    elif ours_call is None:
        bound = products_pass(model, n, dt)
        med, times = median_time(bound, repeats)
        record("gemm", "GEMM bound: the pass's own products, as it does them", med, times, flops=total_flops)
    else:
        bound = products_pass(model, n, dt)
        bound()
        times, paired = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            ours_call()
            t1 = time.perf_counter()
            bound()
            t2 = time.perf_counter()
            times.append(t2 - t1)
            paired.append((t1 - t0) / (t2 - t1))
        record("gemm", "GEMM bound: the pass's own products, as it does them (alternated with ours)",
               median(times), times, flops=total_flops, ours_over_bound=median(paired), paired_ratios=paired)

    g = np.random.default_rng(0)
    total_time, detail = 0.0, []
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
        t = median(median_time(fn, repeats)[1])
        flops = 2.0 * M * K * N
        total_time += t
        detail.append({"product": what, "shape": [M, K, N], "seconds": t, "gflops": flops / t / 1e9})
    record("gemm_batch", "whole-batch products at their shapes (not a bound: out of cache)", total_time, None,
           flops=total_flops, detail=detail)
    record("gemm_square", f"machine peak: flops / square-product rate ({square_rate / 1e9:.0f} GFLOP/s)",
           total_flops / square_rate, None, flops=total_flops)


def square_rate(precision, repeats):
    import numpy as np

    dt = np.float64 if precision == "double" else np.float32
    n = 2048
    g = np.random.default_rng(1)
    A = g.standard_normal((n, n)).astype(dt)
    B = g.standard_normal((n, n)).astype(dt)
    # the fastest run, not the median: a peak is what the machine can reach,
    # and a noisy neighbour only ever slows a run down
    t = min(median_time(lambda: A @ B, repeats)[1])
    return 2.0 * n ** 3 / t
