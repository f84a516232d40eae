"""``[net, f, grad] = fungrad_minibatch(prob, param, model, net, task)``.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause): the
seed layout's ``opt/fungrad_minibatch.m``, the current layout's
``MATLAB/cnn/fungrad_minibatch.m`` (the same signature); this repository's
MATLAB twins are ``matlab_ref/seed/opt/fungrad_minibatch.m`` and
``matlab_ref/current/MATLAB/cnn/fungrad_minibatch.m``.

The gradient-calculation slides, eqs. (1) and (2), summed over batches of
``param.bsize`` instances
(1..bsize, bsize+1..2*bsize, ...; default: all l in one batch):

    f         = reg/(2*C) + (sum of batch losses)/l,
                reg = sum_m ||W_m||_F^2 + ||b_m||^2
    dfdW{m}   = W_m/C + (sum of batch dlossdW{m})/l
    dfdb{m}   = b_m/C + (sum of batch dlossdb{m})/l

``task`` is ``'funonly'`` (grad is None) or ``'fungrad'``.  ``param.C`` is
the regularisation constant as used in f (``cnn_train`` has already
multiplied the user's -C by l); default 0.01*l as ``cnn_train`` would give.
Shapes: ``grad.dfdW{m}``/``grad.dfdb{m}`` as ``model.weight{m}``/``model.bias{m}``.
"""
from __future__ import annotations

import math

import numpy as np

from ..support.conventions import cell, float_type, ftype, struct, zeros
from .lossgrad_subset import lossgrad_subset


def fungrad_minibatch(prob, param, model, net, task):
    dtype = float_type(param)
    L = model.L
    l = int(prob.l)
    bsize = int(getattr(param, "bsize", None) or l)
    C = float(getattr(param, "C", None) or 0.01 * l)

    f = dtype(0)
    if task == "fungrad":
        dfdW = cell([zeros(*model.weight[m].shape, dtype=dtype) for m in range(1, L + 1)])
        dfdb = cell([zeros(*model.bias[m].shape, dtype=dtype) for m in range(1, L + 1)])
    for i in range(math.ceil(l / bsize)):
        batch_idx = np.arange(i * bsize + 1, min(l, (i + 1) * bsize) + 1)
        # seed-layout lossgrad_subset(prob, param, model, net, ...); current: (prob, model, net, ...)
        net, loss = lossgrad_subset(prob, param, model, net, batch_idx, task)
        f = f + loss
        if task == "fungrad":
            for m in range(1, L + 1):
                dfdW[m] += net.dlossdW[m]
                dfdb[m] += net.dlossdb[m]

    reg = dtype(0)
    for m in range(1, L + 1):
        W, b = ftype(model.weight[m], dtype), ftype(model.bias[m], dtype)
        reg = reg + np.linalg.norm(W, "fro") ** 2 + np.linalg.norm(b) ** 2
    f = reg / (2 * C) + f / l

    grad = None
    if task == "fungrad":
        grad = struct(dfdW=cell(L), dfdb=cell(L))
        for m in range(1, L + 1):
            grad.dfdW[m] = ftype(model.weight[m], dtype) / C + dfdW[m] / l
            grad.dfdb[m] = ftype(model.bias[m], dtype) / C + dfdb[m] / l
    return net, f, grad
