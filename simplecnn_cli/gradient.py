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
sets the chunk on either path.  The work is ``simplecnn_py/support/lossgrad_all.py``; this
module parses the arguments, reads and writes the files.
"""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "gradient", help="loss and gradient of lossgrad_subset on a data file",
        description="Loss and gradient (lossgrad_subset over all instances) of the network of a "
                    "simpleNN config on a simpleNN data file; writes loss, dlossdW, dlossdb to a MAT file.")
    p.add_argument("--config", required=True, metavar="CFG", help="simpleNN config file (name = value; lines)")
    p.add_argument("--data", required=True, metavar="DATA.mat", help="MAT file with y (l x 1) and Z (l x a*b*d)")
    p.add_argument("--weights", metavar="W.mat",
                   help="MAT file with weight and bias, L x 1 cells (default: He init from --seed)")
    p.add_argument("--precision", choices=("double", "single"), default="double",
                   help="floating-point precision, end to end (default double)")
    p.add_argument("--seed", type=int, default=0, help="seed of the He initialisation without --weights (default 0)")
    p.add_argument("--rowmajor", action="store_true",
                   help="images in Z are stored row-major (the shipped MNIST demo files)")
    p.add_argument("--bsize", type=int, default=None, metavar="N",
                   help="instances per lossgrad_subset call (default: all; on the reference path, chunks of "
                        "about 512 MiB of intermediates)")
    p.add_argument("--out", required=True, metavar="OUT.mat", help="output MAT file (loss, dlossdW, dlossdb)")
    p.add_argument("--strict", action="store_true",
                   help="refuse (exit 2) a network the original simpleNN cannot run, instead of a warning "
                        "(docs/migration-guide.md, quirks)")
    return p


def run(args) -> int:
    import warnings

    from simplecnn_py.support.errors import InputError
    from simplecnn_py.cnn.read_config import read_config

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        param = read_config(args.config)
    for w in caught:
        print(f"simplecnn: warning: {w.message}", file=_stderr())
    param.precision = args.precision
    if args.bsize is not None and args.bsize < 1:
        raise InputError("--bsize", f"must be a positive number of instances, not {args.bsize}")

    from simplecnn_py.cnn.check_data import check_data
    from simplecnn_py.support.datafile import load_data, load_weights, save_gradient
    from simplecnn_py.cnn.init_model import init_model
    from simplecnn_py.support import quirks
    from simplecnn_py.support.finite import finite_lossgrad_all

    prob = load_data(args.data, param, rowmajor=args.rowmajor)
    prob = check_data(prob, param, where=args.data)
    if args.weights:                    # He init's draws would be replaced at once
        from simplecnn_py.support.rng import NoDraws

        model = init_model(param, seed=NoDraws())
    else:
        model = init_model(param, seed=args.seed)
    if args.weights:
        weight, bias = load_weights(args.weights, param)
        for m in range(1, model.L + 1):
            model.weight[m] = weight[m].astype(model.weight[m].dtype, order="F")
            model.bias[m] = bias[m].astype(model.bias[m].dtype, order="F")

    batch = min(prob.l, args.bsize or prob.l)               # instances per lossgrad_subset call
    quirks.say(quirks.original_vtp_failure(model, batch), args.strict, args.config,
               note="these numbers are the mathematically right ones")
    try:
        loss, dlossdW, dlossdb = finite_lossgrad_all(prob, param, model, args.bsize, args.weights or args.data)
    except MemoryError:
        raise InputError(args.config, "the network needs more memory than this machine has "
                                      "(try a smaller --bsize)") from None
    _check_writable(args.out)
    try:
        save_gradient(args.out, loss, dlossdW, dlossdb)
    except OSError as e:
        raise InputError(args.out, f"cannot write: {e.strerror or e}") from None
    print(f"simplecnn gradient: l = {prob.l}, loss = {float(loss):.17g} ({param.precision}), wrote {args.out}")
    return 0


def _check_writable(out):
    import os

    from simplecnn_py.support.errors import InputError

    folder = os.path.dirname(os.path.abspath(out))
    if os.path.isdir(out):
        raise InputError(out, "is a directory; --out names the MAT file to write")
    if not os.path.isdir(folder):
        raise InputError(out, f"cannot write: folder {folder} does not exist")


def _stderr():
    import sys

    return sys.stderr
