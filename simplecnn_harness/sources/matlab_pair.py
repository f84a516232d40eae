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
        from .torch import parts

        param, model, prob = parts(inputs)
        opts = self.opts
        n = int(prob.l)
        timings = {}
        with tempfile.TemporaryDirectory(prefix="simplecnn-against-", dir=_work_dir()) as work:
            t0 = time.perf_counter()
            with OctaveSession(timeout=opts.timeout, progress=progress) as octave:
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


    @contextlib.contextmanager
    def chunks(self, progress=None, instances=None):
        """A streamed compare's chunks: ONE Octave session for this tree over
        all of them (``MatlabSource.chunks``, the reference's way), yields
        ``run(inputs, k)``, a context manager per chunk yielding its
        ``SideRun`` (timings named ``against_*``).  No port run: the near-tie
        analysis of pooling winners is not streamed (``streamed.pooling_check``).
        ``stop()`` (from another thread) ends the session at once."""
        from .matlab import MatlabSource

        source = MatlabSource(str(self.layout.root), self.opts.timeout, self.opts.instrument)
        with source.chunks(None, command="against") as run_chunk:
            @contextlib.contextmanager
            def one(inputs, k):
                t0 = time.perf_counter()
                with run_chunk(inputs, k) as run:
                    run.timings = {"against_octave_s": time.perf_counter() - t0}
                    run.describe, run.meta = self.describe, {}
                    yield run

            one.stop = lambda: stop_session(getattr(run_chunk, "octave", None))
            yield one


def stop_session(octave):
    """End ``octave``'s process group now, by its id (from another thread than
    the one in its ``eval``, which then fails and closes the session)."""
    from ..octave.processes import kill_group, pid_alive

    pid = getattr(octave, "pid", None)
    if pid is not None and pid_alive(pid):
        kill_group(pid)


def size_guide(param, model, n, dtype=np.float64):
    """The canonical stages' MATLAB shapes for ``n`` instances (the port's
    shapes), as zero-memory arrays: the MATLAB side's mapping picks its
    candidates by these sizes, whatever sizes the other side has."""
    from simplecnn_py.cnn.init_net import init_net

    from ..judge.stages import canonical_stages

    net = init_net(param, model)
    L, LC = int(model.L), int(model.LC)
    g = lambda name, m: int(getattr(model, name)[m])  # noqa: E731
    shapes = {}
    for m in range(1, LC + 1):
        d, d2, h = g("ch_input", m), g("ch_input", m + 1), g("wd_filter", m)
        conv = g("ht_conv", m) * g("wd_conv", m) * n
        out = g("ht_input", m + 1) * g("wd_input", m + 1)
        pad = g("ht_pad", m) * g("wd_pad", m) * n
        unp = g("ht_input", m) * g("wd_input", m) * n
        shapes.update({
            (m, "forward", "idx_pad"): np.shape(net.idx_pad[m]), (m, "forward", "idx_phiZ"): np.shape(net.idx_phiZ[m]),
            (m, "forward", "phiZ"): (h * h * d, conv), (m, "forward", "sigmaS"): (d2, conv),
            (m, "forward", "Z"): (d2, out * n), (m, "forward", "idx_pool"): (d2 * out, n),
            (m, "backward", "dXidS"): (d2, (out if g("wd_subimage_pool", m) > 1 else conv // n) * n),
            (m, "backward", "pool_gradient"): (d2, conv), (m, "backward", "dlossdW"): (d2, h * h * d),
            (m, "backward", "dlossdb"): (d2, 1), (m, "backward", "WtDelta"): (h * h * d, conv),
            (m, "backward", "phi_gradient"): (d, pad), (m, "backward", "unpad"): (d, unp),
            (m, "backward", "activation"): (d, unp)})
    n_in = g("ch_input", LC + 1) * g("ht_input", LC + 1) * g("wd_input", LC + 1)
    for m in range(LC + 1, L + 1):
        n_out = int(model.full_neurons[m - LC])
        shapes.update({(m, "forward", "Z"): (n_out, n), (m, "backward", "dXidS"): (n_out, n),
                       (m, "backward", "dlossdW"): (n_out, n_in), (m, "backward", "dlossdb"): (n_out, 1),
                       (m, "backward", "WtDelta"): (n_in, n), (m, "backward", "activation"): (n_in, n)})
        n_in = n_out
    shapes[(L, "forward", "loss")] = ()
    return {k: np.broadcast_to(np.zeros((), dtype), shapes[k]) for k in canonical_stages(model)}
