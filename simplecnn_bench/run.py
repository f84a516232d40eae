"""``simplecnn bench``'s run: every measurement for every precision and
instance count, then the table (``simplecnn_cli/bench.py`` parses the
arguments and calls ``run``)."""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from simplecnn_bench import ITEMS
from simplecnn_bench.common import REPO, gb
from simplecnn_bench.compare_row import measure_compare
from simplecnn_bench.data import Inputs
from simplecnn_bench.gemm import measure_gemm, square_rate
from simplecnn_bench.newton import measure_newton
from simplecnn_bench.octave import measure_octave
from simplecnn_bench.ours import measure_gradient_process, measure_ours
from simplecnn_bench.table import print_table, summary
from simplecnn_bench.torch_side import measure_torch


def run(args) -> int:
    import numpy as np

    from simplecnn_py.support.errors import InputError

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
    if args.json:                    # before the run, not after minutes of it
        folder = Path(args.json).resolve().parent
        if Path(args.json).is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
            raise InputError(args.json, "cannot write the JSON file there (a folder, or a missing or "
                                        "read-only folder)")

    with tempfile.TemporaryDirectory(prefix="simplecnn-bench-") as tmp:
        workdir = Path(tmp)
        inp = Inputs(args, workdir)
        meta = {
            "config": inp.config_name, "data": inp.data_desc, "repeats": args.repeats,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "numpy": np.__version__, "blas": blas_name(), "matlab_tree": str(tree),
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
                    if not getattr(args, "quiet", False):
                        progress(precision, n, row)

                param, model, prob, ours = measure_ours(inp, precision, n, args.repeats, skip, record)
                if "gemm" not in skip:
                    # the square-product rate is measured beside the products (the machine is noisy)
                    rates[precision, n] = square_rate(precision, args.repeats)
                    measure_gemm(model, n, precision, args.repeats, record, rates[precision, n],
                                 bound=False)
                if "gradient" not in skip:
                    measure_gradient_process(inp, precision, n, args.repeats, ours, model, record)
                alternated_rounds(inp, param, model, prob, precision, args.repeats, tree, ours, skip,
                                  args.octave_timeout, record)
                if "newton" not in skip and n == min(args.instances):
                    measure_newton(inp, param, model, prob, precision, max(1, args.repeats // 3), record,
                                   REPO / "matlab_ref" / "current", args.octave_timeout)
                if "compare" not in skip:
                    measure_compare(inp, model, precision, n, tree, rows, args.octave_timeout, record,
                                    chunk=getattr(args, "compare_chunk", None))
                blocks.append({"precision": precision, "instances": n, "rows": rows, "summary": summary(rows)})
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


def alternated_rounds(inp, param, model, prob, precision, rounds, tree, ours, skip, timeout, record):
    """The comparisons that count, alternated: in each of ``rounds`` rounds one
    ``lossgrad_subset`` call of ours, one products-only pass (the GEMM bound),
    one PyTorch process and one Octave process (each warming up, then timing
    one call), so that a load that comes and goes on a shared machine weighs
    on every side; each row carries the median of its per-round ratios to
    ours (``over_ours`` / ``ours_over_bound``) beside the median time."""
    import time

    import numpy as np

    from simplecnn_bench.common import median
    from simplecnn_bench.gemm import gemm_products, products_pass

    sides = []
    if "gemm" not in skip:
        bound = products_pass(model, prob.l, np.float64 if precision == "double" else np.float32)
        bound()                                                     # warm-up
        sides.append(("gemm", lambda rec: _timed(bound, rec)))
    if "torch" not in skip:
        sides.append(("torch", lambda rec: measure_torch(inp, model, prob, precision, 1, ours, rec)))
    if "octave" not in skip:
        sides.append(("octave", lambda rec: measure_octave(inp, param, model, prob, precision, 1, tree, ours,
                                                          timeout, rec)))
    if not sides:
        return
    call = ours["call"]
    got = {name: [] for name, _ in sides}
    for _ in range(rounds):
        t0 = time.perf_counter()
        call()
        t_ours = time.perf_counter() - t0
        for name, run_side in sides:
            rows = []
            run_side(lambda item, what, seconds, times, **extra: rows.append(
                dict(extra, item=item, what=what, seconds=seconds, times=times)))
            row = rows[-1]
            got[name].append((t_ours, row))
            if row.get("error"):
                break
    for name, _ in sides:
        runs = got[name]
        last = runs[-1][1]
        if last.get("error"):
            record(name, last["what"], None, None, error=last["error"])
            continue
        times = [row["seconds"] for _, row in runs]
        ratios = [row["seconds"] / t for t, row in runs]
        extra = {k: v for k, v in last.items() if k not in ("item", "what", "seconds", "times", "peak")}
        extra["peak"] = max((row.get("peak") or 0) for _, row in runs) or None
        extra["ours_times"] = [t for t, _ in runs]
        if name == "gemm":
            extra["ours_over_bound"] = median([1 / x for x in ratios])
            extra["flops"] = sum(2.0 * M * K * N for _, M, K, N in gemm_products(model, prob.l))
            what = "GEMM bound: the pass's own products, as it does them"
        else:
            extra["over_ours"] = median(ratios)
            what = last["what"]
        record(name, what + " (alternated)", median(times), times, **extra)


def _timed(fn, record):
    import time

    t0 = time.perf_counter()
    fn()
    record("gemm", "", time.perf_counter() - t0, None)


def progress(precision, n, row):
    sec = row.get("seconds")
    msg = row.get("error") or (f"{sec:.3f} s" if sec is not None else gb(row.get("peak")))
    print(f"bench: {precision} {n}: {row['what']}: {msg}", file=sys.stderr, flush=True)


def blas_name():
    try:
        import numpy as np

        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        name = f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        name = "BLAS unknown"
    core = openblas_core()
    if core:
        name += f", {core} kernels"
    forced = os.environ.get("OPENBLAS_CORETYPE")
    if forced is not None:      # inherited by the Octave runs too
        name += f", OPENBLAS_CORETYPE={forced}"
    return name


def openblas_core():
    """The kernels numpy's OpenBLAS chose (e.g. Haswell, SkylakeX), or None.
    OpenBLAS picks them by CPU when it loads, unless ``OPENBLAS_CORETYPE``
    names them; the matrix-product rate depends on it (docs/performance.md)."""
    from simplecnn_py.fast import workspace

    return workspace.openblas_corename()
