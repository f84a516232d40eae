"""The inputs of the benchmarks: config, weights and instances.

``bench_data`` is the one loader of ``simplecnn bench`` and
``scripts/bench_newton.py``:

* ``--data FILE``: its instances (repeated when it holds fewer than asked);
* no ``--data``, a 28 x 28 x 1 config with 10 classes: the upstream MNIST
  demo file ``../shared/data/mnist-demo.mat`` when it is there (row-major,
  Z/255 minus the mean), else the shipped demo digits
  (``simplecnn_cli/demo/demo-data.mat``, seven-segment digits, 512
  instances): a fresh clone benchmarks on real images, and says which;
* any other config without ``--data``: random N(0, 1) images, said loudly on
  stderr (``WARNING``) and in the table's header.

The instances are ordered so that every prefix of at least ``smallest``
instances holds every label of the whole file (``check_data`` wants nL
distinct labels): ``--instances 32`` on MNIST works.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from simplecnn_bench.common import REPO

SHARED_DATA = REPO.parent / "shared" / "data" / "mnist-demo.mat"
DEMO_DATA = REPO / "simplecnn_cli" / "demo" / "demo-data.mat"
WARMUP_INSTANCES = 64


DEFAULT_CONFIG = """\
% MNIST 28x28x1, the 1-32-64-64 shape (simplecnn bench's default)
L = 4;
LC = 3;
LF = 1;
ht_input = 28;
wd_input = 28;
ch_input = [1,32,64,64];
wd_pad_added = [2,1,1];
wd_filter = [5,3,3];
strides = [1,1,1];
wd_subimage_pool = [2,2,2];
full_neurons = [10];
"""


class Inputs:
    """Config, model (weights from --seed) and l instances, as the port holds them."""

    def __init__(self, args, workdir):
        from simplecnn_py.cnn.read_config import read_config

        self.workdir = workdir
        if args.config:
            self.config = Path(args.config).resolve()
            self.config_name = self.config.name
        else:
            self.config = workdir / "bench-1-32-64-64.config"
            self.config.write_text(DEFAULT_CONFIG)
            self.config_name = "1-32-64-64 (MNIST 28x28x1)"
        self.param = read_config(str(self.config))
        self.y_all, self.Z_all, self.data_desc = bench_data(
            self.config, args.data, max(args.instances), args.seed, rowmajor=args.rowmajor,
            smallest=min(min(args.instances), WARMUP_INSTANCES))
        self.seed = args.seed

    def files(self, model, n):
        """(DATA.mat, W.mat) of the first n instances and the model's weights, written
        once into the work folder, for the benchmarks that run a whole command."""
        from simplecnn_py.support.datafile import save_data, save_weights

        data = self.workdir / f"data-{n}.mat"
        if not data.exists():
            save_data(data, self.y_all[:n], self.Z_all[:n])
        weights = self.workdir / "weights.mat"
        if not weights.exists():
            save_weights(weights, [np.asarray(model.weight[m], np.float64) for m in range(1, model.L + 1)],
                         [np.asarray(model.bias[m], np.float64) for m in range(1, model.L + 1)])
        return data, weights

    def problem(self, precision, n):
        """(param, model, prob) for the first n instances in a precision."""
        from simplecnn_py.cnn.check_data import check_data
        from simplecnn_py.support.conventions import struct
        from simplecnn_py.cnn.init_model import init_model
        from simplecnn_py.cnn.read_config import read_config

        param = read_config(str(self.config))
        param.precision = precision
        model = init_model(param, seed=self.seed)
        prob = check_data(struct(y=self.y_all[:n].copy(), Z=self.Z_all[:n]), param, where="bench data")
        return param, model, prob


def is_mnist_shape(param) -> bool:
    """28 x 28 x 1 images and 10 classes: the shape of the MNIST demo files."""
    return (int(param.ht_input), int(param.wd_input), int(param.ch_input[1]), int(param.nL)) == (28, 28, 1, 10)


def bench_data(config_file, data_file=None, need=1024, seed=0, rowmajor=False, normalize=None, smallest=None,
               warn=None):
    """``(y, Z, desc)``: ``need`` instances for a benchmark of ``config_file``.

    * ``data_file`` (a simpleNN .mat file, ``rowmajor`` as ``simplecnn
      train --rowmajor``): its instances, repeated when it holds fewer than
      ``need``; ``normalize``: the upstream MNIST example's Z/255 minus the
      mean of the file's instances (``simplecnn train --normalize``);
    * no ``data_file``, a 28 x 28 x 1 config with 10 classes: the shared
      MNIST demo file when present (row-major, normalized unless
      ``normalize=False``), else the shipped demo digits (column-major,
      pixels already in [0, 1]);
    * otherwise random N(0, 1) images; ``warn(message)`` (default: a line on
      stderr) says so.

    ``Z`` is dense float64, one instance a row, simpleNN's column-major image
    layout (what ``check_data`` reads on either side).  The first instance
    of each label of the whole file is moved to the front when the first
    ``smallest`` instances do not hold every label, so that every prefix of at
    least ``smallest`` (and at least nL) instances does.
    """
    from simplecnn_py.support.datafile import load_data, scale_pixels, subtract_mean
    from simplecnn_py.cnn.read_config import read_config

    param = read_config(str(config_file))
    if data_file is None and is_mnist_shape(param):
        if SHARED_DATA.exists():
            data_file, rowmajor = SHARED_DATA, True
            normalize = True if normalize is None else normalize
        elif DEMO_DATA.exists():
            data_file, rowmajor, normalize = DEMO_DATA, False, False
    if data_file is not None:
        prob = load_data(str(data_file), param, rowmajor=rowmajor)
        Z = prob.Z.toarray() if hasattr(prob.Z, "toarray") else np.asarray(prob.Z, dtype=np.float64)
        y = np.asarray(prob.y, dtype=np.float64).reshape(-1)
        if normalize:
            Z, _ = subtract_mean(scale_pixels(Z))
        y, Z = _labels_first(y, Z, min(need, smallest or need))
        reps = -(-need // Z.shape[0])
        if reps > 1:                                   # more instances asked than the file has
            Z, y = np.tile(Z, (reps, 1)), np.tile(y, reps)
        desc = (f"{Path(data_file).name} ({'first ' if reps == 1 else 'repeated to '}{need}"
                f"{', row-major' if rowmajor else ''}{', normalized' if normalize else ''})")
    else:
        g = np.random.default_rng(seed)
        a, b, d = int(param.ht_input), int(param.wd_input), int(param.ch_input[1])
        Z = g.standard_normal((need, a * b * d))
        y = np.concatenate([np.arange(1, param.nL + 1), g.integers(1, param.nL + 1, need)])[:need].astype(np.float64)
        desc = f"RANDOM N(0,1) images, {need} instances (no --data given)"
        (warn or _warn)(f"WARNING: no --data for {Path(config_file).name}: timing on random N(0,1) images "
                        f"(the times do not depend on the values; pass --data FILE for your own)")
    return y[:need], np.ascontiguousarray(Z[:need], dtype=np.float64), desc


def _labels_first(y, Z, k):
    """(y, Z) with the first instance of every label moved to the front when
    the first k instances miss a label of the whole set."""
    labels = np.unique(y)
    if np.unique(y[:k]).size == labels.size:
        return y, Z
    first = [int(np.flatnonzero(y == v)[0]) for v in labels]
    order = np.concatenate([first, np.setdiff1d(np.arange(y.size), first)])
    return y[order], Z[order]


def _warn(message):
    print(f"simplecnn bench: {message}", file=sys.stderr, flush=True)
