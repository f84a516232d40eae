"""``[W, b] = vec_to_cells(v, model)``: the inverse of ``cells_to_vec``.

MATLAB original (current layout, ``cnn/vec_to_cells.m``)::

    Wb = reshape(v(var_ptr(m) : var_ptr(m+1)-1), size(model.weight{m}, 1), []);
    W{m} = Wb(:, 1:end-1);   b{m} = Wb(:, end);

``W{m}`` has the shape of ``model.weight{m}``, ``b{m}`` of ``model.bias{m}``
(a column).  The results are Fortran-ordered views into ``v``.
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.support.conventions import cell, reshape

__all__ = ["vec_to_cells"]


def vec_to_cells(v: np.ndarray, model):
    L = model.L
    var_ptr = np.asarray(model.var_ptr).reshape(-1)
    W, b = cell(L), cell(L)
    for m in range(1, L + 1):
        Wb = reshape(v[var_ptr[m - 1] - 1:var_ptr[m] - 1], model.weight[m].shape[0], -1)
        W[m] = Wb[:, :-1]
        b[m] = Wb[:, -1:]
    return W, b
