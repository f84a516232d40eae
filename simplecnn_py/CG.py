"""``CG``: the Newton direction by conjugate gradient (current layout, ``opt/CG.m``).

MATLAB original::

    [s, err, CGiter] = CG(param, model, net, grad)

solves, from ``s = 0``, the damped subsampled Gauss-Newton system

    ((lambda + 1/C) I + G/GNsize) s = -g,     G = sum over the subset of J_i' B J_i,  B = 2I

where ``J_i`` is the Jacobian of the network output z^{L+1,i} with respect to
the flat parameter vector (``var_ptr`` order) and ``g`` the gradient of f on
all data.  ``net`` is the cell of nets of the Gauss-Newton subset (one per
chunk of ``bsize`` instances, each after ``feedforward`` and, when
``param.Jacobian`` is 1, ``Jacobian``); G*v is ``JTBJv`` (stored Jacobian) or
``R_JTBJv`` (R-operator), summed over the chunks.

Stopping rule: ``||r|| <= xi*||g||`` checked after each step, or ``CGmax``
steps.  ``err`` is the final residual ``r = -g - A*s`` (Newton's predicted
reduction needs ``s'*(-g - r - lambda*s)``), ``CGiter`` the number of steps.
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.JTBJv import JTBJv
from simplecnn_py.R_JTBJv import R_JTBJv

__all__ = ["CG", "conjugate_gradient", "Gv"]


def Gv(param, model, net, v: np.ndarray) -> np.ndarray:
    """``G*v`` summed over the subset's chunks (without the 1/GNsize and damping)."""
    product = JTBJv if param.Jacobian else R_JTBJv
    out = None
    for net_k in net:
        Gv_k = product(model, net_k, v)
        out = Gv_k if out is None else out + Gv_k
    return out


def CG(param, model, net, grad: np.ndarray):
    """``[s, err, CGiter] = CG(param, model, net, grad)`` (see the module docstring)."""
    damping = getattr(param, "lambda") + 1.0 / param.C

    def A(v):
        return Gv(param, model, net, v) / param.GNsize + damping * v

    return conjugate_gradient(A, -grad, param.xi, param.CGmax)


def conjugate_gradient(A, b: np.ndarray, xi: float, CGmax: int):
    """Plain CG for ``A s = b`` from ``s = 0``; ``A`` is a function v -> A*v.

    Stops when ``||r|| <= xi*||b||`` (checked after each step) or after
    ``CGmax`` steps; returns ``s``, the residual ``r = b - A*s`` as updated
    by the recurrence, and the number of steps.
    """
    s = np.zeros_like(b)
    r = b.copy()
    d = r.copy()
    rTr = r @ r
    cgtol = xi * np.sqrt(rTr)
    CGiter = 0
    while CGiter < CGmax:
        CGiter += 1
        Ad = A(d)
        alpha = rTr / (d @ Ad)
        s += alpha * d
        r -= alpha * Ad
        rnewTrnew = r @ r
        if np.sqrt(rnewTrnew) <= cgtol:
            break
        beta = rnewTrnew / rTr
        d = r + beta * d
        rTr = rnewTrnew
    return s, r, CGiter
