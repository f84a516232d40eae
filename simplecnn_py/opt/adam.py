"""``[model, info] = adam(prob, prob_v, param, model, net)``: Adam.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/opt/adam.m`` (current layout); this repository's MATLAB twins are
``matlab_ref/current/MATLAB/opt/adam.m`` (with ``opt/stochastic.m``) and, for
the seed layout's ``adam(prob, param, model, net)``,
``matlab_ref/seed/opt/adam.m``.  The gradient is that of the
gradient-calculation slides (eqs. (1), (2)) on a batch.  beta1 = 0.9, beta2 =
0.999, eps = 1e-8, step size ``alpha = param.lr`` (0.01 by default: see
``parse_options``), the batches of ``sgd`` (``randperm(l, bsize)``).  Per
layer, on the flat ``[vec(W{m}); b{m}]``:

    gradW = [vec(W{m}); b{m}]/C + [vec(dlossdW{m}); dlossdb{m}]/bsize
    M{m} = beta1*M{m} + (1 - beta1)*gradW;   V{m} = beta2*V{m} + (1 - beta2)*(gradW.*gradW)
    M_hat = M{m}/(1 - beta1^k);              V_hat = V{m}/(1 - beta2^k)
    [W{m} b{m}] = [W{m} b{m}] - alpha*(M_hat./(sqrt(V_hat) + eps))

QUIRKS of the original, reproduced: ``-decay`` is ignored (alpha never
changes), and the bias correction uses the EPOCH counter k, not the number
of steps, so every step of epoch k is corrected by the same factors
(textbook Adam counts steps; the two agree only when an epoch is one step).

After each epoch: ``%d-epoch loss/batch_size: %g[ val_acc: %g]`` and the
best-validation model, as in ``sgd`` (``sgd.epoch_end``).  Random draws:
``param.stream.randperm``.  The caller's ``model`` is not modified.
"""
from __future__ import annotations

import math

import numpy as np

from simplecnn_py.support.conventions import cell, reshape, struct, vec
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
from simplecnn_py.opt.newton import copy_model
from simplecnn_py.opt.sgd import epoch_end

__all__ = ["adam"]


def adam(prob, prob_v, param, model, net):
    model = copy_model(model)
    L = model.L
    beta1 = 0.9
    beta2 = 0.999
    alpha = param.lr
    eps = 1e-8
    M, V = cell(L), cell(L)
    for m in range(1, L + 1):
        n_m = model.weight[m].size + model.bias[m].size
        M[m] = np.zeros(n_m, dtype=model.weight[m].dtype)
        V[m] = np.zeros(n_m, dtype=model.weight[m].dtype)
    state = struct(best_model=copy_model(model), best_val_acc=0.0)
    info = struct(loss=[], val_acc=[])
    bsize = param.bsize
    for k in range(1, param.epoch_max + 1):
        for _ in range(math.ceil(prob.l / bsize)):
            batch_idx = param.stream.randperm(prob.l, bsize)
            # seed-layout lossgrad_subset(prob, param, model, net, ...); current: (prob, model, net, ...)
            net, loss = lossgrad_subset(prob, param, model, net, batch_idx, "fungrad")
            for m in range(1, L + 1):
                rows, num_w = model.weight[m].shape[0], model.weight[m].size
                gradW = (np.concatenate([vec(model.weight[m]), vec(model.bias[m])]) / param.C
                         + np.concatenate([vec(net.dlossdW[m]), vec(net.dlossdb[m])]) / bsize)
                M[m] = beta1 * M[m] + (1 - beta1) * gradW
                V[m] = beta2 * V[m] + (1 - beta2) * (gradW * gradW)
                M_hat = M[m] / (1 - beta1 ** k)
                V_hat = V[m] / (1 - beta2 ** k)
                step = M_hat / (np.sqrt(V_hat) + eps)
                model.weight[m] = model.weight[m] - alpha * reshape(step[:num_w], rows, -1)
                model.bias[m] = model.bias[m] - alpha * reshape(step[num_w:], rows, 1)
        epoch_end(k, prob_v, param, model, net, loss / bsize, state, info)
    return state.best_model, info
