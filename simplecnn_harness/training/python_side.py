"""The Python side of compare-train: the port's ``cnn_train`` (current
layout) or the seed layout's training assembled from the port's routines
(:mod:`~simplecnn_harness.training.seed_layout`), on a
:class:`~simplecnn_harness.training.replay.RecordingStream`; its printed
lines are kept (and echoed as progress), its per-iteration values taken
at full precision from the returned ``info``.

:func:`load_inputs` reads the config and the data once for both sides.
"""
from __future__ import annotations

import io
import time
from contextlib import redirect_stdout

import numpy as np

from simplecnn_py.support.errors import InputError

from .matlab_side import flat_weights
from .printed import parse_progress, progress_lines
from .replay import RecordingStream
from .verdict import Side

SOLVERS = {1: "newton", 2: "sgd", 3: "adam"}


class LineTee(io.TextIOBase):
    """stdout of the Python side: kept line by line, and echoed as progress."""

    def __init__(self, progress):
        self.progress = progress
        self.buf = ""
        self.lines = []

    def write(self, s):
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            self.lines.append(line)
            if self.progress:
                self.progress("python", line)
        return len(s)

    def flush(self):
        pass


def load_inputs(config, data, instances=None, rowmajor=False, normalize=False, mean=None):
    """``(param, y, Z, mean)``: the config read by the port, and the first
    ``instances`` of the data file (dense float64, simpleNN's column-major
    image rows); ``normalize``: the upstream MNIST example's Z/255 minus the
    mean of the instances used (or ``mean``, the training set's)."""
    from simplecnn_py.support.datafile import load_data, scale_pixels, subtract_mean

    from ..inputs import read_param

    param = read_param(config)                 # the one warning policy of every command
    prob = load_data(data, param, rowmajor=rowmajor)
    y, Z = prob.y, prob.Z
    if instances is not None:
        if instances < 1:
            raise InputError("--instances", f"must be a positive number, not {instances}")
        if instances > prob.l:
            raise InputError("--instances", f"{instances} asked but {data} holds {prob.l} instances")
        y, Z = y[:instances], Z[:instances]
    if hasattr(Z, "toarray"):
        Z = Z.toarray()
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    if normalize:
        Z, mean = subtract_mean(scale_pixels(Z), mean)
    return param, np.asarray(y, dtype=np.float64).reshape(-1), Z, mean


def solver_of(options, profile=None) -> str:
    """``'newton'``, ``'sgd'`` or ``'adam'`` from the options (``profile``:
    a seed tree's, whose options differ)."""
    if profile is not None:
        from .seed_layout import check_options

        return SOLVERS[check_options(options, profile).solver]
    from simplecnn_py.opt.parse_options import parse_options

    return SOLVERS[parse_options(options).solver]


def run_python(y, Z, config, options, seed, progress=None, y_v=None, Z_v=None,
               on_step=None, profile=None) -> tuple[Side, RecordingStream]:
    """Train on a recording stream; ``profile`` (a seed tree's
    :class:`~simplecnn_harness.training.seed_layout.SeedProfile`) selects the
    seed layout's training."""
    solver = solver_of(options, profile)
    stream = RecordingStream(seed)
    tee = LineTee(progress)
    t0 = time.perf_counter()
    with redirect_stdout(tee):
        if profile is None:
            from simplecnn_py.cnn_train import cnn_train

            model, info = cnn_train(y, Z, y_v, Z_v, str(config), options, stream, progress=on_step)
        else:
            from .seed_layout import cnn_train_seed

            model, info = cnn_train_seed(y, Z, str(config), options, stream, profile, progress=on_step)
    seconds = time.perf_counter() - t0
    side = Side("python", lines=progress_lines(tee.lines), seconds=seconds)
    printed, extra = parse_progress(side.lines, solver)
    side.line_search_failed = extra["line_search_failed"]
    side.total_cg = extra["total_cg"]
    side.f0 = getattr(info, "f0", None)
    values = {"f": getattr(info, "f", None) if solver == "newton" else getattr(info, "loss", None),
              "val_acc": getattr(info, "val_acc", None)}
    if solver == "newton":
        values.update({name: getattr(info, name, None) for name in ("gnorm", "alpha", "ratio", "lambda",
                                                                     "actred", "prered")})
    for name, vals in values.items():
        if vals and len(vals) == len(printed):
            for r, v in zip(printed, vals):
                r[name] = float(v)
    side.rows = printed
    L = model.L
    side.weights = flat_weights([model.weight[m] for m in range(1, L + 1)],
                                [model.bias[m] for m in range(1, L + 1)], L)
    return side, stream
