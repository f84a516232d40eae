"""A second MATLAB tree in the place of the port (``compare --matlab-dir A --against matlab:B``).

Tree B runs under its own Octave session exactly as tree A does (copied,
instrumented, fed the same param, model and prob: ``octave.run.run_matlab``),
and its records are mapped to the canonical stages by the same mapping
(``matlab_stages``), the stages picked by the canonical shapes.  The judge
then sees two MATLAB trees, stage by stage, with no port in between: a
user's edited copy against upstream, or two versions of the history.  The
port runs once, untraced, only for the net the near-tie analysis of pooling
winners replays from.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .base import SideRun, Stage


def _work_dir():
    """Where the run's files go: ``SIMPLECNN_TMPDIR``, else /dev/shm when writable, else the default."""
    if os.environ.get("SIMPLECNN_TMPDIR"):
        return os.environ["SIMPLECNN_TMPDIR"]
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


class MatlabTreeSource:
    """The Source protocol (``base.py``) for a MATLAB tree run under Octave."""

    origin = "Octave"

    def __init__(self, tree, opts):
        from ..octave.layouts import detect_layout
        from ..octave.session import find_octave

        self.opts = opts
        self.layout = detect_layout(Path(tree))
        find_octave()
        self.describe = f"MATLAB tree {self.layout.root} ({self.layout.name} layout) under Octave"

    def check(self, inputs):
        return None

    @contextlib.contextmanager
    def run(self, inputs, progress=None):
        from simplecnn_py.cnn.init_net import init_net
        from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset

        from ..octave.run import run_matlab
        from ..octave.session import OctaveSession
        from .matlab_stages import matlab_stages
        from .python_side import size_guide
        from .torch import parts

        param, model, prob = parts(inputs)
        opts = self.opts
        n = int(prob.l)
        timings = {}
        with tempfile.TemporaryDirectory(prefix="simplecnn-against-", dir=_work_dir()) as work:
            t0 = time.perf_counter()
            with OctaveSession(timeout=opts.timeout) as octave:
                run = run_matlab(octave, self.layout, param, model, prob, opts.precision, Path(work),
                                 instrument=opts.instrument, timeout=opts.timeout, tag="against")
            timings["against_octave_s"] = time.perf_counter() - t0
            M = matlab_stages(run, model, size_guide(param, model, n), n)
            stages = {k: Stage(None if v.value is None else np.array(v.value, copy=True), v.source, v.origin,
                               v.note) for k, v in M.items()}
        loss = stages.get((int(model.L), "forward", "loss"))
        net = init_net(param, model)
        net, _ = lossgrad_subset(prob, param, model, net, np.arange(1, n + 1), "fungrad")
        yield SideRun(stages=stages, loss=None if loss is None or loss.value is None
                      else float(np.asarray(loss.value).reshape(-1)[0]),
                      timings=timings, net=net, describe=self.describe)
