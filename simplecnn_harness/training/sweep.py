"""``simplecnn sweep --train OPTIONS``: compare-train on every version of a
simpleNN repository's MATLAB code, naming the commits where a training
verdict changes.

The commits are enumerated, extracted, run ``jobs`` at a time and
tabulated by :func:`simplecnn_harness.sweep.run_sweep` (with this module's
job and cell type) and its writers; each cell here is one
:func:`~simplecnn_harness.training.compare_train.compare_train` of that
commit's tree (seed or current layout, read from its function lines) on
the same config, data, options and seed.  A column per options string.
A verdict is ``PASS``, ``FAIL at iteration k`` / ``FAIL at epoch k`` (the
first divergence), or ``ERROR`` (the tree could not be driven with these
options, e.g. an option the version does not take, with the one-line
reason).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simplecnn_py.support.errors import InputError

from ..sweep import Cell, SweepResult, on_commit, run_sweep


@dataclass
class TrainCell(Cell):
    """The training verdict of one commit under one options string."""
    unit: str = "iteration"
    rows: int = 0
    max_rel_err: float | None = None

    def label(self) -> str:
        if self.verdict == "fail":
            k = (self.first_divergence or {}).get("k")
            return f"FAIL at {self.unit} {k}" if k is not None else "FAIL"
        return super().label()


def _one_train(git_dir: str, sha: str, options: str, train_opts: dict) -> dict:
    """compare-train on one commit (runs in a worker process)."""
    from .compare_train import compare_train
    from .verdict import unit_of

    def check(tree):
        r = compare_train(tree, options=options, **train_opts)
        errs = [row["rel_err"] for row in r.rows if row.get("rel_err") is not None]
        return TrainCell("pass" if r.passed else "fail", r.first_divergence, "", r.layout, 0.0,
                         len(r.rows), 0, unit_of(r.solver), len(r.rows), max(errs) if errs else None)

    return on_commit(git_dir, sha, check, TrainCell, prefix="simplecnn-train-sweep")


def run_train_sweep(repo, options_list, config, data, seed=0, instances=None, jobs=1, rev="HEAD",
                    only=None, timeout=600, floor=False, progress=None, rowmajor=False,
                    normalize=False, tol=1e-9) -> SweepResult:
    """compare-train on every commit of ``repo`` that changes MATLAB code
    (``only``: a subset, by short or full hash), once per options string."""
    options_list = [o for o in options_list if o is not None]
    if not options_list:
        raise InputError("--train", "give the training options, e.g. --train='-s 1 -iter_max 2'")
    if config is None or not Path(config).is_file():
        raise InputError(str(config) if config else "--config", "sweep --train needs one config file "
                                                                 "(--config CFG)")
    if data is None or not Path(data).is_file():
        raise InputError(str(data) if data else "--data", "no such data file")
    if jobs < 1:
        raise InputError("--jobs", f"must be at least 1, not {jobs}")
    from .compare_train import PERTURBATION

    train_opts = {"config": str(Path(config).resolve()), "data": str(Path(data).resolve()), "seed": seed,
                  "instances": instances, "timeout": timeout, "tol": tol, "rowmajor": rowmajor,
                  "normalize": normalize, "perturbation": PERTURBATION if floor else None}
    return run_sweep(repo, options_list, jobs=jobs, rev=rev, compare_opts=train_opts, progress=progress,
                     only=only, job=_one_train, cell_type=TrainCell, labels=[f"train {o}" for o in options_list])
