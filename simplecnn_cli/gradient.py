"""``simplecnn gradient``: loss and gradient of one network on a data file.

    simplecnn gradient --config CFG --data DATA.mat [--weights W.mat]
                       [--precision double|single] [--seed S] [--rowmajor]
                       [--bsize N] [--strict] --out OUT.mat

MATLAB equivalent (seed layout)::

    param = read_config(CFG); load(DATA)            % y, Z
    prob = check_data(prob, param); model = init_model(param);
    model.weight = W.weight; model.bias = W.bias;   % when --weights is given
    net = init_net(param, model);
    [net, loss] = lossgrad_subset(prob, param, model, net, 1:prob.l, 'fungrad');
    dlossdW = net.dlossdW; dlossdb = net.dlossdb; save OUT.mat loss dlossdW dlossdb

``loss`` is the batch loss of ``lossgrad_subset`` over all instances (no
regularisation, no division by l), ``dlossdW``/``dlossdb`` its gradients.
On the fast path one call takes all instances: it keeps only a few MiB of
intermediates per thread whatever the batch (docs/performance.md).  On the
reference path (``SIMPLECNN_REFERENCE=1``), when all instances would need more
than about 512 MiB of intermediates, the work is split into consecutive chunks
of instances, and losses and gradients are summed, as ``fungrad_minibatch``
sums its batches; the sum differs from one call only by rounding.  ``--bsize``
sets the chunk on either path.  The work is ``simplecnn_py/support/lossgrad_all.py``, the
workflow (read, compute, write) ``simplecnn_harness/workflows/gradient.py``; this
module parses the arguments.
"""
from __future__ import annotations

from simplecnn_cli import args as shared


def add_parser(sub):
    p = sub.add_parser(
        "gradient", help="loss and gradient of lossgrad_subset on a data file",
        description="Loss and gradient (lossgrad_subset over all instances) of the network of a "
                    "simpleNN config on a simpleNN data file; writes loss, dlossdW, dlossdb to a MAT file.")
    shared.config(p, required=True, help="simpleNN config file (name = value; lines)")
    shared.data(p, required=True)
    shared.weights(p)
    shared.precision(p)
    shared.seed(p)
    shared.rowmajor(p)
    p.add_argument("--bsize", type=int, default=None, metavar="N",
                   help="instances per lossgrad_subset call (default: all; on the reference path, chunks of "
                        "about 512 MiB of intermediates)")
    shared.output(p, "--out", "OUT.mat", "output MAT file (loss, dlossdW, dlossdb)", required=True)
    shared.quiet(p, help="accepted for symmetry with the other commands (gradient draws no progress)")
    shared.strict(p)
    return p


def run(args) -> int:
    from simplecnn_harness.workflows.gradient import gradient

    return gradient(args.config, args.data, args.out, weights=args.weights, precision=args.precision,
                    seed=args.seed, rowmajor=args.rowmajor, bsize=args.bsize, strict=args.strict)
