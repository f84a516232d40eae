"""``[model, info] = newton(prob, prob_v, param, model, net)``: subsampled Gauss-Newton.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/opt/newton.m`` (current layout, with ``opt/assign_inst_idx.m`` and
``opt/update_lambda.m``); this repository's MATLAB twins are
``matlab_ref/current/MATLAB/opt/newton.m``, ``assign_inst_idx.m`` and
``update_lambda.m``.  f and g are those of the gradient-calculation slides
(eqs. (1), (2)); the Newton method is beyond them. ``param.C`` is already
multiplied by l.

0. f and g on all data (``fungrad_minibatch``, bsize chunks); the line
   ``initial f: %g`` is printed.
1. Iteration k = 1..iter_max: the GNsize subset (``assign_inst_idx``): a
   ``randperm(l)`` extended by its own first GNsize entries and cut into
   ceil(l/GNsize) consecutive chunks; a new permutation when
   ``mod(k, ceil(l/GNsize)) == 1`` or GNsize == l (then every iteration).
2. ``CG`` on ``((lambda + 1/C) I + G/GNsize) s = -g`` from s = 0; G from the
   Jacobian of the whole subset (``-Jacobian 1``) or the R-operator on bsize
   chunks of it (``-Jacobian 0``).
3. Backtracking line search, alpha = 1, 1/2, 1/4, ... until
   ``f_new - f <= eta*alpha*g's``; the weights move by (alpha - old_alpha)*s
   in place (``update_weights``).  The original has no lower bound on alpha
   (nor has the port: only when alpha underflows to 0 does the port stop
   with one line, where the original would loop for ever).
4. ``actred = f_new - f``, ``prered = alpha*g's + 0.5*alpha^2*s'Gs``; lambda
   times boost when actred/prered < 0.25, times drop when >= 0.75.
5. f and g at the new point (``fungrad_minibatch``); |g| is the norm of this
   new gradient (``calc_gnorm``: the sum of the squared Frobenius norms).
6. With a validation set: predict it, keep the model of the strictly best
   accuracy (start 0.0), print the line with `` val_acc: %g``.  Without:
   the last model is returned.

Printed (the original's formats)::

    initial f: %g
    %d-iter f: %g |g|: %g alpha: %g ratio: %g lambda: %g #CG: %d actred: %g prered: %g[ val_acc: %g]
    total_#CG: %d

``info`` (the port's addition) holds the same values at full precision:
``f0`` and per-iteration lists ``f``, ``gnorm``, ``alpha``, ``ratio``,
``lambda``, ``cg``, ``actred``, ``prered``, ``val_acc``, and ``total_CG``.
A NaN/Inf f stops training with ``InputError`` (one line, a hint at
``--normalize``).  Random draws: ``param.stream.randperm``.  The caller's
``model`` is not modified (MATLAB's value semantics).

With the fast paths on, the iterations run inside
``fast.workspace.single_threaded_blas()``: the fast paths thread
themselves, and a threaded BLAS call between them (CG's dot products) would
leave OpenBLAS's worker spinning on a core they need.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from simplecnn_py.cnn.cal_accuracy import cal_accuracy
from simplecnn_py.opt.CG import CG
from simplecnn_py.support.conventions import cell, cols, struct
from simplecnn_py.support.errors import InputError
from simplecnn_py.fast import workspace
from simplecnn_py.cnn.feedforward import feedforward
from simplecnn_py.support.fprintf import fprintf
from simplecnn_py.cnn.fungrad_minibatch import fungrad_minibatch
from simplecnn_py.cnn.Jacobian import Jacobian
from simplecnn_py.cnn.predict import predict
from simplecnn_py.cnn.vec_to_cells import vec_to_cells

__all__ = ["newton", "assign_inst_idx", "subset_nets", "update_weights", "update_lambda", "calc_gnorm",
           "check_finite"]


def newton(prob, prob_v, param, model, net=None):
    if net is None:          # the earlier newton(prob, param, model, net), kept for the benchmarks
        prob_v, param, model, net = None, prob_v, param, model
    with workspace.single_threaded_blas():
        return newton_iterations(prob, prob_v, param, model, net)


def newton_iterations(prob, prob_v, param, model, net):
    """The body of ``newton.m``."""
    l = prob.l
    GNsize = param.GNsize
    n_splits = math.ceil(l / GNsize)
    info = struct(f0=None, f=[], gnorm=[], alpha=[], ratio=[], cg=[], actred=[], prered=[], val_acc=[],
                  total_CG=0)
    setattr(info, "lambda", [])
    model = copy_model(model)

    net, f, grad = fungrad_minibatch(prob, param, model, net, "fungrad")
    fprintf("initial f: %g\n", f)
    info.f0 = float(f)
    check_finite(f, "initial f")
    best_model = model
    best_val_acc = 0.0
    total_CG = 0
    batch_idx = None
    for k in range(1, param.iter_max + 1):
        if k % n_splits == 1 or l == GNsize:
            batch_idx = assign_inst_idx(param.stream, GNsize, l)
        current_batch = (k - 1) % n_splits + 1
        nets = subset_nets(prob, param, model, net, batch_idx[current_batch - 1])
        x, CGiter, gs, sGs = CG(param, model, nets, grad)
        total_CG = total_CG + CGiter

        fold = f
        alpha = 1.0
        while True:
            model = update_weights(model, alpha, x)
            prered = alpha * gs + 0.5 * (alpha ** 2) * sGs
            net, f, _ = fungrad_minibatch(prob, param, model, net, "funonly")
            actred = f - fold
            if actred <= param.eta * alpha * gs:
                break
            if alpha == 0.0:
                raise InputError("training", f"Newton iteration {k}: the line search halved the step to 0 "
                                             f"without a decrease (f = {f:g}); the original loops for ever here "
                                             "(unscaled data? try --normalize)")
            alpha = alpha * 0.5
        lam = update_lambda(param, actred, prered)
        setattr(param, "lambda", lam)
        net, f, grad = fungrad_minibatch(prob, param, model, net, "fungrad")
        gnorm = calc_gnorm(grad, model.L)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.float64(actred) / np.float64(prered)

        if prob_v is not None:
            val_results = predict(prob_v, param, model, net)
            val_acc = cal_accuracy(val_results, prob_v.y)
            if val_acc > best_val_acc:
                best_model = model
                best_val_acc = val_acc
            fprintf("%d-iter f: %g |g|: %g alpha: %g ratio: %g lambda: %g #CG: %d actred: %g prered: %g "
                    "val_acc: %g\n", k, f, gnorm, alpha, ratio, lam, CGiter, actred, prered, val_acc)
            info.val_acc.append(float(val_acc))
        else:
            best_model = model
            fprintf("%d-iter f: %g |g|: %g alpha: %g ratio: %g lambda: %g #CG: %d actred: %g prered: %g\n",
                    k, f, gnorm, alpha, ratio, lam, CGiter, actred, prered)
        info.f.append(float(f))
        info.gnorm.append(float(gnorm))
        info.alpha.append(float(alpha))
        info.ratio.append(float(ratio))
        getattr(info, "lambda").append(float(lam))
        info.cg.append(int(CGiter))
        info.actred.append(float(actred))
        info.prered.append(float(prered))
        progress = getattr(param, "progress", None)
        if progress is not None:
            progress(k, float(f))
        check_finite(f, f"f at Newton iteration {k}")
    fprintf("total_#CG: %d\n", total_CG)
    info.total_CG = total_CG
    return best_model, info


def check_finite(f, what):
    """NaN/Inf in f: training stops with one line (the original goes on)."""
    if not math.isfinite(float(f)):
        raise InputError("training", f"{what} is {float(f)!r}: training stopped, no model written "
                                     "(raw 0..255 pixels? try --normalize; or a smaller -lr, a larger -C)")


def assign_inst_idx(stream, GNsize, l):
    """The subsets of ``assign_inst_idx``: ``perm = [randperm(l), its first
    GNsize entries]`` cut into ceil(l/GNsize) chunks of GNsize (1-based)."""
    num_splits = math.ceil(l / GNsize)
    perm_idx = stream.randperm(l).reshape(-1)
    perm_idx = np.concatenate([perm_idx, perm_idx[:GNsize]])
    return [perm_idx[i * GNsize:(i + 1) * GNsize] for i in range(num_splits)]


def subset_nets(prob, param, model, net, subset):
    """The nets CG's products read: with ``-Jacobian 1`` one net,
    ``feedforward`` and ``Jacobian`` of the whole subset (as ``CG.m``);
    with ``-Jacobian 0`` one net per bsize chunk of the subset, after
    ``feedforward`` (``R_JTBJv``'s chunks; the original's ``Jv`` recomputes
    this forward pass at every product, with the same values)."""
    if param.Jacobian:
        # seed-layout feedforward(data, param, model, net); current: feedforward(data, model, net)
        net_c = feedforward(cols(prob.data, subset), param, model, fresh_net(model, net))
        return [Jacobian(model, net_c)]
    bsize = param.bsize
    nets = []
    for c in range(1, math.ceil(subset.size / bsize) + 1):
        idx = subset[(c - 1) * bsize:min(subset.size, c * bsize)]
        nets.append(feedforward(cols(prob.data, idx), param, model, fresh_net(model, net)))
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


def copy_model(model):
    """A copy of ``model`` whose weight/bias cells can be reassigned without
    touching the caller's (MATLAB passes structs by value)."""
    model = copy.copy(model)
    model.weight = cell(list(model.weight))
    model.bias = cell(list(model.bias))
    return model


