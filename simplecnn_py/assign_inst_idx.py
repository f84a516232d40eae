"""``assign_inst_idx``: the Gauss-Newton subsets of Newton (current layout).

MATLAB original (a helper of ``opt/newton.m``)::

    num_subsets = ceil(l/GNsize);
    perm = randperm(l);
    inst_idx = [perm perm(1:GNsize)];           % so that every chunk is full
    subset_j = inst_idx((j-1)*GNsize+1 : j*GNsize);

A new permutation is drawn when ``mod(k-1, num_subsets) == 0`` (iterations
1, num_subsets+1, ...); iteration k uses chunk ``j = mod(k-1, num_subsets)+1``.
All indices are 1-based.  When GNsize > l the extension
``perm(1:GNsize)`` would not exist; GNsize is then capped at l (by
``cnn_train``), which makes one subset of all instances.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["assign_inst_idx", "subset"]


def assign_inst_idx(stream, l: int, GNsize: int) -> np.ndarray:
    """``[perm perm(1:GNsize)]`` with ``perm = randperm(l)`` drawn from ``stream``."""
    perm = stream.randperm(l).reshape(-1)
    return np.concatenate([perm, perm[:GNsize]])


def subset(inst_idx: np.ndarray, k: int, l: int, GNsize: int) -> np.ndarray:
    """The 1-based instance indices of iteration k's subset."""
    j = (k - 1) % math.ceil(l / GNsize) + 1
    return inst_idx[(j - 1) * GNsize:j * GNsize]
