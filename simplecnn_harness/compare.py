"""``simplecnn compare``: the loader, two sources and the judge.

    inputs (inputs.py)  ->  reference source, candidate source  ->  judge  ->  Verdict

1. The inputs: config, weights (or He's initialisation from ``seed``), data
   (a simpleNN .mat file as it is, or seeded random images), the first N
   instances (``inputs.load``; the trace's own inputs with ``--trace``).
2. The candidate side (the Python side; default: this project's port,
   ``sources/port.py``) runs with tracing on; the reference side (default: a
   live MATLAB tree under Octave, ``sources/matlab.py``; a trace file,
   ``sources/trace.py``) runs on the same inputs.  Each yields its stages
   keyed ``(layer, direction, stage)`` in MATLAB's shapes.
3. The judge (``judge/verdict.py``) compares them stage by stage, in
   propagated or isolated mode (isolated: the port, or a side with ``SideRun.isolate``),
   with the near-tie analysis of pooling winners and the first divergence in
   execution order, and builds the :class:`Verdict` the reports show.

Any source plugs in as reference or candidate (``run_compare(opts,
reference=..., candidate=...)``): a second MATLAB tree judged against the
first is ``reference=MatlabSource(A), candidate=MatlabSource(B)``.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

import numpy as np

from simplecnn_py.support.errors import InputError

from . import inputs as loader
from .judge.verdict import Verdict, judge
from .sources.base import observer

Result = Verdict                      # the name callers have used for compare's outcome
DEFAULT_TREE = loader.DEFAULT_TREE
DEFAULT_INSTANCES = loader.DEFAULT_INSTANCES
default_tree, default_config = loader.default_tree, loader.default_config


@dataclass
class Options:
    matlab_dir: str | None = None
    config: str | None = None
    data: str | None = None
    weights: str | None = None
    instances: int | None = None
    precision: str = "double"
    mode: str = "propagated"
    rtol: float | None = None
    seed: int = 0
    timeout: float = 600.0
    instrument: bool = True
    progress: object = None           # a progress observer, or a callable(str), or None
    command: str = ""                 # the shell command that reproduces the report (shown in it)
    chunk: int | None = None          # instances per chunk of a streamed compare (streamed.py); None: by budget


def run_compare(opts: Options, source=None, python=None, reference=None, candidate=None) -> Verdict:
    """Both sides on the same inputs, then the judge.  ``reference`` (or
    ``source``, its older name) is the MATLAB side: None runs the tree
    ``opts.matlab_dir`` live under Octave; ``traces.record.TraceRecords``
    reads it from a trace file (``simplecnn compare --trace``).
    ``candidate`` is the Python side: None is this project's port.
    ``python``: a source of ``sources/`` in the port's place the way
    ``compare --python``/``--against`` hands it (``sources/python_side.py``:
    its outcome completes the verdict's notes)."""
    from .sources.matlab import MatlabSource
    from .sources.port import PortSource

    t_start = time.perf_counter()
    say = observer(opts.progress)
    reference = reference or source
    reference = MatlabSource(opts.matlab_dir, opts.timeout, opts.instrument) if reference is None else reference
    if opts.mode not in ("propagated", "isolated"):
        raise InputError("--mode", f"must be propagated or isolated, not {opts.mode}")
    if python is None:
        candidate = PortSource() if candidate is None else candidate
        if opts.mode == "isolated" and not getattr(candidate, "keeps_net", False):
            raise InputError("--mode", "isolated needs the port as the Python side (its net re-runs each stage)")
    from . import streamed

    side = candidate if python is None else python
    if opts.chunk is not None:
        streamed.refuse_unless_streamable(opts, reference, side, python)
    can_stream = streamed.streamable(opts, reference, side, python)
    if hasattr(reference, "load_inputs"):
        ins = reference.load_inputs()          # a trace: its own inputs, any given checked against them
    else:                                      # all the data when streamed, else what fits the budget
        ins = loader.load(opts.config, opts.data, opts.weights, opts.instances, opts.precision, opts.seed,
                          budget=None if can_stream else loader.MEMORY_BUDGET, progress=say)
    chunk = opts.chunk
    if chunk is None and can_stream and int(ins.prob.l) > streamed.chunk_from_budget(ins.model, ins.precision):
        chunk = streamed.chunk_from_budget(ins.model, ins.precision)
        say(f"compare: {int(ins.prob.l)} instances pass the {streamed.stream_budget() / 2**20:.0f} MiB budget of "
            f"traced intermediates: streaming them in chunks of {chunk} (--chunk N chooses)")
    if chunk is not None:
        if python is not None:             # its chunks, and what its outcome adds after the judge
            from .sources.python_side import StreamedSide

            candidate = StreamedSide(python, opts, ins)
        candidate.check(ins)
        reference.check(ins)
        if getattr(ins.prob, "Z", None) is not None:
            ins.prob.Z = None        # the file's own rows: prob.data holds the instances (one copy, not two)
        with tempfile.TemporaryDirectory(prefix="simplecnn-data-") as spill:
            ins.prob.data = loader.SpilledColumns(ins.prob.data, spill)    # a chunk's columns in memory at a time
            verdict = streamed.run_streamed(opts, ins, reference, candidate, chunk, say, t_start)
            if python is not None:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    candidate.finish(verdict)
        return verdict
    outcome = None
    if python is not None:
        candidate_run, outcome = _python_run(python, opts, ins)
    else:
        candidate.check(ins)
        candidate_run = candidate.run(ins, say)
    reference.check(ins)
    with candidate_run as b, reference.run(ins, say) as a:
        say(f"compare: comparing {len(b.stages)} traced stages "
            f"({a.meta.get('recorded_bytes', 0) / 2**20:.0f} MiB from {reference.origin})")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # Inf/NaN are compared, not warned
            verdict = judge(a, b, ins, ins.precision, opts.rtol, opts.mode, say, t_start, opts.command)
            if outcome is not None:
                outcome.finish(verdict, (ins.param, ins.model, ins.prob),
                               {k: s.value for k, s in b.stages.items()}, a.stages)
        return verdict


def _python_run(python, opts, ins):
    """(a context yielding the candidate's ``SideRun``, its outcome) of a
    ``--python``/``--against`` source (``sources/python_side.py``)."""
    import contextlib

    from simplecnn_py import fast

    from .sources.base import SideRun, as_stages
    from .sources.python_side import run_python_source

    t0 = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        net, loss, P, outcome = run_python_source(python, opts, (ins.param, ins.model, ins.prob, ins.config_desc,
                                                                 ins.data_desc))
    run = SideRun(as_stages(P, "python"), loss, {"python_s": time.perf_counter() - t0}, net, outcome.describe,
                  {"port_path": "fast" if fast.enabled() else "reference"}, outcome.isolate)
    return contextlib.nullcontext(run), outcome


def prepare(opts: Options):
    """``(param, model, prob, config_desc, data_desc)``: ``inputs.load`` of
    ``opts`` as a tuple (for callers written before the loader)."""
    ins = loader.load(opts.config, opts.data, opts.weights, opts.instances, opts.precision, opts.seed,
                      budget=loader.MEMORY_BUDGET, progress=observer(opts.progress))
    return ins.param, ins.model, ins.prob, ins.config_desc, ins.data_desc


def python_side(param, model, prob):
    """``(net, loss, {key: ndarray})`` of the port's traced run (``sources/port.py``)."""
    from .sources.port import PortSource

    ins = loader.Inputs(param, model, prob, "", "", getattr(param, "precision", "double"))
    with PortSource().run(ins) as run:
        return run.net, run.loss, {k: s.value for k, s in run.stages.items()}
