"""``[model, info] = sgd(prob, param, model, net)``: mini-batch SGD with momentum.

MATLAB original (current layout, ``opt/sgd.m``; facts page, section 7).
``param.C`` is already multiplied by l.  Per epoch k = 1..epoch_max,
ceil(l/bsize) steps, each on ``batch_idx = randperm(l, bsize)``
(bsize = min(param.bsize, l)), with the gradient of slides eqs. (1)-(2) on
the batch:

    g{m} = [dlossdW{m} dlossdb{m}]/bsize + [W{m} b{m}]/C
    v{m} = momentum*v{m} - lr*g{m};     [W{m} b{m}] = [W{m} b{m}] + v{m}
    step = step + 1;   lr = param.lr/(1 + decay*step)

After each epoch f on all data (``fungrad_minibatch``, ``'funonly'``) is
printed as ``%d-epoch f: %.15g``; ``info.f`` holds those values (epoch k at
``info.f[k-1]``), ``info.f0`` the value before training.  Random draws:
``param.stream.randperm``.  The caller's ``model`` is not modified.
"""
from __future__ import annotations

import copy
import math

from simplecnn_py.conventions import cell, struct, zeros
from simplecnn_py.fprintf import fprintf
from simplecnn_py.fungrad_minibatch import fungrad_minibatch
from simplecnn_py.lossgrad_subset import lossgrad_subset

__all__ = ["sgd", "copy_model"]


def sgd(prob, param, model, net):
    model = copy_model(model)
    L = model.L
    l = prob.l
    C = param.C
    bsize = min(param.bsize, l)
    lr = param.lr
    step = 0
    vW, vb = cell(L), cell(L)
    for m in range(1, L + 1):
        vW[m] = zeros(*model.weight[m].shape, dtype=model.weight[m].dtype)
        vb[m] = zeros(*model.bias[m].shape, dtype=model.bias[m].dtype)
    net, f0, _ = fungrad_minibatch(prob, param, model, net, "funonly")
    info = struct(f0=float(f0), f=[])
    for k in range(1, param.epoch_max + 1):
        for _ in range(math.ceil(l / bsize)):
            batch_idx = param.stream.randperm(l, bsize)
            net, _ = lossgrad_subset(prob, param, model, net, batch_idx, "fungrad")
            for m in range(1, L + 1):
                gW = net.dlossdW[m] / bsize + model.weight[m] / C
                gb = net.dlossdb[m] / bsize + model.bias[m] / C
                vW[m] = param.momentum * vW[m] - lr * gW
                vb[m] = param.momentum * vb[m] - lr * gb
                model.weight[m] = model.weight[m] + vW[m]
                model.bias[m] = model.bias[m] + vb[m]
            step = step + 1
            lr = param.lr / (1 + param.decay * step)
        net, f, _ = fungrad_minibatch(prob, param, model, net, "funonly")
        fprintf("%d-epoch f: %.15g\n", k, f)
        info.f.append(float(f))
    return model, info


def copy_model(model):
    """A copy of ``model`` whose weight/bias cells can be reassigned without
    touching the caller's (MATLAB passes structs by value)."""
    model = copy.copy(model)
    model.weight = cell(list(model.weight))
    model.bias = cell(list(model.bias))
    return model
