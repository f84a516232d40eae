"""This project's port as a side of a comparison (the default Python side).

It runs ``init_net`` and ``lossgrad_subset`` (the gradient task) on all the
loaded instances with ``simplecnn_py.support.trace`` on: every canonical
stage is recorded where the port computes it, in MATLAB's shape.  The run
keeps the port's ``net`` (isolated mode re-runs each stage from it) and
says which path ran (``port_path``: "fast" or "reference",
``simplecnn_py.fast.enabled()``).
"""
from __future__ import annotations

import contextlib
import time

import numpy as np

from .base import SideRun, as_stages, observer


class PortSource:
    """``keep_net=False``: the run's ``net`` is let go as soon as the stages
    are recorded (a streamed compare's chunks: only the records are judged)."""
    origin = "the Python port"
    keeps_net = True                  # its run's net re-runs each stage in isolated mode

    def __init__(self, keep_net: bool = True):
        self.keep_net = keep_net

    def check(self, inputs) -> None:
        """The port runs any inputs the loader accepts."""

    @contextlib.contextmanager
    def run(self, inputs, progress=None):
        from simplecnn_py import fast
        from simplecnn_py.cnn.init_net import init_net
        from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
        from simplecnn_py.support import trace

        param, model, prob = inputs.param, inputs.model, inputs.prob
        observer(progress)(f"compare: Python port, {int(prob.l)} instances, {inputs.precision} precision")
        t0 = time.perf_counter()
        port_path = "fast" if fast.enabled() else "reference"
        net = init_net(param, model)
        with trace.tracing() as tr, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # Inf/NaN are compared, not warned
            net, loss = lossgrad_subset(prob, param, model, net, np.arange(1, prob.l + 1), "fungrad")
        kept, net = (net if self.keep_net else None), None
        yield SideRun(as_stages(dict(tr.records), "port"), float(np.asarray(loss).reshape(-1)[0]),
                      {"python_s": time.perf_counter() - t0}, kept, f"the Python port ({port_path} path)",
                      {"port_path": port_path})
