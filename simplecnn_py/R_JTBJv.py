"""``Gv = R_JTBJv(model, net, v)``: the Gauss-Newton product without a stored Jacobian.

MATLAB original (current layout, ``opt/R_JTBJv.m``, ``-Jacobian 0``):
G v = J' B J v, B = 2I, summed over the instances of the last
``feedforward``: J v by the R-operator forward pass (``Jv``), then
J' (2 J v) by the backward pass (``JTv``).  ``v`` and ``Gv`` are flat
parameter vectors (``cells_to_vec`` layout).  Equal to ``JTBJv`` up to
rounding.
"""
from __future__ import annotations

from simplecnn_py.cells_to_vec import cells_to_vec
from simplecnn_py.JTv import JTv
from simplecnn_py.Jv import Jv

__all__ = ["R_JTBJv"]


def R_JTBJv(model, net, v):
    u = 2 * Jv(model, net, v)
    dW, db = JTv(model, net, u)
    return cells_to_vec(dW, db)
