"""``acc = cal_accuracy(labels, y)``: the fraction of equal entries,
``mean(labels(:) == y(:))`` (a number in [0, 1]).

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``cnn/cal_accuracy.m`` (seed layout; the current layout computes it inside
``cnn_predict``); this repository's MATLAB twin is
``matlab_ref/seed/cnn/cal_accuracy.m``.  Shapes: ``labels`` and ``y`` l x 1
(any shape with l entries here).  No equation of the gradient-calculation
slides.
"""
from __future__ import annotations

import numpy as np

from ..support.errors import InputError


def cal_accuracy(labels, y):
    labels = np.asarray(labels).reshape(-1)
    y = np.asarray(y).reshape(-1)
    if labels.size != y.size:
        raise InputError("labels", f"{labels.size} predictions for {y.size} true labels")
    if y.size == 0:
        raise InputError("labels", "no instances to compute an accuracy on")
    return float(np.mean(labels == y))
