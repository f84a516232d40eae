"""Small helpers of the benchmarks: medians, process timing with peak memory,
relative errors, byte counts."""
from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def median(values):
    v = sorted(values)
    k = len(v) // 2
    return v[k] if len(v) % 2 else (v[k - 1] + v[k]) / 2


def median_time(fn, repeats, warmup=True):
    """Median wall time of fn() over ``repeats`` runs (after one warm-up run)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return median(times), times


def hwm(pid):
    """The peak resident set (VmHWM, bytes) of a running process, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def run_process_rss(cmd, timeout, env=None, cwd=None):
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
            h = hwm(proc.pid)
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


def rel(a, b):
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a)
    return float(np.linalg.norm(a - b) / na) if na else float(np.linalg.norm(b))


def grad_rel(ours_W, ours_b, W, b, L):
    """Largest normwise relative error over dlossdW{m}, dlossdb{m}."""
    worst = 0.0
    for m in range(1, L + 1):
        worst = max(worst, rel(ours_W[m], W[m - 1]), rel(ours_b[m], b[m - 1]))
    return worst


def gb(nbytes):
    return "-" if nbytes is None else f"{nbytes / 2**30:.2f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MiB"