def update_weights(model, alpha, x):
    """``update_weights``: a copy of ``model`` moved by (alpha - old_alpha)*x,
    old_alpha = 0 when alpha is 1, else 2*alpha (the previous trial step)."""
    old_alpha = 0.0 if alpha == 1 else alpha / 0.5
    model = copy_model(model)
    dW, db = vec_to_cells(x, model)
    for m in range(1, model.L + 1):
        model.weight[m] = model.weight[m] + (alpha - old_alpha) * dW[m]
        model.bias[m] = model.bias[m] + (alpha - old_alpha) * db[m]
    return model


def update_lambda(param, actred, prered):
    """Levenberg-Marquardt rule on actred/prered: times boost when < 0.25,
    times drop when >= 0.75 (a NaN ratio leaves lambda)."""
    lam = getattr(param, "lambda")
    with np.errstate(divide="ignore", invalid="ignore"):
        phik = np.float64(actred) / np.float64(prered)
    if phik < 0.25:
        lam = lam * param.boost
    elif phik >= 0.75:
        lam = lam * param.drop
    return lam


def calc_gnorm(grad, L):
    """sqrt(sum over m of ||dfdW{m}||_F^2 + ||dfdb{m}||^2)."""
    gnorm = 0.0
    for m in range(1, L + 1):
        gnorm = gnorm + np.linalg.norm(grad.dfdW[m], "fro") ** 2 + np.linalg.norm(grad.dfdb[m]) ** 2
    return np.sqrt(gnorm)
