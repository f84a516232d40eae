"""``acc = cal_accuracy(labels, y)``: the fraction of equal entries,
``mean(labels(:) == y(:))`` (a number in [0, 1])."""
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
