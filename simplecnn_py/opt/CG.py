"""``[s, CGiter, gs, sGs] = CG(param, model, nets, grad)``: the Newton direction.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/opt/CG.m`` (current layout); this repository's MATLAB twin is
``matlab_ref/current/MATLAB/opt/CG.m``.  Beyond the gradient-calculation slides
(their J and the gradient of eqs. (1), (2) only).  Conjugate gradient, from
``s = 0``, for the damped subsampled Gauss-Newton system

    M s = -g,    M = (lambda + 1/C) I + G/GNsize,    G = sum over the subset of J_i' B J_i,  B = 2I

``g`` the gradient of f on all data (``grad``, flattened as ``[vec(dfdW{m});
dfdb{m}]`` per layer), J_i the Jacobian of instance i's output.  ``nets``:
the subset's nets (``newton.subset_nets``); G*v is ``JTBJv`` on the one
net of the whole subset (``-Jacobian 1``) or the sum of ``R_JTBJv`` over its
bsize chunks (``-Jacobian 0``).  As the original:

* ``rTr = norm(g)^2``, ``cgtol = xi*norm(g)``;
* at least one step is taken (the stopping test ``sqrt(r'r) <= cgtol`` comes
  after each step, never before the first) and at most ``CGmax``;
* ``gs = s'g``, ``sGs = s'(-g - r - lambda*s)`` for the predicted reduction.

``CGiter`` is the number of steps (Newton's ``#CG``).
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.cnn.cells_to_vec import cells_to_vec
from simplecnn_py.opt.JTBJv import JTBJv
from simplecnn_py.opt.R_JTBJv import R_JTBJv

__all__ = ["CG", "GN_product", "conjugate_gradient"]


def CG(param, model, nets, grad):
    lam = getattr(param, "lambda")
    GNsize = sum(_instances(net) for net in nets)
    g = cells_to_vec(grad.dfdW, grad.dfdb)

    def Mv(v):
        return (lam + 1 / param.C) * v + GN_product(param, model, nets, v) / GNsize

    s, CGiter, r = conjugate_gradient(Mv, g, param.xi, param.CGmax)
    gs = s @ g
    sGs = s @ (-g - r - lam * s)
    return s, CGiter, gs, sGs


def _instances(net):
    return int(net.num_sampled_data) if getattr(net, "num_sampled_data", 0) else net.Z[1].shape[1]


def GN_product(param, model, nets, v):
    """G v = sum over the nets of J' B J v."""
    Gv = np.zeros_like(v)
    for net in nets:
        if param.Jacobian:
            Gv = Gv + JTBJv(model, net, v)
        else:
            Gv = Gv + R_JTBJv(model, net, v)
    return Gv


def conjugate_gradient(M, g, xi, CGmax):
    """CG for ``M s = -g`` from ``s = 0``, ``M`` a function v -> M*v; the loop
    of ``CG.m`` line by line.  Returns ``(s, CGiter, r)``."""
    s = np.zeros_like(g)
    r = -g
    v = r
    gnorm = np.linalg.norm(g)
    rTr = gnorm ** 2
    cgtol = xi * gnorm
    CGiter = 0
    for CGiter in range(1, CGmax + 1):
        Gv = M(v)
        alpha = rTr / (v @ Gv)
        s = s + alpha * v
        r = r - alpha * Gv
        rnewTrnew = r @ r
        if np.sqrt(rnewTrnew) <= cgtol or CGiter == CGmax:
            break
        beta = rnewTrnew / rTr
        rTr = rnewTrnew
        v = r + beta * v
    return s, CGiter, r
