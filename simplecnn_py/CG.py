"""``[s, CGiter, r] = CG(param, model, nets, g, lambda)``: the Newton direction.

MATLAB original (current layout, ``opt/CG.m``).  Conjugate gradient, from
``s = 0``, for the damped subsampled Gauss-Newton system of Newton

    M s = -g,    M = (lambda + 1/C) I + G/GNsize,    G = sum over the subset of J_i' B J_i,  B = 2I

where ``g`` is the gradient of f on all data (flat, ``cells_to_vec``
layout) and J_i the Jacobian of instance i's output with respect to the
flat parameters.  ``nets`` holds one net per ``bsize`` chunk of the
GNsize-instance subset, each after ``feedforward`` (and ``Jacobian`` when
``param.Jacobian`` is 1); G*v is summed over them with ``JTBJv`` (stored
Jacobian) or ``R_JTBJv`` (R-operator).

Stops when ``||r|| <= xi*||g||`` (checked before the first step and after
each step) or after ``CGmax`` steps.  ``CGiter`` is the number of steps
(products with M, Newton's ``#CG``); ``r`` the final residual -g - M s as
the recurrence updates it (Newton's predicted reduction uses
``s'*(-g - r - lambda*s)`` = s'(G/GNsize + I/C)s).
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.JTBJv import JTBJv
from simplecnn_py.R_JTBJv import R_JTBJv

__all__ = ["CG", "GN_product", "conjugate_gradient"]


def CG(param, model, nets, g, lam):
    def Md(d):
        return (lam + 1 / param.C) * d + GN_product(param, model, nets, d) / param.GNsize

    return conjugate_gradient(Md, g, param.xi, param.CGmax)


def GN_product(param, model, nets, v):
    """G v = sum over the chunks of J' B J v."""
    Gv = np.zeros_like(v)
    for net in nets:
        if param.Jacobian:
            Gv = Gv + JTBJv(model, net, v)
        else:
            Gv = Gv + R_JTBJv(model, net, v)
    return Gv


def conjugate_gradient(M, g, xi, CGmax):
    """CG for ``M s = -g`` from ``s = 0``, ``M`` a function d -> M*d.

    Returns ``(s, CGiter, r)``; stops when ``||r|| <= xi*||g||`` or after
    ``CGmax`` steps (the loop of ``CG.m``, one line per MATLAB line).
    """
    s = np.zeros_like(g)
    r = -g
    d = r
    rTr = r @ r
    cgtol = xi * np.linalg.norm(g)
    CGiter = 0
    if np.sqrt(rTr) <= cgtol:
        return s, CGiter, r
    for CGiter in range(1, CGmax + 1):
        Md = M(d)
        alpha = rTr / (d @ Md)
        s = s + alpha * d
        r = r - alpha * Md
        rnewTrnew = r @ r
        if np.sqrt(rnewTrnew) <= cgtol:
            break
        beta = rnewTrnew / rTr
        d = r + beta * d
        rTr = rnewTrnew
    return s, CGiter, r
