"""Fast ``feedforward``: the fused pass of ``fast/fused.py``, forward only.

Reference: ``simplecnn_py/cnn/feedforward.py`` (the seed layout's signature;
twin of ``matlab_ref/seed/cnn/feedforward.m``), the forward pass of the
gradient-calculation slides (eq. (3)).  Keeps Z, phiZ and idx_pool of the
whole batch as the reference does (``Jv``/``JTBJv`` read them).  Equal to the
reference to rounding.  Tests: tests/fast/test_fast_lossgrad_subset.py.
"""
from __future__ import annotations

from .layer import fusable
from .fused import Fused


def feedforward(data, param, model, net):
    """Fused ``feedforward``; None to step aside (tracing, non-standard maps)."""
    from ..support.conventions import float_type, ftype

    layers = fusable(model, net)
    if layers is None:
        return None
    dtype = float_type(param)
    Fused(model, net, layers, ftype(data, dtype), dtype, keep_phiZ=True).run()
    return net
