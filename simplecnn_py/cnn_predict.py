"""``[labels, accuracy] = cnn_predict(y, Z, model)``: predictions of a trained model.

MATLAB original (current layout, ``cnn_predict.m``).  ``y``, ``Z`` as
``check_data`` takes them.  The forward pass in chunks of 128 instances
(``predict``), the predicted class of an instance the row of the largest
entry of its column of Z{L+1} (the first maximum on a tie), mapped back
through the sorted label set ``model.label_enum`` (1..nL when the model has
none); ``accuracy = mean(labels == y)`` (``cal_accuracy``).  The precision
is ``model.float_type`` (double when absent).

A ``label_enum`` shorter than nL (a MATLAB model trained on fewer labels
than outputs) is extended with NaN: a prediction of an unseen class counts as
wrong.  The test labels need not cover every class: ``check_data`` is asked only to
rearrange ``Z`` (its label check is against the labels present).
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.cal_accuracy import cal_accuracy
from simplecnn_py.check_data import check_data
from simplecnn_py.conventions import struct
from simplecnn_py.init_net import init_net
from simplecnn_py.predict import predict

__all__ = ["cnn_predict"]


def cnn_predict(y, Z, model, *, where="data"):
    precision = getattr(model, "float_type", None) or "double"
    param = struct(precision=precision, bsize=128)
    label_enum = getattr(model, "label_enum", None)
    if label_enum is None or np.size(label_enum) == 0:
        label_enum = np.arange(1, model.nL + 1)

    y = np.asarray(y, dtype=np.float64).reshape(-1)
    labels_present = np.unique(y[np.isfinite(y)]).size
    shape = struct(ht_input=model.ht_input[1], wd_input=model.wd_input[1], ch_input=model.ch_input,
                   nL=labels_present, precision=precision)
    prob = check_data(struct(y=y, Z=Z), shape, where=where)
    label_enum = np.asarray(label_enum, dtype=np.float64).reshape(-1)
    if label_enum.size < model.nL:            # classes never seen in training: never right
        label_enum = np.concatenate([label_enum, np.full(model.nL - label_enum.size, np.nan)])
    prob.label_enum = label_enum

    net = init_net(param, model)
    labels = predict(prob, param, model, net)
    accuracy = cal_accuracy(labels, prob.y)
    return labels, accuracy
