"""Benchmarks of the port (``simplecnn bench``, ``scripts/bench.py``, ``scripts/bench_newton.py``).

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
  tree (``matlab_ref/current``);
* ``compare``: a whole ``simplecnn compare`` process against the same tree,
  its wall time and the peak memory of its process tree (Python and Octave
  summed) against the bare runs (the ``octave`` and ``ours`` rows).

Each time is the median of ``--repeats`` runs after a warm-up; the machine is
noisy, so the ratios of one run are what count.  Peak memory: the bytes
numpy allocates during one call above what was allocated before it
(``tracemalloc``, which numpy reports its buffers to), beside the bytes of
the ``Z`` and ``phiZ`` the call keeps; for processes, their maximum resident
set (VmHWM).  Every foreign result is checked against ours (relative
error of the loss and gradients) so the table compares the same work.

Modules: ``run`` (the whole run, called by ``simplecnn bench``), ``data``
(the inputs), ``ours`` (the port and the ``simplecnn gradient`` process),
``octave`` (a MATLAB tree under Octave, any layout), ``torch_side``
(PyTorch), ``gemm`` (the products-only bound), ``newton`` (one Newton
iteration, both sides), ``compare_row`` (a whole compare process), ``table``
(what is printed), ``common`` (timing).
"""

ITEMS = ("ours", "reference", "minibatch", "memory", "gradient", "octave", "torch", "gemm", "newton",
         "compare")
