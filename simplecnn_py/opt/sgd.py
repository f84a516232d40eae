"""``[model, info] = sgd(prob, prob_v, param, model, net)``: mini-batch SGD with momentum.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/opt/sgd.m`` (current layout); this repository's MATLAB twins are
``matlab_ref/current/MATLAB/opt/sgd.m`` (with ``opt/stochastic.m``) and, for
the seed layout's ``sgd(prob, param, model, net)``,
``matlab_ref/seed/opt/sgd.m``. The gradient is that of the gradient-calculation
slides (eqs. (1), (2)) on a batch.  ``param.C`` is already multiplied by l. Per
epoch k = 1..epoch_max, ceil(l/bsize) steps, each on
``batch_idx = randperm(l, bsize)`` (``cnn_train`` refuses bsize > l, where
``randperm`` fails):

    Grad{m} = [dlossdW{m} dlossdb{m}]/bsize + [W{m} b{m}]/C
    v{m} = momentum*v{m} - lr*Grad{m};     [W{m} b{m}] = [W{m} b{m}] + v{m}
    lr = param.lr/(1 + decay*step);  step = step + 1        (step from 1)

No range check on momentum (1.5 runs, and diverges).  After each epoch the
original prints the loss of the LAST mini-batch over bsize, not f:

    %d-epoch loss/batch_size: %g[ val_acc: %g]

With a validation set the epoch predicts it and the model of the strictly
best accuracy (start 0.0) is returned, else the last one.  ``info.loss``
(loss/bsize per epoch, full precision) and ``info.val_acc`` are the port's
addition; a NaN/Inf loss stops training with one line.  Random draws:
``param.stream.randperm``.  The caller's ``model`` is not modified.
"""
from __future__ import annotations

import math

from simplecnn_py.cnn.cal_accuracy import cal_accuracy
from simplecnn_py.support.conventions import cell, struct
from simplecnn_py.support.fprintf import fprintf
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
from simplecnn_py.opt.newton import check_finite, copy_model
from simplecnn_py.cnn.predict import predict

__all__ = ["sgd", "copy_model", "epoch_end"]


def sgd(prob, prob_v, param, model, net):
    model = copy_model(model)
    L = model.L
    lr = param.lr
    decay = param.decay
    vW, vb = cell([0.0] * L), cell([0.0] * L)
    step = 1
    state = struct(best_model=copy_model(model), best_val_acc=0.0)
    info = struct(loss=[], val_acc=[])
    bsize = param.bsize
    for k in range(1, param.epoch_max + 1):
        for _ in range(math.ceil(prob.l / bsize)):
            batch_idx = param.stream.randperm(prob.l, bsize)
            # seed-layout lossgrad_subset(prob, param, model, net, ...); current: (prob, model, net, ...)
            net, loss = lossgrad_subset(prob, param, model, net, batch_idx, "fungrad")
            for m in range(1, L + 1):
                GradW = net.dlossdW[m] / bsize + model.weight[m] / param.C
                Gradb = net.dlossdb[m] / bsize + model.bias[m] / param.C
                vW[m] = param.momentum * vW[m] - lr * GradW
                vb[m] = param.momentum * vb[m] - lr * Gradb
                model.weight[m] = model.weight[m] + vW[m]
                model.bias[m] = model.bias[m] + vb[m]
            lr = param.lr / (1 + decay * step)
            step = step + 1
        epoch_end(k, prob_v, param, model, net, loss / bsize, state, info)
    return state.best_model, info


def epoch_end(k, prob_v, param, model, net, loss_per_batch, state, info):
    """The end of an SGD/Adam epoch: validation, the best model, the line."""
    if prob_v is not None:
        val_results = predict(prob_v, param, model, net)
        val_acc = cal_accuracy(val_results, prob_v.y)
        if val_acc > state.best_val_acc:
            state.best_model = copy_model(model)
            state.best_val_acc = val_acc
        fprintf("%d-epoch loss/batch_size: %g val_acc: %g\n", k, loss_per_batch, val_acc)
        info.val_acc.append(float(val_acc))
    else:
        state.best_model = model
        fprintf("%d-epoch loss/batch_size: %g\n", k, loss_per_batch)
    info.loss.append(float(loss_per_batch))
    progress = getattr(param, "progress", None)
    if progress is not None:
        progress(k, float(loss_per_batch))
    check_finite(loss_per_batch, f"loss/batch_size at epoch {k}")
