"""The ``compare`` row of ``simplecnn bench``: a whole ``simplecnn compare``
process (Python, and the Octave it starts) against the bare runs it
compares.

* wall time of ``simplecnn compare`` on the bench's config, weights and
  instances, against the MATLAB tree of ``--matlab-dir``;
* peak memory of the process TREE: at each sample the resident sets of the
  compare process and of every process below it (Octave among them) are
  summed, and the largest sum is kept (shared pages count once per process,
  as a sum of RSS does: a bound from above);
* ``over_bare``: that wall time divided by the bare runs' time, the tree's
  ``lossgrad_subset`` under Octave (the ``octave`` row, the call alone) plus
  the port's fast ``lossgrad_subset`` (the ``ours`` row), measured in the
  same bench run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from simplecnn_bench.common import REPO

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _children_map():
    """{parent pid: [child pids]} of every process (Linux /proc)."""
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree_rss(pid):
    """Summed resident set (bytes) of ``pid`` and every process below it."""
    kids, total, todo = _children_map(), 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
        todo.extend(kids.get(p, ()))
    return total


def run_tree_rss(cmd, timeout, env=None, every=0.02):
    """Run cmd: (wall seconds, peak summed RSS of its process tree, exit code, stdout, stderr)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env, text=True, stdin=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc.pid))
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                proc.wait()
                return time.perf_counter() - t0, peak, "timeout", "", ""
            time.sleep(every)
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        return wall, peak, proc.returncode, fo.read(), fe.read()


def measure_compare(inp, model, precision, n, tree, rows, timeout, record, chunk=None):
    """One ``simplecnn compare`` process on the bench's inputs; ``rows`` are the
    block's rows so far (the bare runs' times are read from them).  ``chunk``:
    compare's ``--chunk`` (None: its default, chunks sized from its memory
    budget when the instances pass it)."""
    data, weights = inp.files(model, n)
    out = inp.workdir / f"compare-{precision}-{n}.json"
    cmd = [sys.executable, "-m", "simplecnn_cli", "compare", "--matlab-dir", str(tree),
           "--config", str(inp.config), "--data", str(data), "--weights", str(weights),
           "--instances", str(n), "--precision", precision, "--json", str(out), "--quiet"] + (["--chunk", str(chunk)] if chunk else [])
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    what = "simplecnn compare (whole process tree: Python + Octave)"
    wall, peak, rc, so, se = run_tree_rss(cmd, timeout, env=env)
    if rc not in (0, 1) or not out.exists():
        tail = (se or so or "").strip().splitlines()[-2:]
        record("compare", what, None, None, error=f"exit {rc}: {' | '.join(tail)}")
        return
    verdict = json.loads(out.read_text())
    bare = _bare_seconds(rows)
    record("compare", what, wall, [wall], peak=peak, verdict="PASS" if verdict.get("pass") else "FAIL",
           bare_seconds=bare, over_bare=(wall / bare) if bare else None, chunks=verdict.get("chunks", 1))


def _bare_seconds(rows):
    """The tree's lossgrad_subset under Octave plus the port's fast one, from this block's rows."""
    ours = next((r["seconds"] for r in rows if r["item"] == "ours" and r.get("seconds")), None)
    octave = next((r["seconds"] for r in reversed(rows) if r["item"] == "octave" and r.get("seconds")), None)
    return ours + octave if ours and octave else None
