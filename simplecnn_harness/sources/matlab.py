"""A live MATLAB tree as a side of a comparison, run under GNU Octave.

Any simpleNN tree the harness can drive (``octave/layouts.py``): the
embedded ``matlab_ref/seed`` by default, a user's checkout, a commit of the
real code's history, or a second tree to judge against the first.  The tree
is copied, instrumented and run in one Octave session on the loaded inputs
(``octave/prepare.py``, ``octave/run.py``), and the records are mapped to
the canonical stages (``matlab_stages.py``).  The layout is detected and
Octave looked for when the source is made, before any work.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from pathlib import Path

from ..judge.stages import stage_sizes
from ..octave.layouts import detect_layout
from ..octave.prepare import prepare_run, scratch_dir
from ..octave.run import execute, run_matlab
from ..octave.session import OctaveSession, find_octave
from .base import SideRun, observer
from .matlab_stages import matlab_stages


class MatlabSource:
    origin = "Octave"

    def __init__(self, matlab_dir=None, timeout: float = 600.0, instrument: bool = True):
        from ..inputs import default_tree

        tree = Path(matlab_dir) if matlab_dir else default_tree()
        self.layout = detect_layout(tree)
        find_octave()                                   # fail early, before any work
        self.timeout, self.instrument = timeout, instrument
        self.layout_name, self.tree = self.layout.name, str(self.layout.root)

    def check(self, inputs) -> None:
        """Any loaded inputs run (the tree's own errors come from Octave, one line)."""

    @contextlib.contextmanager
    def execute(self, inputs, progress=None, command="compare", engine=False):
        """``(MatlabRun, timings, engine)`` of the tree on ``inputs``: the run's
        records live as long as the block; ``engine`` (asked for) is Octave's
        version, e.g. ``'Octave 7.3.0'``."""
        layout, say = self.layout, observer(progress)
        say(f"{command}: Octave, {layout.name} layout at {layout.root}"
            + (f", {int(inputs.prob.l)} instances" if engine else ""))
        with tempfile.TemporaryDirectory(prefix=f"simplecnn-{command}-", dir=scratch_dir()) as work:
            t0 = time.perf_counter()
            with OctaveSession(timeout=self.timeout, progress=say) as octave:
                started = time.perf_counter() - t0
                version = octave.eval("disp(OCTAVE_VERSION)")[-1].strip() if engine else ""
                run = run_matlab(octave, layout, inputs.param, inputs.model, inputs.prob, inputs.precision,
                                 Path(work), instrument=self.instrument, timeout=self.timeout)
            yield run, {"octave_start_s": started, **timings_of(run)}, f"Octave {version}"

    @contextlib.contextmanager
    def chunks(self, progress=None, command="compare"):
        """One Octave session for a streamed compare: yields ``run(inputs, k)``,
        a context manager per chunk ``k`` of instances yielding its ``SideRun``
        (the tree's ``lossgrad_subset`` on the chunk, in the same session); the
        chunk's copy and records are removed when its block ends.

        The tree is copied and instrumented for chunk 0 only.  From chunk 1
        on, Octave writes the values of the records the mapping to stages
        read on chunk 0 (``Record.was_read``) and only class and size of the
        others: about half the bytes.  A chunk whose stages then come out
        otherwise than chunk 0's (another path through the code) is run again
        with every value recorded."""
        layout, say = self.layout, observer(progress)
        say(f"{command}: Octave, {layout.name} layout at {layout.root}, streamed by instance chunks")
        with tempfile.TemporaryDirectory(prefix=f"simplecnn-{command}-", dir=scratch_dir()) as work:
            t0 = time.perf_counter()
            with OctaveSession(timeout=self.timeout, progress=say) as octave:
                started = time.perf_counter() - t0

                code = []                       # the copy of chunk 0, run again for the next chunks
                wanted = {}                     # what the judge reads of chunk 0: records, stages

                @contextlib.contextmanager
                def one(inputs, k):
                    folder = Path(work) / f"chunk{k}"
                    prepared = None
                    try:
                        prepared = prepare_run(layout, inputs.param, inputs.model, inputs.prob, inputs.precision,
                                               folder, self.instrument, tag="run", code=code[0] if code else None)
                        code[:1] = code or [prepared]
                        run = execute(octave, prepared, self.timeout, only=wanted.get("records"), again=k > 0)
                        side = side_run(run, inputs, timings_of(run, started if k == 0 else None),
                                        self.tree, self.layout_name)
                        if k == 0:
                            wanted["records"] = {r.key for r in run.records if r.was_read}
                            wanted["stages"] = {key for key, st in side.stages.items() if st.value is not None}
                        elif any(side.stages.get(key) is None or side.stages[key].value is None
                                 for key in wanted["stages"]):
                            # this chunk took another path through the code than chunk 0:
                            # run it again with every value recorded
                            shutil.rmtree(prepared.out_dir, ignore_errors=True)
                            prepared.out_dir.mkdir(parents=True)
                            run = execute(octave, prepared, self.timeout, again=True)
                            side = side_run(run, inputs, timings_of(run), self.tree, self.layout_name)
                        yield side
                    finally:                    # the chunk's inputs and records (chunk 0's copy stays)
                        if prepared is not None:
                            shutil.rmtree(prepared.out_dir, ignore_errors=True)
                            prepared.in_file.unlink(missing_ok=True)
                        if k:
                            shutil.rmtree(folder, ignore_errors=True)

                one.octave = octave             # the session (a candidate side's is stopped from the main thread)
                yield one

    @contextlib.contextmanager
    def run(self, inputs, progress=None):
        with self.execute(inputs, progress) as (run, timings, _):
            yield side_run(run, inputs, timings, self.tree, self.layout_name)


def timings_of(run, started=None) -> dict:
    """A chunk's Octave timings as the reports name them (``started``: the session's start, chunk 0)."""
    timings = {f"octave_{x}" if not x.startswith("octave") else x: v for x, v in run.timings.items()}
    if started is not None:
        timings["octave_start_s"] = started
    return timings


def side_run(run, inputs, timings, tree, layout_name) -> SideRun:
    """A ``MatlabRun`` (live or read from a trace) as the judge takes it."""
    model = inputs.model
    stages = matlab_stages(run, model, stage_sizes(model, int(inputs.prob.l)), int(inputs.prob.l))
    loss = stages.get((int(model.L), "forward", "loss"))
    value = None if loss is None or loss.value is None else float(loss.value.reshape(-1)[0])
    return SideRun(stages, value, timings, None, f"{tree} ({layout_name} layout)",
                   {"layout": layout_name, "tree": tree, "recorded_bytes": run.timings["recorded_bytes"]})
