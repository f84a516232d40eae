"""``lossgrad_subset`` over all instances of a data set: ``simplecnn gradient``'s work.

MATLAB equivalent (seed layout)::

    net = init_net(param, model);
    [net, loss] = lossgrad_subset(prob, param, model, net, 1:prob.l, 'fungrad');
    dlossdW = net.dlossdW; dlossdb = net.dlossdb;

On the fast path one call takes all instances inside ``fast.gradient_only()``
(a few MiB of intermediates per thread whatever the batch, docs/performance.md).
On the reference path (``SIMPLECNN_REFERENCE=1``), when all instances would
need more than about 512 MiB of intermediates, the work is split into
consecutive chunks of instances whose losses and gradients are summed, as
``fungrad_minibatch`` sums its batches: the sum differs from one call only by
rounding.  ``bsize`` sets the chunk on either path.
"""
from __future__ import annotations

import numpy as np

from simplecnn_py import fast
from simplecnn_py.support.conventions import cell
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset

_MEMORY_TARGET = 2**29  # bytes of intermediates for one lossgrad_subset call (512 MiB)


def lossgrad_all(prob, param, model, bsize=None):
    """``lossgrad_subset`` over all instances: ``(loss, dlossdW, dlossdb)``.

    One call on ``1:l`` when it fits (``bsize`` None and, on the reference
    path, the intermediates need less than about 512 MiB), else consecutive
    chunks of ``bsize`` instances whose losses and gradients are summed.
    """
    l, L = prob.l, model.L
    if not bsize:
        # the fused fast path holds a few MiB per thread whatever the batch
        # (gradient_only below), and one call is faster than several
        bsize = l if fast.enabled() else auto_bsize(param, model, l)
    net = init_net(param, model)
    loss, dlossdW, dlossdb = 0, cell(L), cell(L)
    with fast.gradient_only():     # only the loss and gradients are wanted (docs/performance.md)
        for start in range(0, l, bsize):
            batch_idx = np.arange(start + 1, min(l, start + bsize) + 1)
            net, batch_loss = lossgrad_subset(prob, param, model, net, batch_idx, "fungrad")
            if start == 0:
                loss = batch_loss
                for m in range(1, L + 1):
                    dlossdW[m], dlossdb[m] = net.dlossdW[m], net.dlossdb[m]
            else:
                loss = loss + batch_loss
                for m in range(1, L + 1):
                    dlossdW[m] = dlossdW[m] + net.dlossdW[m]
                    dlossdb[m] = dlossdb[m] + net.dlossdb[m]
    return loss, dlossdW, dlossdb


def auto_bsize(param, model, l):
    """All ``l`` instances, or fewer when their intermediates (padded inputs,
    phiZ, S and Z of every conv layer, three copies' worth) would pass 512 MiB
    (smaller chunks also stay in cache: measured faster than one call)."""
    itemsize = 4 if param.precision == "single" else 8
    per_instance = 0
    for m in range(1, model.LC + 1):
        d, d_next = model.ch_input[m], model.ch_input[m + 1]
        conv = model.ht_conv[m] * model.wd_conv[m]
        per_instance += d * model.ht_pad[m] * model.wd_pad[m]            # padded input
        per_instance += model.wd_filter[m] ** 2 * d * conv               # phiZ
        per_instance += 2 * d_next * conv                                 # S, sigma(S)
    per_instance = 3 * itemsize * max(per_instance, 1)
    return max(1, min(l, _MEMORY_TARGET // per_instance))
