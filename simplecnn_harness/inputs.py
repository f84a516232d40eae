"""The one input loader: config, data, weights and options, checked once.

Every command that runs the network on given inputs loads them here
(``compare``, ``record``, ``check-gradient``, ``compare-train``, ``gradient``
and the Python API), so the same arguments get the same checks, the same
one-line messages (``InputError``: exit 2) and the same warning policy::

    from simplecnn_harness import inputs
    ins = inputs.load(config="net.config", data="train.mat", instances=64)
    ins.param, ins.model, ins.prob          # what the port and the MATLAB code take

* **config**: read by the port's ``read_config``; its warnings (a key the
  original ignores, ...) are printed once each as ``simplecnn: warning:
  TEXT`` on standard error (:func:`read_param`), the only policy.  No
  config: the bundled 4-layer MNIST demo config (:func:`default_config`).
* **weights**: a simpleNN weights file (``weight``, ``bias``: L x 1 cells),
  cast to the working precision; else He's initialisation from ``seed``.
* **data**: a simpleNN data file as it is (``y``, ``Z``; ``rowmajor`` for
  images stored row by row), checked by the port's ``check_data``; else
  ``seed``-ed random images (:func:`generated_data`, at least one per class).
* **instances**: the first N (a positive number, at most what the data
  holds); not given: all of the data file, or 64 generated ones, and with
  ``budget`` (bytes of traced intermediates a side may hold) the first as
  many as fit, said through ``progress``.
"""
from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simplecnn_py.support.errors import EnvironmentProblem, InputError

from . import embedded

DEFAULT_TREE = embedded.SEED_TREE
DEFAULT_CONFIG_NAME = "mnist-demo-layer4.config"
DEFAULT_INSTANCES = 64
MEMORY_BUDGET = 4 * 2**30          # bytes of traced intermediates per side (compare's default budget)
PRECISIONS = ("double", "single")


@dataclass
class Inputs:
    """What the loader gives: the port's ``param``, ``model`` and ``prob``
    (its first ``prob.l`` instances) and how to name them in reports."""
    param: object
    model: object
    prob: object
    config: str                       # the config file read
    config_desc: str                  # how reports name the config
    data_desc: str                    # how reports name the data ("generated (seed 0)" or the file)
    precision: str = "double"
    seed: int = 0
    data: str | None = None           # the data file, when one was given
    weights: str | None = None        # the weights file, when one was given


def default_tree() -> Path:
    """The embedded MATLAB reference (``matlab_ref/seed``)."""
    if not (DEFAULT_TREE / "cnn").is_dir():
        raise EnvironmentProblem(f"the embedded MATLAB reference is missing ({DEFAULT_TREE}); "
                                 "pass --matlab-dir DIR")
    return DEFAULT_TREE


def default_config() -> Path:
    """The bundled 4-layer MNIST demo config."""
    for cand in (DEFAULT_TREE / "config" / DEFAULT_CONFIG_NAME,
                 embedded.DEMO_DIR / DEFAULT_CONFIG_NAME):
        if cand.is_file():
            return cand
    raise EnvironmentProblem(f"no bundled demo config ({DEFAULT_CONFIG_NAME}) found; pass --config CFG")


def read_param(path, precision="double"):
    """The port's ``read_config`` of ``path``, its warnings printed once each
    on standard error (``simplecnn: warning: ...``), ``precision`` set."""
    from simplecnn_py.cnn.read_config import read_config

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        param = read_config(str(path))
    for w in caught:
        print(f"simplecnn: warning: {w.message}", file=sys.stderr)
    param.precision = precision
    return param


def check_options(precision="double", instances=None, seed=0):
    """``InputError`` for an option no run can take."""
    if precision not in PRECISIONS:
        raise InputError("--precision", f"must be double or single, not {precision}")
    if instances is not None and instances < 1:
        raise InputError("--instances", f"must be a positive number, not {instances}")
    if seed is not None and seed < 0:
        raise InputError("--seed", f"must be >= 0, not {seed}")


def generated_data(param, n, seed):
    """``n`` seeded random images (pixels in [0, 1)) and labels covering 1..nL."""
    from simplecnn_py.support.conventions import struct

    nL = int(param.nL)
    if n < nL:
        raise InputError("--instances", f"generated data needs at least nL = {nL} instances (one per class), "
                                        f"not {n}")
    rng = np.random.default_rng(seed + 12345)
    a, b, d = int(param.ht_input), int(param.wd_input), int(param.ch_input[1])
    Z = rng.random((n, a * b * d))
    y = rng.permutation(np.arange(n) % nL) + 1.0
    return struct(Z=Z, y=y, l=n)


