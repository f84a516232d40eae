"""``simplecnn sweep --train OPTIONS``: compare-train on every version of a
simpleNN repository's MATLAB code, naming the commits where a training
verdict changes.

The commits are enumerated, extracted and tabulated by
:mod:`simplecnn_harness.sweep` (``open_repo``, ``matlab_commits``,
``extract``, ``verdict_changes`` and its writers); each cell here is one
:func:`~simplecnn_harness.training.compare_train.compare_train` of that
commit's tree (seed or current layout, read from its function lines) on
the same config, data, options and seed.  A column per options string.
A verdict is ``PASS``, ``FAIL at iteration k`` / ``FAIL at epoch k`` (the
first divergence), or ``ERROR`` (the tree could not be driven with these
options, e.g. an option the version does not take, with the one-line
reason).
"""
from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

from simplecnn_py.support.errors import EnvironmentProblem, InputError

from ..reports import progress as live_progress
from ..sweep import Cell, SweepResult, extract, matlab_commits, open_repo, verdict_changes


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

    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f"simplecnn-train-sweep-{sha[:7]}-"))
    try:
        tree = extract(Path(git_dir), sha, tmp / "tree")
        try:
            r = compare_train(tree, options=options, **train_opts)
        except (InputError, EnvironmentProblem) as e:
            return asdict(TrainCell("error", None, _one_line(e, tmp), seconds=time.perf_counter() - t0))
        errs = [row["rel_err"] for row in r.rows if row.get("rel_err") is not None]
        return asdict(TrainCell("pass" if r.passed else "fail", r.first_divergence, "", r.layout,
                                time.perf_counter() - t0, len(r.rows), 0, unit_of(r.solver), len(r.rows),
                                max(errs) if errs else None))
    except (InputError, EnvironmentProblem) as e:
        return asdict(TrainCell("error", None, _one_line(e, tmp), seconds=time.perf_counter() - t0))
    except Exception as e:                                   # noqa: BLE001 - reported per commit
        return asdict(TrainCell("error", None, f"internal error: {type(e).__name__}: {_one_line(e, tmp)}",
                                seconds=time.perf_counter() - t0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _one_line(e, tmp) -> str:
    text = " ".join(str(e).split())
    return text.replace(str(tmp / "tree") + "/", "").replace(str(tmp / "tree"), ".")


def run_train_sweep(repo, options_list, config, data, seed=0, instances=None, jobs=1, rev="HEAD",
                    only=None, timeout=600, floor=False, progress=None, rowmajor=False,
                    normalize=False, tol=1e-9) -> SweepResult:
    """compare-train on every commit of ``repo`` that changes MATLAB code
    (``only``: a subset, by short or full hash), once per options string."""
    t0 = time.perf_counter()
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
    with tempfile.TemporaryDirectory(prefix="simplecnn-train-sweep-") as work:
        git_dir = open_repo(repo, Path(work))
        commits = matlab_commits(git_dir, rev)
        if only:
            commits = [c for c in commits if any(c.sha.startswith(o) for o in only)]
        if not commits:
            raise InputError(str(repo), "no commit changes a .m file")
        result = SweepResult(str(repo), [f"train {o}" for o in options_list], commits)
        tasks = [(c, k) for c in commits for k in range(len(options_list))]
        done = live_progress.bar(total=len(tasks), desc="compare-trains", unit="run")   # on a terminal only
        if jobs == 1:
            for c, k in tasks:
                result.cells[(c.sha, k)] = TrainCell(**_one_train(str(git_dir), c.sha, options_list[k],
                                                                  train_opts))
                _tell(progress, result, c, k, done)
        else:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as ex:
                futs = {ex.submit(_one_train, str(git_dir), c.sha, options_list[k], train_opts): (c, k)
                        for c, k in tasks}
                for f in as_completed(futs):
                    c, k = futs[f]
                    try:
                        result.cells[(c.sha, k)] = TrainCell(**f.result())
                    except Exception as e:                   # noqa: BLE001 - a worker died
                        result.cells[(c.sha, k)] = TrainCell("error", None, f"the worker failed: {e}")
                    _tell(progress, result, c, k, done)
        if done is not None:
            done.close()
    result.changes = verdict_changes(result)
    result.seconds = time.perf_counter() - t0
    return result


def _tell(progress, result, c, k, done=None):
    if done is not None:
        done.update(1)
    if progress:
        cell = result.cells[(c.sha, k)]
        progress(f"sweep: {c.short} {c.date} [{result.configs[k]}] {cell.label()} ({cell.seconds:.1f} s)"
                 + (f": {cell.message}" if cell.message else ""))
