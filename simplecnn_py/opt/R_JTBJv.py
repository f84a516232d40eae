"""``Gv = R_JTBJv(model, net, v)``: the Gauss-Newton product without a stored Jacobian.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/opt/R_JTBJv.m`` (current layout, ``-Jacobian 0``); this repository's
MATLAB twin is ``matlab_ref/current/MATLAB/opt/R_JTBJv.m``: G v = J' B J v, B =
2I, summed over the instances of the last ``feedforward``: J v by the
R-operator forward pass (``Jv``), then J' (2 J v) by the backward pass
(``JTv``).  ``v`` and ``Gv`` are flat parameter vectors (``cells_to_vec``
layout).  Equal to ``JTBJv`` up to rounding.  Equations: those of ``Jv`` (the
gradient-calculation slides, eqs. (3)-(5), (10), (11)) and of ``JTv`` (eqs.
(19)-(22), (26)-(28)).

The lines below are the reference; unless it is selected
(``SIMPLECNN_REFERENCE=1`` or ``fast.use_reference()``),
``simplecnn_py/fast/R_JTBJv.py`` runs Jv and JTv fused, chunk by
chunk of instances (the same values up to the rounding of the products and
of the sums over instances).
"""
from __future__ import annotations

from simplecnn_py import fast
from simplecnn_py.fast import R_JTBJv as fast_path
from simplecnn_py.cnn.cells_to_vec import cells_to_vec
from simplecnn_py.cnn.JTv import JTv
from simplecnn_py.cnn.Jv import Jv

__all__ = ["R_JTBJv"]


def R_JTBJv(model, net, v):
    if fast.enabled() and (Gv := fast_path.R_JTBJv(model, net, v)) is not None:
        return Gv
    u = 2 * Jv(model, net, v)
    dW, db = JTv(model, net, u)
    return cells_to_vec(dW, db)
