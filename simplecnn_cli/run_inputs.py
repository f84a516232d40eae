"""The inputs of one run of a MATLAB tree beside the port, shared by
``simplecnn compare`` and ``simplecnn record``: the same arguments, the same
help, and the same checks before any work starts (one line, exit 2)."""
from __future__ import annotations


def add_arguments(p, *, trace_defaults=False):
    """``--matlab-dir``, ``--config``, ``--data``, ``--weights``, ``--instances``,
    ``--precision``, ``--seed``, ``--timeout``.  ``trace_defaults``: precision
    and seed default to None, for a trace's values to fill them."""
    or_trace = ", or the trace's" if trace_defaults else ""
    p.add_argument("--matlab-dir", metavar="DIR",
                   help="simpleNN MATLAB tree (DIR or DIR/MATLAB; default: the embedded matlab_ref/seed)")
    p.add_argument("--config", metavar="CFG", help="simpleNN config file (default: the bundled "
                                                   "4-layer MNIST demo config)")
    p.add_argument("--data", metavar="DATA.mat", help="simpleNN data file, used as it is (y, Z); "
                                                      "default: seeded random images")
    p.add_argument("--weights", metavar="W.mat", help="weight and bias, L x 1 cells (default: He init from --seed)")
    p.add_argument("--instances", type=int, metavar="N",
                   help="use the first N instances (default: all of --data, or 64 generated)")
    p.add_argument("--precision", choices=("double", "single"), default=None if trace_defaults else "double",
                   help=f"working precision of both sides (default double{or_trace})")
    p.add_argument("--seed", type=int, default=None if trace_defaults else 0,
                   help=f"seed of the He init and of generated data (default 0{or_trace})")
    p.add_argument("--timeout", type=float, default=600.0, metavar="SEC",
                   help="stop Octave after SEC seconds (default 600)")


def check(args):
    """InputError (one line, exit 2) for a value no run can take."""
    from simplecnn_py.support.errors import InputError

    if args.seed is not None and args.seed < 0:
        raise InputError("--seed", f"must be >= 0, not {args.seed}")
    if args.timeout is not None and args.timeout <= 0:
        raise InputError("--timeout", f"must be a positive number of seconds, not {args.timeout:g}")
    if args.instances is not None and args.instances < 1:
        raise InputError("--instances", f"must be a positive number, not {args.instances}")
