"""Bundled demo files: a config in the upstream MNIST shape and small
generated data sets (seven-segment digits, not MNIST) made by
``make_demo_data.py``.

* ``demo.config``: 28 x 28 x 1 inputs, ch_input [1,16,16,32], 3 conv layers
  (the seed layout's 3-layer MNIST demo shape), 10 classes.
* ``demo-data.mat`` (512 instances) and ``demo-data.t.mat`` (256): labels
  0..9, pixels in [0, 1], images stored column-major as simpleNN expects.
* ``demo-nonsquare.config`` and ``demo-nonsquare.mat`` (64 instances of
  20 x 28 images): a non-square input, where the seed layout's
  ``find_index_phiZ`` argument swap shows.
* ``check-gradient.config`` and its data and weights: the small network of
  ``simplecnn check-gradient``'s example.
* ``my_network.py``: a template writing config, data, weights and MINE.mat
  of one's own small network from numpy or PyTorch
  (``python -m simplecnn_cli.demo.my_network OUTDIR [--torch]``).

The files ship inside the installed package (package data);
``python -m simplecnn_cli.demo`` prints their folder.
"""
from pathlib import Path

HERE = Path(__file__).resolve().parent


def demo_path(name: str = "demo.config") -> Path:
    """Path of a bundled demo file, e.g. ``demo_path('demo-data.mat')``."""
    p = HERE / name
    if not p.exists():
        raise FileNotFoundError(f"no bundled demo file {name} in {HERE}")
    return p