def subset(prob, n, start=0):
    """Instances ``start+1 .. start+n`` of a checked ``prob`` (the first n by
    default; labels mapped over the whole file): a chunk of a streamed run."""
    from simplecnn_py.support.conventions import struct

    stop = start + n
    sub = struct(**vars(prob))
    sub.data = np.asfortranarray(prob.data[:, start:stop])
    sub.label_mat = np.asfortranarray(prob.label_mat[:, start:stop])
    sub.y = np.asarray(prob.y)[start:stop]
    sub.y_mapped = np.asarray(prob.y_mapped)[start:stop]
    sub.l = n
    return sub


def load_model(param, weights=None, seed=0):
    """The model of ``param``: the weights file's weights (cast to the working
    precision), else He's initialisation from ``seed``."""
    from simplecnn_py.cnn.init_model import init_model

    if not weights:
        return init_model(param, seed=seed)
    from simplecnn_py.support.datafile import load_weights
    from simplecnn_py.support.rng import NoDraws

    model = init_model(param, seed=NoDraws())        # He init's draws would be replaced at once
    weight, bias = load_weights(weights, param)
    for m in range(1, model.L + 1):
        model.weight[m] = weight[m].astype(model.weight[m].dtype, order="F")
        model.bias[m] = bias[m].astype(model.bias[m].dtype, order="F")
    return model


def bytes_per_instance(model, precision):
    """Rough bytes of intermediates traced per instance (one side)."""
    item = 4 if precision == "single" else 8
    total = 0
    for m in range(1, int(model.LC) + 1):
        d, d2 = int(model.ch_input[m]), int(model.ch_input[m + 1])
        conv = int(model.ht_conv[m]) * int(model.wd_conv[m])
        pad = int(model.ht_pad[m]) * int(model.wd_pad[m])
        h = int(model.wd_filter[m])
        total += 2 * h * h * d * conv + 3 * d2 * conv + 2 * d * pad + 3 * d * int(model.ht_input[m]) * int(
            model.wd_input[m])
    return item * max(total, 1)


def load(config=None, data=None, weights=None, instances=None, precision="double", seed=0, rowmajor=False,
         budget=None, progress=None, command="compare") -> Inputs:
    """Load and check the inputs of a run (see the module docstring).

    ``budget``: bytes of traced intermediates a side may hold when
    ``instances`` is not given (``MEMORY_BUDGET`` for compare); ``progress``
    says the cut (``progress(text)``), ``command`` names the command in it."""
    from simplecnn_py.cnn.check_data import check_data

    check_options(precision, instances, seed)
    config = Path(config) if config else default_config()
    param = read_param(config, precision)
    model = load_model(param, weights, seed)
    if data:
        from simplecnn_py.support.datafile import load_data

        raw = load_data(data, param, rowmajor=rowmajor)
        where, data_desc = data, str(data)
    else:
        raw = generated_data(param, instances or DEFAULT_INSTANCES, seed)
        where, data_desc = "generated data", f"generated (seed {seed})"
    prob = check_data(raw, param, where=where)
    n = prob.l if instances is None else instances
    if n > prob.l:
        raise InputError("--instances", f"asks for {n} instances but {where} has {prob.l}")
    if instances is None and budget:
        fit = max(1, int(budget // bytes_per_instance(model, precision)))
        if n > fit:
            if progress:
                progress(f"{command}: using the first {fit} of the {n} instances (the traced intermediates of "
                         f"all would pass {budget / 2**30:.0f} GiB); --instances N chooses")
            n = fit
    prob = subset(prob, n)
    return Inputs(param, model, prob, str(config), str(config), data_desc, precision, seed,
                  str(data) if data else None, str(weights) if weights else None)


class SpilledColumns:
    """A checked ``prob.data`` (instances as columns) kept in a ``.npy`` file
    instead of memory, for a streamed run: ``data[:, a:b]`` reads those
    columns (the file mapped for the read only, so no page of it stays in
    the process's memory); ``numpy.asarray(data)`` reads it all.  The data
    then cost a chunk's columns, not the whole file's."""

    def __init__(self, data, folder):
        self.path = Path(folder) / "prob-data.npy"
        np.save(self.path, np.asfortranarray(data))
        self.shape, self.dtype, self.ndim = data.shape, data.dtype, data.ndim

    def __getitem__(self, index):
        whole = np.load(self.path, mmap_mode="r")
        try:
            return np.array(whole[index], order="F")
        finally:
            del whole

    def __array__(self, dtype=None, copy=None):
        return np.asarray(np.load(self.path), dtype=dtype)
