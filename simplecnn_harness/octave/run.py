"""Running a prepared MATLAB tree (``prepare.py``) in an Octave session.

:func:`execute` puts the copy's folders on Octave's path, calls
``octave/simplecnn_drive__.m`` on the prepared inputs (it calls the tree's
own ``init_net`` and ``lossgrad_subset``; the recorder writes every value
to raw binary files) and reads the records back (``records.py``) into a
:class:`MatlabRun`.  An error of the user's code becomes
:class:`MatlabCodeError`, one line naming the user's file and line.
:func:`run_matlab` is both steps at once.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .instrument import Stmt
from .layouts import Layout
from .prepare import ORIG, PreparedRun, prepare_run
from .quoting import quote
from .records import Record, read_error, read_records
from .session import OctaveError, OctaveSession


@dataclass
class MatlabRun:
    layout: Layout
    instrumented: bool
    stmts: dict[int, Stmt]
    records: list[Record]
    outputs: dict[tuple[str, int], Record]
    octave_seconds: float          # lossgrad_subset's own time, measured in Octave
    timings: dict = field(default_factory=dict)

    def output(self, name, layer=0):
        r = self.outputs.get((name, int(layer)))
        return None if r is None else r.value()

    def stmt_records(self):
        """(Record, Stmt) of the instrumented statements, in execution order."""
        return [(r, self.stmts[r.stmt_id]) for r in self.records
                if r.stmt_id is not None and r.stmt_id in self.stmts]


class MatlabCodeError(OctaveError):
    """The user's MATLAB code failed under Octave (exit 2, one line)."""


def path_code(prepared: PreparedRun) -> str:
    """The Octave list of the copy's folders, as ``addpath`` takes them."""
    return ", ".join(f"'{quote(d)}'" for d in prepared.dirs)


def execute(session: OctaveSession, prepared: PreparedRun, timeout: float | None = None,
            only=None, again: bool = False) -> MatlabRun:
    """Run ``prepared`` in ``session`` and read its records.  ``only``: the
    keys (``Record.key``) of the records whose values are wanted; the others
    are recorded by class and size (None: every value, as instrumented).
    ``again``: the same copy of the tree ran last in this session (a streamed
    compare's next chunk), so its functions need not be cleared."""
    layout, code_dir, out_dir = prepared.layout, prepared.code_dir, prepared.out_dir
    t1 = time.perf_counter()
    paths = path_code(prepared)
    # forget the functions of a tree run before in this session
    forget = "clear functions; " if not again and session.tree_started() else ""
    keep = ""
    if only is not None:
        keep = "simplecnn_rec__('only', {" + ", ".join(f"'{quote(k)}'" for k in sorted(only)) + "}); "
    try:
        session.eval(f"{forget}addpath({paths}); cd('{quote(code_dir)}'); {keep}"
                     f"simplecnn_drive__('{quote(prepared.in_file)}', '{quote(out_dir)}'); cd(tempdir);",
                     timeout=timeout)
    finally:
        if session.alive():
            session.eval(f"cd(tempdir); rmpath({paths});" + (" simplecnn_rec__('only', {});" if keep else ""),
                         timeout=60)
    t2 = time.perf_counter()
    err = read_error(out_dir)
    if err is not None:
        raise _code_error(layout, code_dir, err, prepared.origins,
                          explain=original_fails(prepared.model, prepared.instances) if prepared.model else "")
    records = read_records(out_dir)
    outputs = {}
    for r in records:
        if r.stmt_id is None:
            outputs[(r.name.replace("net.", ""), int(r.layer))] = r
    seconds_rec = outputs.get(("seconds", 0))
    each = [float(x) for x in seconds_rec.value().reshape(-1)] if seconds_rec is not None else [float("nan")]
    octave_seconds = min(each)
    t3 = time.perf_counter()
    run = MatlabRun(layout, prepared.instrumented, prepared.stmts, records, outputs, octave_seconds)
    run.timings = {"prepare_s": prepared.seconds, "octave_call_s": t2 - t1, "read_s": t3 - t2,
                   "octave_lossgrad_s": octave_seconds, "octave_lossgrad_each_s": each,
                   "recorded_bytes": int(sum(r.nbytes for r in records))}
    return run


def run_matlab(session: OctaveSession, layout: Layout, param, model, prob, precision: str,
               workdir: Path, instrument: bool = True, want_phiZ: bool | None = None,
               timeout: float | None = None, tag: str = "run", repeats: int = 1) -> MatlabRun:
    """Prepare and execute: the tree's ``lossgrad_subset`` on ``prob`` (all its
    instances) under Octave (``repeats`` times, each timed:
    ``MatlabRun.timings['octave_lossgrad_each_s']``)."""
    prepared = prepare_run(layout, param, model, prob, precision, workdir, instrument, want_phiZ, tag, repeats)
    return execute(session, prepared, timeout)


def original_fails(model, n) -> str:
    """What ``compare`` adds to an Octave error when the original simpleNN
    itself cannot run this network on ``n`` instances ('' otherwise)."""
    from simplecnn_py.support.quirks import explain_octave_error

    return explain_octave_error(model, n)


def _code_error(layout: Layout, code_dir: Path, err, origins: dict | None = None,
                explain: str = "") -> MatlabCodeError:
    """One line: Octave's message and the USER's file, line and function (the
    temporary copy's files mapped back through ``origins``; the harness's
    wrappers skipped); then ``explain`` (a known failure of the original on
    this network)."""
    step, message, stack = err
    where = f"{step}"
    origins = origins or {}
    for entry in stack:
        f, name, line = (list(entry) + ["", "", ""])[:3]
        if not (f and f.startswith(str(code_dir))):
            continue
        if f in origins and origins[f] is None:
            continue                                   # a boundary wrapper
        user, shift = origins.get(f) or (layout.root / Path(f).relative_to(code_dir), 0)
        try:
            line = int(line) + shift
        except (TypeError, ValueError):
            pass
        name = (name or "").replace(ORIG, "")
        where = f"{user} line {line} ({name})"
        break
    else:
        for entry in stack:
            f, name, line = (list(entry) + ["", "", ""])[:3]
            if name and not name.startswith("simplecnn_"):
                where = f"{name.replace(ORIG, '')} line {line} (called from {step})"
                break
    message = (message or "unknown error").replace(ORIG, "")
    if code_dir is not None:
        message = message.replace(str(code_dir) + "/", "")
    return MatlabCodeError(f"Octave error in {where}: {message}{explain}", stack)


def time_tree(directory, param, model, prob, precision: str = "double", repeats: int = 1,
              timeout: float | None = 600.0, workdir=None) -> list[float]:
    """Seconds of each of ``repeats`` calls of the tree's own ``lossgrad_subset``
    (task: its gradient task) on ``prob``, under one Octave, the code copied
    uninstrumented: any tree ``simplecnn compare`` drives (``simplecnn
    bench --matlab-dir``)."""
    import tempfile

    from .layouts import detect_layout

    layout = detect_layout(directory)
    with tempfile.TemporaryDirectory(prefix="simplecnn-time-", dir=workdir) as work, \
            OctaveSession(timeout=timeout) as octave:
        run = run_matlab(octave, layout, param, model, prob, precision, Path(work), instrument=False,
                         want_phiZ=False, timeout=timeout, tag="time", repeats=repeats)
    return run.timings["octave_lossgrad_each_s"]
