"""``v = cells_to_vec(W, b)``: the flat parameter vector of the Newton solver.

MATLAB original (current layout, ``cnn/cells_to_vec.m``)::

    v(var_ptr(m) : var_ptr(m+1)-1) = vec([W{m} b{m}])    for m = 1..L

i.e. ``vec(W{m})`` followed by ``b{m}`` (facts page, section 4).  Used for
the weights (``model.weight``, ``model.bias``) and for gradients
(``dfdW``/``dfdb``, ``dlossdW``/``dlossdb``).  Returns a 1-D array (MATLAB's
column vector) of the cells' class.
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.support.conventions import vec

__all__ = ["cells_to_vec"]


def cells_to_vec(W, b) -> np.ndarray:
    parts = []
    for m in range(1, len(W) + 1):
        parts.append(vec(W[m]))
        parts.append(vec(b[m]))
    return np.concatenate(parts)
