"""Recording of forward and backward intermediates, keyed by layer and stage.

    with trace.tracing() as tr:
        net, loss = lossgrad_subset(prob, param, model, net, batch_idx, 'fungrad')
    tr.records[(m, 'backward', 'pool_gradient')]

The port calls ``record(m, direction, stage, value)`` at each stage named in
``docs/design.md``.  When no tracing is active that call is a single test of a
module global, so tracing costs nothing measurable when it is off.  Values are
copied when recorded, so later in-place updates cannot change the record.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

_active = None


class Trace:
    """The records of one traced run: ``{(layer, direction, stage): array}``."""

    def __init__(self):
        self.records: dict[tuple[int, str, str], np.ndarray] = {}

    def add(self, layer, direction, stage, value):
        self.records[(int(layer), direction, stage)] = np.array(value, copy=True, order="K")

    def get(self, layer, direction, stage):
        return self.records.get((int(layer), direction, stage))

    def keys(self):
        return list(self.records)


def record(layer, direction, stage, value):
    """Record ``value`` as stage ``stage`` of ``layer`` when tracing is on."""
    if _active is not None:
        _active.add(layer, direction, stage, value)


def enabled() -> bool:
    return _active is not None


@contextmanager
def tracing():
    """Turn tracing on for the enclosed calls; yields the ``Trace``."""
    global _active
    previous, _active = _active, Trace()
    try:
        yield _active
    finally:
        _active = previous
