"""``v = cells_to_vec(W, b)``: the flat parameter vector of the Newton solver.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/cnn/cells_to_vec.m`` (current layout); this repository's MATLAB twin
is ``matlab_ref/current/MATLAB/cnn/cells_to_vec.m``::

    v(var_ptr(m) : var_ptr(m+1)-1) = vec([W{m} b{m}])    for m = 1..L

i.e. ``vec(W{m})`` followed by ``b{m}`` (``model.var_ptr`` as
``matlab_ref/current/MATLAB/cnn/init_model.m`` builds it): the variables
W^m, b^m of the gradient-calculation slides (eqs. (1), (2)) in one vector.  Used for
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
