"""Training parity: the same training run on both sides, compared per
iteration (Newton) or per epoch (SGD, Adam).

    result = compare_train(matlab_dir, config, data, options, seed)
    result.passed, result.rows, result.to_json()

1. Inputs: the config is read and the data loaded (and cut to the first
   ``instances``) once (:func:`~.python_side.load_inputs`); both sides get
   the same ``y`` and ``Z`` (the MATLAB side from a .mat file written here).
   The tree's layout is read from its ``function`` lines: the current
   layout, or the seed layout (2019, ``cnn_train(y, Z, config_file,
   options, seed)``), whose labels must be 1..nL (other label values are
   mapped to their rank, on both sides, and a note says so).
2. Python side (:mod:`.python_side`): the port's ``cnn_train``, or for a
   seed tree the seed's training assembled from the port's routines
   (:mod:`.seed_layout`), on a recording stream seeded with ``seed``.
3. MATLAB side (:mod:`.matlab_side`): the tree's own ``cnn_train`` under
   Octave on a copy whose progress lines are repeated at full precision,
   with the Python side's draws replayed (:mod:`.replay`); with
   ``perturbation``, once more with the weights' draws moved by a few ulps
   (the original's own floor).
4. Verdict (:mod:`.verdict`): per row, the relative error of f (Newton) or
   loss/batch_size (SGD, Adam) must be <= max(``tol``, 10 x floor) and, for
   Newton, the CG step counts equal; both sides must run the same number of
   rows, print the same words, and the MATLAB side must consume exactly
   the draws the Python side made.  Reports: :mod:`.train_page`.

Errors: bad input -> ``InputError``; no Octave, an Octave error or a timeout
-> ``EnvironmentProblem``; the two sides drawing differently ->
``ReplayDivergence`` (a ``ParityFailure``), caught here and reported as a
failed comparison.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from simplecnn_py.support.errors import EnvironmentProblem, InputError

from .. import embedded
from ..judge.metrics import compare_arrays
from ..octave.session import INSTALL_HINT, find_octave
from .matlab_side import check_tree, cnn_train_call, flat_weights, run_matlab  # noqa: F401 (public API)
from .printed import (FULL, compare_text, full_lines, instrument_progress, parse_progress,  # noqa: F401
                      progress_lines, widen_progress_formats)
from .python_side import SOLVERS, load_inputs, run_python, solver_of  # noqa: F401
from .replay import ReplayDivergence
from .seed_layout import labels_as_ranks, seed_training, steps
from .train_page import default_progress, format_table, summary, write_html  # noqa: F401
from .verdict import FLOOR_FACTOR, Side, TrainComparison, compare_rows, rel_err  # noqa: F401

DEFAULT_MATLAB_DIR = embedded.CURRENT_TREE
NEWTON_FIELDS = ("f", "gnorm", "alpha", "ratio", "lambda", "cg", "actred", "prered")
PERTURBATION = 2.0 ** -50     # relative move of the replayed randn values in the floor run (a few ulps)


def planned_steps(options, matlab_dir=None) -> tuple[int, str]:
    """``(count, 'iter' | 'epoch')``: what the Python side will run (for a
    progress bar), by the tree's layout and options."""
    layout, _ = check_tree(Path(matlab_dir) if matlab_dir else DEFAULT_MATLAB_DIR)
    profile = seed_training(layout)
    if profile is not None:
        return steps(options, profile)
    from simplecnn_py.opt.parse_options import parse_options

    param = parse_options(options)
    return (param.iter_max, "iter") if param.solver == 1 else (param.epoch_max, "epoch")


def rank_labels(y, nL):
    """Labels for a tree whose check_data takes 1..nL only (2019 and 2020
    to January): ``y`` as is when it is 1..nL, else each label's rank in
    the sorted label set, and a note (the port maps labels the same way)."""
    values = np.unique(y)
    if values.size == nL and np.array_equal(values, np.arange(1, nL + 1)):
        return y, None
    if values.size != nL:
        raise InputError("--data", f"y has {values.size} distinct labels but the config's last layer has "
                                   f"nL = {nL} outputs (the tree's check_data needs every label)")
    shown = ", ".join(f"{v:g}" for v in values[:12])
    return (np.searchsorted(values, y) + 1).astype(np.float64), (
        f"labels {shown} given to both sides as 1..{nL} (the tree's check_data takes 1..nL only)")


