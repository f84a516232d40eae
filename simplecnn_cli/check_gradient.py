"""``simplecnn check-gradient``: a student's own gradient against the port's.

    simplecnn check-gradient --config CFG --data D.mat --weights W.mat --mine MINE.mat
                             [--rowmajor] [--rtol R]

MINE.mat holds ``dlossdW`` and ``dlossdb`` (L x 1 cells in MATLAB's shapes),
optionally ``loss`` and per-stage deltas (``dXidS``, ``pool_gradient``,
``WtDelta``, ``phi_gradient``, ``unpad``, ``activation``: L x 1 cells, empty
where not given).  The loss is simpleNN's, the sum of squared errors over all
instances of D.mat.  Exit 0: it matches; 1: it differs (the first differing
stage and the likely cause are printed); 2: bad input.  The work is
``simplecnn_harness.student.check_gradient``.
"""
from __future__ import annotations

from simplecnn_cli import args as shared


def add_parser(sub):
    p = sub.add_parser(
        "check-gradient", help="check your own dlossdW/dlossdb (and deltas) against the port's",
        description="Compare a student's gradient of simpleNN's loss (sum of squared errors over the "
                    "instances) with the port's, stage by stage, and name the first stage that differs "
                    "and the likely mistake.")
    shared.config(p, required=True)
    shared.data(p, required=True, metavar="D.mat")
    shared.weights(p, required=True, help="MAT file with weight and bias (L x 1 cells)")
    p.add_argument("--mine", required=True, metavar="MINE.mat",
                   help="your dlossdW, dlossdb (L x 1 cells), optionally loss and per-stage deltas")
    shared.rowmajor(p, help="images in Z are stored row-major")
    shared.tolerance(p, 1e-6, "relative tolerance ||yours - port|| / ||port|| per stage (default 1e-6)")
    shared.quiet(p, help="accepted for symmetry with the other commands (check-gradient draws no progress)")
    return p


def run(args) -> int:
    from simplecnn_harness.student.check_gradient import check_gradient_files

    verdict = check_gradient_files(args.config, args.data, args.weights, args.mine,
                                   rowmajor=args.rowmajor, rtol=args.rtol)
    print("\n".join(verdict.lines()))
    return 0 if verdict.ok else 1
