"""Fast ``feedforward``: the fused pass of ``fast/lossgrad_subset.py``, forward only,
keeping Z, phiZ and idx_pool of the whole batch as the reference does
(``Jv``/``JTBJv`` read them).  Tests: tests/test_fast_lossgrad_subset.py.
"""
from __future__ import annotations

from .layer import fusable
from .lossgrad_subset import _Fused

F = "F"


def feedforward(data, param, model, net):
    """Fused ``feedforward``; None to step aside (tracing, non-standard maps)."""
    from ..support.conventions import float_type, ftype

    layers = fusable(model, net)
    if layers is None:
        return None
    dtype = float_type(param)
    _Fused(model, net, layers, ftype(data, dtype), dtype, keep_phiZ=True).run()
    return net