def compare_train(matlab_dir=None, config=None, data=None, options="", seed=0, instances=None,
                  timeout=600, tol=1e-9, rowmajor=False, normalize=False, progress=None,
                  strict_replay=True, keep_dir=None, validation=None, validation_instances=None,
                  perturbation=PERTURBATION, floor_factor=FLOOR_FACTOR, on_step=None) -> TrainComparison:
    """Train on both sides and compare (see the module docstring)."""
    matlab_dir = Path(matlab_dir) if matlab_dir else DEFAULT_MATLAB_DIR
    if config is None or data is None:
        raise InputError("compare-train", "--config and --data are required")
    if not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError("--seed", f"must be an integer in [0, 2^32), not {seed}")
    layout, sig = check_tree(matlab_dir)
    profile = seed_training(layout)
    solver = solver_of(options, profile)
    config = Path(config)
    if not config.is_file():
        raise InputError(config, "no such file")
    net_config, y, Z, mean = load_inputs(config, data, instances, rowmajor, normalize)
    notes = []
    y_v = Z_v = None
    if profile is not None and layout.name != "seed":
        notes.append("gradient routines of the current layout, training code of the seed layout "
                     "(cnn_train without a validation set, -SR)")
    label_set = None
    if labels_as_ranks(layout):
        label_set = np.unique(y)
        y, note = rank_labels(y, int(net_config.full_neurons[int(net_config.LF)]))
        notes += [note] if note else []
    if profile is not None and validation:
        raise InputError("--validation", "this tree's cnn_train (seed layout) takes no validation set")
    if validation:
        _, y_v, Z_v, _ = load_inputs(config, validation, validation_instances, rowmajor, normalize, mean)
        if label_set is not None:
            y_v = (np.searchsorted(label_set, y_v) + 1).astype(np.float64)
    exe = find_octave()                # no Octave: say so before the Python side trains
    if shutil.which(exe) is None:
        raise EnvironmentProblem(f"cannot start GNU Octave ({exe}): no such program; {INSTALL_HINT}")

    py, stream = run_python(y, Z, config, options, seed, progress, y_v, Z_v, on_step, profile)
    result = TrainComparison(solver, tol, py, Side("matlab"), "seed" if profile else layout.name,
                             str(matlab_dir), options,
                             int(seed), int(y.size), perturbation=perturbation, floor_factor=floor_factor,
                             validation=0 if y_v is None else int(y_v.size), notes=notes)
    tmp = keep_dir or tempfile.mkdtemp(prefix="simplecnn-train-")
    try:
        try:
            ml, extra = run_matlab(layout, sig, y, Z, config, options, seed, stream, tmp, timeout,
                                   progress, strict_replay, y_v, Z_v, perturbation, solver)
        except ReplayDivergence as e:
            result.problems.append(str(e))
            result.first_divergence = {"k": None, "what": str(e)}
            result.matlab.lines = []
            return result
        result.matlab = ml
        result.perturbed = extra["perturbed"]
        counts = stream.counts()
        status = extra["status"] or {}
        for kind, (draws, values) in counts.items():
            used = status.get(kind, (0, 0, 0, 0))
            result.replay[kind] = {"python_draws": draws, "matlab_draws": used[0],
                                   "python_values": values, "matlab_values": used[2]}
            if used[0] != draws:
                result.problems.append(f"replayed randomness: the MATLAB side used {used[0]} of the Python "
                                       f"side's {draws} {kind} draws (the two sides draw differently)")
        if ml.min_digits is not None and ml.min_digits < 12:
            result.problems.append(f"the MATLAB side printed its values with only {ml.min_digits} significant "
                                   "digits (its progress lines could not be instrumented), too few to check")
        rows, problems, first = compare_rows(py, ml, solver, tol, result.perturbed, floor_factor)
        result.rows = rows
        result.problems += problems
        result.text = compare_text(py.lines, ml.lines)
        if result.text["structure"]:
            result.problems.append(f"printed lines differ in words or number: first at line "
                                   f"{result.text['first']['line']}: Python {result.text['first']['python']!r}"
                                   f", MATLAB {result.text['first']['matlab']!r}")
        result.first_divergence = first if first is not None else (
            {"k": None, "what": result.problems[0]} if result.problems else None)
        if py.weights is not None and ml.weights is not None and py.weights.size == ml.weights.size:
            result.weights_rel_err = compare_arrays(py.weights, ml.weights, "double", tol)["rel_err"]
    finally:
        if keep_dir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


