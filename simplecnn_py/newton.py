"""``[model, info] = newton(prob, param, model, net)``: subsampled Gauss-Newton.

MATLAB original (current layout, ``opt/newton.m``; facts page, section 7).
``param.C`` is already multiplied by l.  Each iteration k = 1..iter_max:

1. f and g on all data: ``fungrad_minibatch(..., 'fungrad')`` (bsize chunks).
2. The GNsize subset (``assign_subset``): a ``randperm(l)`` cut into
   ceil(l/GNsize) consecutive chunks, the permutation extended by its own
   first GNsize entries so every chunk is full; a new permutation every
   ceil(l/GNsize) iterations.  The subset goes through ``feedforward`` (and
   ``Jacobian`` when ``-Jacobian 1``) in chunks of bsize (``subset_nets``).
3. ``CG`` on ``((lambda + 1/C) I + G/GNsize) s = -g`` from s = 0.
4. Backtracking line search: alpha = 1, halved until
   ``f_new - f <= eta*alpha*g's`` (f_new by ``'funonly'``).  When alpha
   falls below 1e-10 the search has failed: ``Line search fails.`` is
   printed, the weights stay and training stops.
5. ``actred = f_new - f``, ``prered = alpha*g's + 0.5*alpha^2*s'Gs`` with
   ``s'Gs = s'(-g - r - lambda*s)``, ``ratio = actred/prered``; lambda times
   boost when ratio < 0.25, times drop when ratio >= 0.75 (``update_lambda``).

Printed per iteration (f after the step, |g| at the start of the iteration,
lambda after its update), and at the end::

    %d-iter f: %.15g |g|: %.15g alpha: %.15g ratio: %.15g lambda: %.15g #CG: %d actred: %.15g prered: %.15g
    total_#CG: %d

``info`` holds per-iteration lists ``f``, ``gnorm``, ``alpha``, ``ratio``,
``lambda``, ``cg``, ``actred``, ``prered``, and ``f0`` (f at the start) and
``total_CG``.  Random draws: ``param.stream.randperm`` (a
``simplecnn_py.rng.Stream``, so the harness can replay them to Octave).
The caller's ``model`` is not modified (MATLAB's value semantics).

With the fast paths on, the iterations run inside
``fast.workspace.single_threaded_blas()``: the fast paths thread
themselves, and a threaded BLAS call between them (CG's dot products) would
leave OpenBLAS's worker spinning on a core they need.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from simplecnn_py.fast import workspace
from simplecnn_py.CG import CG
from simplecnn_py.cells_to_vec import cells_to_vec
from simplecnn_py.conventions import cell, cols, struct
from simplecnn_py.feedforward import feedforward
from simplecnn_py.fprintf import fprintf
from simplecnn_py.fungrad_minibatch import fungrad_minibatch
from simplecnn_py.Jacobian import Jacobian
from simplecnn_py.vec_to_cells import vec_to_cells

__all__ = ["newton", "assign_subset", "subset_nets", "update_weights", "update_lambda"]

ALPHA_MIN = 1e-10


def newton(prob, param, model, net):
    with workspace.single_threaded_blas():
        return newton_iterations(prob, param, model, net)


def newton_iterations(prob, param, model, net):
    """The body of ``newton.m``."""
    l = prob.l
    GNsize = param.GNsize
    n_subsets = math.ceil(l / GNsize)
    lam = getattr(param, "lambda")
    total_CG = 0
    info = struct(f0=None, f=[], gnorm=[], alpha=[], ratio=[], cg=[], actred=[], prered=[], total_CG=0)
    setattr(info, "lambda", [])
    perm = None
    for k in range(1, param.iter_max + 1):
        net, f, grad = fungrad_minibatch(prob, param, model, net, "fungrad")
        if k == 1:
            info.f0 = float(f)
        g = cells_to_vec(grad.dfdW, grad.dfdb)
        subset, perm = assign_subset(param.stream, k, l, GNsize, n_subsets, perm)
        nets = subset_nets(prob, param, model, net, subset)
        s, CGiter, r = CG(param, model, nets, g, lam)
        total_CG = total_CG + CGiter
        gs = g @ s
        sGs = s @ (-g - r - lam * s)
        theta = cells_to_vec(model.weight, model.bias)
        alpha = 1.0
        while True:
            model_new = update_weights(model, theta, alpha, s)
            net, f_new, _ = fungrad_minibatch(prob, param, model_new, net, "funonly")
            if f_new - f <= param.eta * alpha * gs:
                break
            alpha = alpha / 2
            if alpha < ALPHA_MIN:
                break
        if alpha < ALPHA_MIN:
            fprintf("Line search fails.\n")
            break
        model = model_new
        actred = f_new - f
        prered = alpha * gs + 0.5 * alpha ** 2 * sGs
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.divide(actred, prered)
        lam = update_lambda(lam, ratio, param)
        gnorm = np.linalg.norm(g)
        fprintf("%d-iter f: %.15g |g|: %.15g alpha: %.15g ratio: %.15g lambda: %.15g #CG: %d "
                "actred: %.15g prered: %.15g\n", k, f_new, gnorm, alpha, ratio, lam, CGiter, actred, prered)
        info.f.append(float(f_new))
        info.gnorm.append(float(gnorm))
        info.alpha.append(float(alpha))
        info.ratio.append(float(ratio))
        getattr(info, "lambda").append(float(lam))
        info.cg.append(int(CGiter))
        info.actred.append(float(actred))
        info.prered.append(float(prered))
    info.total_CG = total_CG
    fprintf("total_#CG: %d\n", total_CG)
    return model, info


def assign_subset(stream, k, l, GNsize, n_subsets, perm):
    """The GNsize instances (1-based) of iteration k: chunk mod(k-1, n_subsets)
    of ``perm``; a new ``perm = [randperm(l), its first GNsize entries]`` every
    n_subsets iterations."""
    j = (k - 1) % n_subsets
    if j == 0:
        perm = stream.randperm(l).reshape(-1)
        perm = np.concatenate([perm, perm[:GNsize]])
    subset = perm[j * GNsize:(j + 1) * GNsize]
    return subset, perm


def subset_nets(prob, param, model, net, subset):
    """``feedforward`` (and ``Jacobian`` when -Jacobian 1) of the subset, in
    chunks of bsize; one net per chunk (each a fresh copy of ``net``'s index
    maps, since the port's feedforward fills the net it is given)."""
    bsize = param.bsize
    n_chunks = math.ceil(subset.size / bsize)
    nets = []
    for c in range(1, n_chunks + 1):
        idx = subset[(c - 1) * bsize:min(subset.size, c * bsize)]
        net_c = feedforward(cols(prob.data, idx), param, model, fresh_net(model, net))
        if param.Jacobian:
            net_c = Jacobian(model, net_c)
        nets.append(net_c)
    return nets


def fresh_net(model, net):
    """A net sharing ``net``'s index maps, with empty per-batch cells
    (MATLAB: the value copy made when ``net`` is passed to feedforward)."""
    out = copy.copy(net)
    out.Z = cell(model.L + 1)
    out.phiZ = cell(model.LC)
    out.idx_pool = cell(model.LC)
    out.dlossdW = cell(model.L)
    out.dlossdb = cell(model.L)
    if hasattr(out, "dzdS"):
        del out.dzdS
    return out


def update_weights(model, theta, alpha, s):
    """A copy of ``model`` with ``weight{m}``, ``bias{m}`` from the flat ``theta + alpha*s``."""
    model = copy.copy(model)
    model.weight, model.bias = vec_to_cells(theta + alpha * s, model)
    return model


def update_lambda(lam, ratio, param):
    """Levenberg-Marquardt rule: times boost when ratio < 0.25, times drop
    when ratio >= 0.75."""
    if ratio < 0.25:
        lam = lam * param.boost
    elif ratio >= 0.75:
        lam = lam * param.drop
    return lam
