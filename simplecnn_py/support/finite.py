"""Results that are not finite: said in one line, never handed on as numbers.

numpy warns (``RuntimeWarning: overflow encountered in matmul``) where a
value overflows; a user of the command line should see instead which stage
of the network stopped being finite first.  ``finite_lossgrad_all`` runs
``lossgrad_all`` with floating-point warnings off (the fast path's helper
threads take the same setting, ``fast.workspace``), checks the loss and the
gradients, and when one is not finite finds the first traced stage
(execution order, ``simplecnn_py.trace``) whose values are not, on the
first chunk of instances that shows it: an ``InputError`` names it.
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.support.conventions import cell
from simplecnn_py.support.errors import InputError

# what the traced stages hold, in the user's words
STAGES = {
    "phiZ": "phiZ (the padded input unfolded)",
    "sigmaS": "max(W*phiZ + b, 0)",
    "Z": "the layer's output Z",
    "loss": "the loss",
    "dXidS": "the delta entering the layer",
    "pool_gradient": "the delta through max pooling",
    "dlossdW": "dlossdW",
    "dlossdb": "dlossdb",
    "WtDelta": "W'*delta",
    "phi_gradient": "the delta through phi",
    "unpad": "the delta with the padding removed",
    "activation": "the delta times the ReLU mask",
}

CHUNK = 64           # instances per traced run while looking for the stage


def all_finite(*values) -> bool:
    """True when every array (or cell of arrays) given holds finite values only."""
    for v in values:
        items = [v[m] for m in range(1, len(v) + 1)] if isinstance(v, cell) else [v]
        for x in items:
            if not np.all(np.isfinite(np.asarray(x))):
                return False
    return True


def first_nonfinite_stage(prob, param, model, batch_idx) -> str | None:
    """'layer m, direction: what' of the first traced stage of
    ``lossgrad_subset(..., batch_idx, 'fungrad')`` that holds a value that is
    not finite, or None (every stage finite)."""
    from simplecnn_py.support import trace
    from simplecnn_py.cnn.init_net import init_net
    from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset

    net = init_net(param, model)
    with np.errstate(all="ignore"), trace.tracing() as tr:
        lossgrad_subset(prob, param, model, net, np.asarray(batch_idx), "fungrad")
    return first_nonfinite(tr.records)


def first_nonfinite(records) -> str | None:
    """'layer m, direction: what' of the first of the traced ``records``
    ({(layer, direction, stage): array}, in execution order) holding a value
    that is not finite, or None."""
    for (layer, direction, stage), value in records.items():
        a = np.asarray(value)
        if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
            return f"layer {layer}, {direction}: {STAGES.get(stage, stage)}"
    return None


def where_it_overflows(prob, param, model) -> str:
    """The first stage that is not finite, looked for chunk by chunk (a few
    instances at a time); the sum over chunks when no chunk alone shows it."""
    for start in range(0, int(prob.l), CHUNK):
        stage = first_nonfinite_stage(prob, param, model, np.arange(start + 1, min(prob.l, start + CHUNK) + 1))
        if stage is not None:
            return stage
    return "the sum of the gradients over the instances"


def where_forward_overflows(prob, param, model) -> str:
    """The first forward stage that is not finite, chunk by chunk ('the
    network's output' when none is found)."""
    from simplecnn_py.support import trace
    from simplecnn_py.support.conventions import cols
    from simplecnn_py.cnn.feedforward import feedforward
    from simplecnn_py.cnn.init_net import init_net

    for start in range(0, int(prob.l), CHUNK):
        net = init_net(param, model)
        batch = np.arange(start + 1, min(prob.l, start + CHUNK) + 1)
        with np.errstate(all="ignore"), trace.tracing() as tr:
            feedforward(cols(prob.data, batch), param, model, net)
        stage = first_nonfinite(tr.records)
        if stage is not None:
            return stage
    return "the network's output"


def finite_lossgrad_all(prob, param, model, bsize, where):
    """``lossgrad_all(prob, param, model, bsize)``, with an ``InputError`` on
    ``where`` (the weights or data file) naming the first stage that is not
    finite, instead of a result holding Inf or NaN."""
    from simplecnn_py.support.lossgrad_all import lossgrad_all

    with np.errstate(all="ignore"):
        loss, dlossdW, dlossdb = lossgrad_all(prob, param, model, bsize)
    if all_finite(loss, dlossdW, dlossdb):
        return loss, dlossdW, dlossdb
    stage = where_it_overflows(prob, param, model)
    raise InputError(where, f"the values stop being finite at {stage} (overflow: are the weights or inputs "
                            f"far too large?); no output written")
