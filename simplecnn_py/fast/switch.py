"""The switch between the fast paths and the reference lines (state only).

``simplecnn_py.fast`` re-exports ``enabled``, ``use_reference`` and
``gradient_only``; the kernel modules read the state here.
"""
from __future__ import annotations

import contextlib
import os

_reference = os.environ.get("SIMPLECNN_REFERENCE", "").strip() not in ("", "0")
_keep_net = True


def enabled() -> bool:
    """True when the fast paths are in use (the default)."""
    return not _reference


def keep_net() -> bool:
    """False inside ``gradient_only()``."""
    return _keep_net


@contextlib.contextmanager
def gradient_only():
    """Inside, the fused ``lossgrad_subset`` keeps nothing in ``net`` but
    ``dlossdW``/``dlossdb`` (and ``num_sampled_data``, ``Z{1}``): ``Z{m}``
    for m > 1, ``idx_pool`` and ``phiZ`` are left empty.  For callers that
    want the loss and the gradient only (``simplecnn gradient``): the batch's
    intermediates then live chunk by chunk in cache, never in fresh memory."""
    global _keep_net
    previous, _keep_net = _keep_net, False
    try:
        yield
    finally:
        _keep_net = previous


@contextlib.contextmanager
def use_reference(flag: bool = True):
    """Run the enclosed calls on the reference (``flag=True``) or fast path."""
    global _reference
    previous, _reference = _reference, bool(flag)
    try:
        yield
    finally:
        _reference = previous
