"""``[W, b] = vec_to_cells(v, model)``: the inverse of ``cells_to_vec``.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/cnn/vec_to_cells.m`` (current layout); this repository's MATLAB twin
is ``matlab_ref/current/MATLAB/cnn/vec_to_cells.m``::

    Wb = reshape(v(var_ptr(m) : var_ptr(m+1)-1), size(model.weight{m}, 1), []);
    W{m} = Wb(:, 1:end-1);   b{m} = Wb(:, end);

``W{m}`` has the shape of ``model.weight{m}``, ``b{m}`` of ``model.bias{m}``
(a column).  The results are Fortran-ordered views into ``v``.  No equation
of the gradient-calculation slides (the W^m, b^m of eqs. (1), (2) back from
one vector).
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
