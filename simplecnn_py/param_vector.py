"""The flat parameter vector of the Newton solver and its per-layer cells.

MATLAB original (current layout): Newton works on one column vector that
stacks, layer by layer, ``[vec(W_m); b_m]`` = ``vec([W_m b_m])``; layer m's
part is ``var_ptr(m) : var_ptr(m+1)-1`` (facts page, section 4)::

    grad_vec = [];  for m = 1 : L,  grad_vec = [grad_vec; vec([dfdW{m} dfdb{m}])];  end
    Wb = reshape(v(var_ptr(m) : var_ptr(m+1)-1), [], n_{m-1}+1);  W = Wb(:, 1:end-1);  b = Wb(:, end);

``cells_to_vec`` and ``vec_to_cells`` are these two idioms.
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.conventions import cell, reshape, vec

__all__ = ["cells_to_vec", "vec_to_cells"]


def cells_to_vec(W: cell, b: cell) -> np.ndarray:
    """``[vec([W{1} b{1}]); ...; vec([W{L} b{L}])]`` as one 1-D array."""
    return np.concatenate([np.concatenate([vec(W[m]), vec(b[m])]) for m in range(1, len(W) + 1)])


def vec_to_cells(v: np.ndarray, model):
    """Split the flat vector ``v`` back into ``W`` and ``b`` cells shaped as
    ``model.weight`` / ``model.bias`` (layer m at ``var_ptr(m):var_ptr(m+1)-1``)."""
    L = model.L
    W, b = cell(L), cell(L)
    for m in range(1, L + 1):
        Wb = reshape(v[int(model.var_ptr[m]) - 1:int(model.var_ptr[m + 1]) - 1],
                     model.weight[m].shape[0], -1)
        W[m], b[m] = Wb[:, :-1], Wb[:, -1:]
    return W, b
