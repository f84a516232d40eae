"""``[model, info] = adam(prob, param, model, net)``: Adam.

MATLAB original (current layout, ``opt/adam.m``; facts page, section 7):
beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, and the batches
(``randperm(l, bsize)``, bsize = min(param.bsize, l)), gradient and
learning-rate schedule of ``sgd``:

    g{m}  = [dlossdW{m} dlossdb{m}]/bsize + [W{m} b{m}]/C
    mt{m} = beta1*mt{m} + (1 - beta1)*g{m};   vt{m} = beta2*vt{m} + (1 - beta2)*g{m}.^2
    mhat  = mt{m}/(1 - beta1^k);              vhat  = vt{m}/(1 - beta2^k)
    [W{m} b{m}] = [W{m} b{m}] - lr*mhat./(sqrt(vhat) + epsilon)
    step = step + 1;   lr = param.lr/(1 + decay*step)

QUIRK of the original, reproduced on purpose: the bias correction uses the
EPOCH counter k, not the step counter, so every step of epoch k is corrected
by the same factors 1/(1 - beta1^k), 1/(1 - beta2^k).  Textbook Adam (Kingma
and Ba) uses the number of steps taken, step + 1.  The two agree only when
an epoch is a single step (bsize >= l).  A faithful port must keep the quirk
to walk the original's trajectory; ``tests/test_train_sgd_adam.py`` shows it.

After each epoch: ``%d-epoch f: %.15g`` (f on all data); ``info`` as in sgd.
Random draws: ``param.stream.randperm``.  The caller's ``model`` is not
modified.
"""
from __future__ import annotations

import math

import numpy as np

from simplecnn_py.conventions import cell, struct, zeros
from simplecnn_py.fprintf import fprintf
from simplecnn_py.fungrad_minibatch import fungrad_minibatch
from simplecnn_py.lossgrad_subset import lossgrad_subset
from simplecnn_py.sgd import copy_model

__all__ = ["adam"]


def adam(prob, param, model, net):
    model = copy_model(model)
    L = model.L
    l = prob.l
    C = param.C
    bsize = min(param.bsize, l)
    beta1 = 0.9
    beta2 = 0.999
    epsilon = 1e-8
    lr = param.lr
    step = 0
    mW, mb, vW, vb = cell(L), cell(L), cell(L), cell(L)
    for m in range(1, L + 1):
        mW[m] = zeros(*model.weight[m].shape, dtype=model.weight[m].dtype)
        mb[m] = zeros(*model.bias[m].shape, dtype=model.bias[m].dtype)
        vW[m] = mW[m].copy(order="F")
        vb[m] = mb[m].copy(order="F")
    net, f0, _ = fungrad_minibatch(prob, param, model, net, "funonly")
    info = struct(f0=float(f0), f=[])
    for k in range(1, param.epoch_max + 1):
        for _ in range(math.ceil(l / bsize)):
            batch_idx = param.stream.randperm(l, bsize)
            net, _ = lossgrad_subset(prob, param, model, net, batch_idx, "fungrad")
            for m in range(1, L + 1):
                gW = net.dlossdW[m] / bsize + model.weight[m] / C
                gb = net.dlossdb[m] / bsize + model.bias[m] / C
                mW[m] = beta1 * mW[m] + (1 - beta1) * gW
                mb[m] = beta1 * mb[m] + (1 - beta1) * gb
                vW[m] = beta2 * vW[m] + (1 - beta2) * gW ** 2
                vb[m] = beta2 * vb[m] + (1 - beta2) * gb ** 2
                # the quirk: k (epoch), not step + 1, in the bias correction
                model.weight[m] = model.weight[m] - lr * (mW[m] / (1 - beta1 ** k)) / (np.sqrt(vW[m] / (1 - beta2 ** k)) + epsilon)
                model.bias[m] = model.bias[m] - lr * (mb[m] / (1 - beta1 ** k)) / (np.sqrt(vb[m] / (1 - beta2 ** k)) + epsilon)
            step = step + 1
            lr = param.lr / (1 + param.decay * step)
        net, f, _ = fungrad_minibatch(prob, param, model, net, "funonly")
        fprintf("%d-epoch f: %.15g\n", k, f)
        info.f.append(float(f))
    return model, info
