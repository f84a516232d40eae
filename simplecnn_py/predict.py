"""``labels = predict(prob, param, model, net)``.

The forward pass on all instances (in batches of ``param.bsize``, default
128, so memory follows the batch), the predicted class of each instance the
row of the largest entry of its column of Z{L+1} (MATLAB's ``max``: the
first maximal entry wins a tie), mapped back through ``prob.label_enum``
(the sorted label set, ``unique(y)``; 1..nL when absent).  Returns an
l-vector of labels.
"""
from __future__ import annotations

import numpy as np

from .conventions import cols, first_max, to0
from .feedforward import feedforward


def predict(prob, param, model, net):
    L = model.L
    l = int(prob.l)
    bsize = int(getattr(param, "bsize", None) or 128)
    label_enum = getattr(prob, "label_enum", None)
    if label_enum is None:
        label_enum = np.arange(1, model.nL + 1)
    label_enum = np.asarray(label_enum).reshape(-1)

    predicted = np.zeros(l, dtype=np.int64)
    for start in range(0, l, bsize):
        batch_idx = np.arange(start + 1, min(l, start + bsize) + 1)
        net = feedforward(cols(prob.data, batch_idx), param, model, net)
        _, I = first_max(net.Z[L + 1])
        predicted[start:start + batch_idx.size] = I.reshape(-1)
    return label_enum[to0(predicted)]
