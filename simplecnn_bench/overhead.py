"""Measure the harness's own overhead against Octave's compute time.

    .venv/bin/python -m simplecnn_bench.overhead [--instances 256] [--repeat 3]
        [--matlab-dir DIR] [--config CFG]

For the same inputs, in one Octave session, it alternates a plain copy of
the tree (no instrumentation) and the instrumented copy, ``--repeat`` times
each, and reports the fastest of each (the least disturbed by other load on
the machine):

* Octave compute: ``lossgrad_subset``'s own time in the plain copy
  (``tic``/``toc`` inside Octave);
* the MATLAB side of a comparison, end to end: copying and instrumenting the
  tree, writing the inputs, the Octave call (tracing and recording
  included) and reading the index;
* overhead = that end-to-end time minus Octave compute, and its ratio to
  Octave compute (the target is below 0.5); also with the first read of
  every recorded value in Python added (the comparison does that read: the
  values are memory-mapped, not copied).
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from simplecnn_harness.octave.layouts import detect_layout
from simplecnn_harness.octave.run import run_matlab
from simplecnn_harness.compare import DEFAULT_TREE, Options, _fast_tmp, default_config, prepare
from simplecnn_harness.octave.session import OctaveSession


def measure(matlab_dir=None, config=None, instances=256, repeat=3, precision="double"):
    layout = detect_layout(matlab_dir or DEFAULT_TREE)
    param, model, prob, cfg, _ = prepare(Options(config=str(config or default_config()), instances=instances,
                                                 precision=precision))
    plain, traced = [], []
    with tempfile.TemporaryDirectory(dir=_fast_tmp()) as work, OctaveSession(timeout=1800) as octave:
        for k in range(repeat + 1):                      # the first round warms up Octave's caches
            for inst in (False, True):
                t0 = time.perf_counter()
                run = run_matlab(octave, layout, param, model, prob, precision, Path(work),
                                 instrument=inst, want_phiZ=False if not inst else None, tag=f"r{k}{int(inst)}")
                t1 = time.perf_counter()
                touched = 0
                for r in run.records:
                    v = r.value()
                    if v is not None and v.size:
                        touched += v.nbytes
                        np.add.reduce(np.asarray(v).reshape(-1, order="A"))
                t2 = time.perf_counter()
                row = {"compute_s": run.octave_seconds, "side_s": t1 - t0, "read_values_s": t2 - t1,
                       "bytes": touched}
                del run
                for part in ("code", "out"):        # as a real run, which ends by removing them
                    shutil.rmtree(Path(work) / f"r{k}{int(inst)}-{part}", ignore_errors=True)
                if k:
                    (traced if inst else plain).append(row)
    compute = min(r["compute_s"] for r in plain)
    traced_compute = min(r["compute_s"] for r in traced)
    side = min(r["side_s"] for r in traced)
    read = min(r["read_values_s"] for r in traced)
    out = {
        "layout": layout.name, "config": cfg, "instances": instances, "precision": precision,
        "octave_compute_s": compute,
        "traced_compute_s": traced_compute,
        "tracing_s": traced_compute - compute,
        "matlab_side_end_to_end_s": side,
        "overhead_s": side - compute,
        "overhead_ratio": (side - compute) / compute,
        "first_read_of_values_s": read,
        "overhead_with_first_read_ratio": (side + read - compute) / compute,
        "recorded_mib": traced[0]["bytes"] / 2 ** 20,
        "plain_runs": plain, "traced_runs": traced,
    }
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m simplecnn_bench.overhead", description=__doc__.splitlines()[0])
    p.add_argument("--matlab-dir")
    p.add_argument("--config")
    p.add_argument("--instances", type=int, default=256)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--precision", default="double", choices=("double", "single"))
    p.add_argument("--json")
    a = p.parse_args(argv)
    res = measure(a.matlab_dir, a.config, a.instances, a.repeat, a.precision)
    print(f"{res['layout']} layout, {res['instances']} instances, {res['precision']}, "
          f"{res['recorded_mib']:.0f} MiB recorded:\n"
          f"  Octave compute (plain copy)            {res['octave_compute_s']:.3f} s\n"
          f"  the same, instrumented (tracing)       {res['traced_compute_s']:.3f} s "
          f"(+{res['tracing_s']:.3f} s)\n"
          f"  MATLAB side end to end                 {res['matlab_side_end_to_end_s']:.3f} s "
          f"(copy, instrument, inputs, Octave call, index)\n"
          f"  overhead (transfers, tracing)          {res['overhead_s']:.3f} s = "
          f"{res['overhead_ratio']:.2f} x Octave compute\n"
          f"  + first read of every value in Python  {res['first_read_of_values_s']:.3f} s -> "
          f"{res['overhead_with_first_read_ratio']:.2f} x")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
