"""``simplecnn bench``: how fast the port is, against Octave, PyTorch and the GEMM bound.

    simplecnn bench [--config CFG] [--instances 256 1024] [--precision double single]
                    [--repeats 3] [--matlab-dir DIR] [--data DATA.mat] [--skip WHAT,...]
                    [--json FILE]

In one run, for every precision and instance count (default: the 1-32-64-64
MNIST shape, 256 and 1024 instances, double and single), it times

* ``ours``: ``lossgrad_subset(..., 'fungrad')`` on the fast path (the
  default) and on the reference path (``fast.use_reference()``, one run),
  and ``fungrad_minibatch`` with ``bsize`` chunks;
* ``gradient``: the whole ``simplecnn gradient`` process (a subprocess: Python
  start-up, imports, reading the config and the data file, the work, writing
  OUT.mat), wall time;
* ``octave``: the original-style MATLAB code (``matlab_ref/seed`` unless
  ``--matlab-dir``) under ``octave-cli``: a driver loads the same inputs,
  calls the tree's ``init_net`` and ``lossgrad_subset``, and times the call
  with tic/toc after a warm-up; the whole Octave process is timed too;
* ``torch``: PyTorch on the CPU (when installed; 2 threads) for the same
  network, weights and data: conv2d with the same padding and stride, ReLU,
  max-pool, linear, squared loss summed, backward to the weight gradients;
* ``gemm``: the GEMM bound, i.e. the port's matrix products alone (forward
  W*phiZ, backward dXidS*phiZ' and W'*dXidS for m > 1, the fully-connected
  products) timed by numpy at their own shapes on the whole batch; and the
  same flop count divided by numpy's rate on a large square product;
* when the Newton routines exist: one Gauss-Newton product (``JTBJv`` with
  its ``Jacobian``, ``R_JTBJv``) on a subset, and one Newton iteration
  (``cnn_train -s 1 -iter_max 1``) here and under Octave's current-layout
  tree (``matlab_ref/current``).

Each time is the median of ``--repeats`` runs after a warm-up; the machine is
noisy, so the ratios of one run are what count.  Peak memory: the bytes
numpy allocates during one call above what was allocated before it
(``tracemalloc``, which numpy reports its buffers to), beside the bytes of
the ``Z`` and ``phiZ`` the call keeps; for processes, their maximum resident
set (VmHWM).  Every foreign result is checked against ours (relative
error of the loss and gradients) so the table compares the same work.
"""
from __future__ import annotations

import sys

ITEMS = ("ours", "reference", "minibatch", "memory", "gradient", "octave", "torch", "gemm", "newton")


def add_parser(sub):
    p = sub.add_parser(
        "bench", help="time the port against Octave, PyTorch and the GEMM bound",
        description="Time lossgrad_subset, fungrad_minibatch, the simplecnn gradient process, the "
                    "MATLAB code under Octave, PyTorch, and the GEMM bound; print a table, write JSON.")
    p.add_argument("--config", metavar="CFG", help="simpleNN config (default: the 1-32-64-64 MNIST shape)")
    p.add_argument("--instances", type=int, nargs="+", default=[256, 1024], metavar="N",
                   help="instance counts (default: 256 1024)")
    p.add_argument("--precision", nargs="+", choices=("double", "single"), default=["double", "single"])
    p.add_argument("--repeats", type=int, default=3, help="timed runs after the warm-up (median; default 3)")
    p.add_argument("--matlab-dir", metavar="DIR",
                   help="MATLAB tree run under Octave (default: matlab_ref/seed)")
    p.add_argument("--data", metavar="DATA.mat",
                   help="simpleNN data file (default: ../shared/data/mnist-demo.mat when the config is "
                        "28x28x1 with 10 classes, else random data)")
    p.add_argument("--rowmajor", action="store_true", help="images in --data are stored row-major")
    p.add_argument("--skip", default="", metavar="WHAT,...",
                   help=f"measurements to leave out, among {','.join(ITEMS)}")
    p.add_argument("--json", metavar="FILE", help="write every measurement as JSON")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights (default 0)")
    p.add_argument("--octave-timeout", type=float, default=600, help="seconds per Octave run (default 600)")
    return p


def run(args) -> int:
    from simplecnn_cli import bench_impl

    return bench_impl.run(args)


def main(argv=None) -> int:
    from simplecnn_cli.main import main as cli_main

    return cli_main(["bench"] + list(sys.argv[1:] if argv is None else argv))
