"""``results = predict(prob, param, model, net)``: predicted labels.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/cnn/predict.m`` (current layout; the seed layout's has the same
signature); this repository's MATLAB twins are
``matlab_ref/current/MATLAB/cnn/predict.m`` and
``matlab_ref/seed/cnn/predict.m``.  The forward pass (the gradient-calculation
slides, eq. (3)) in batches of ``param.bsize`` instances (1..bsize,
bsize+1..2*bsize, ...), Z{L+1} of every instance kept in an nL x l matrix; the
predicted class of an instance is the row of the largest entry of its column
(MATLAB's ``max``: the first maximal entry wins a tie), mapped through
``model.labels`` (the sorted training label set; 1..nL for a model without
one).  Returns an l-vector.

``predict_seed`` is the seed layout's ``cnn/predict.m`` as of simpleNN
commit ff2333d (not ``matlab_ref/seed``'s, which batches by bsize), for
models saved by that version: batches of ``floor(SR*l)`` instances,
``ceil(1/SR)`` of them, and no label map (class k is label k).  QUIRK of
that original, reproduced: instances beyond ``ceil(1/SR)*floor(SR*l)`` are
never fed forward, their column stays zero and they are predicted class 1.
"""
from __future__ import annotations

import math

import numpy as np

from ..support.conventions import cols, first_max, to0, zeros
from .feedforward import feedforward

__all__ = ["predict", "predict_seed"]


def predict(prob, param, model, net):
    L = model.L
    l = int(prob.l)
    bsize = int(param.bsize)
    results = zeros(model.nL, l)
    for i in range(1, math.ceil(l / bsize) + 1):
        batch = np.arange((i - 1) * bsize + 1, min(l, i * bsize) + 1)
        # seed-layout feedforward(data, param, model, net); current: feedforward(data, model, net)
        net = feedforward(cols(prob.data, batch), param, model, net)
        results[:, to0(batch)] = net.Z[L + 1]
    _, I = first_max(results)
    labels = getattr(model, "labels", None)
    if labels is None or np.size(labels) == 0:
        labels = np.arange(1, model.nL + 1, dtype=np.float64)
    return np.asarray(labels, dtype=np.float64).reshape(-1)[to0(I.reshape(-1))]


def predict_seed(prob, param, model, net, SR):
    """The seed layout's batches (see the module docstring); class indices."""
    L = model.L
    l = int(prob.l)
    l_batch = math.floor(SR * l)
    results = zeros(model.nL, l)
    ed = 0
    for _ in range(math.ceil(1 / SR)):
        st = ed + 1
        ed = min(l, ed + l_batch)
        if ed < st:
            continue
        batch = np.arange(st, ed + 1)
        net = feedforward(cols(prob.data, batch), param, model, net)
        results[:, to0(batch)] = net.Z[L + 1]
    _, I = first_max(results)
    return I.reshape(-1).astype(np.float64)
