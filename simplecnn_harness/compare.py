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
   propagated or isolated mode (isolated needs the port as the candidate),
   with the near-tie analysis of pooling winners and the first divergence in
   execution order, and builds the :class:`Verdict` the reports show.

Any source plugs in as reference or candidate (``run_compare(opts,
reference=..., candidate=...)``): a second MATLAB tree judged against the
first is ``reference=MatlabSource(A), candidate=MatlabSource(B)``.
"""
from __future__ import annotations

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


def run_compare(opts: Options, source=None, reference=None, candidate=None) -> Verdict:
    """Both sides on the same inputs, then the judge.  ``reference`` (or
    ``source``, its older name) is the MATLAB side: None runs the tree
    ``opts.matlab_dir`` live under Octave; ``traces.record.TraceRecords``
    reads it from a trace file (``simplecnn compare --trace``).
    ``candidate`` is the Python side: None is this project's port."""
    from .sources.matlab import MatlabSource
    from .sources.port import PortSource

    t_start = time.perf_counter()
    say = observer(opts.progress)
    reference = reference or source
    reference = MatlabSource(opts.matlab_dir, opts.timeout, opts.instrument) if reference is None else reference
    candidate = PortSource() if candidate is None else candidate
    if opts.mode not in ("propagated", "isolated"):
        raise InputError("--mode", f"must be propagated or isolated, not {opts.mode}")
    if opts.mode == "isolated" and not getattr(candidate, "keeps_net", False):
        raise InputError("--mode", "isolated needs the port as the Python side (its net re-runs each stage)")
    if hasattr(reference, "load_inputs"):
        ins = reference.load_inputs()          # a trace: its own inputs, any given checked against them
    else:
        ins = loader.load(opts.config, opts.data, opts.weights, opts.instances, opts.precision, opts.seed,
                          budget=loader.MEMORY_BUDGET, progress=say)
    candidate.check(ins)
    reference.check(ins)
    with candidate.run(ins, say) as b, reference.run(ins, say) as a:
        say(f"compare: comparing {len(b.stages)} traced stages "
            f"({a.meta.get('recorded_bytes', 0) / 2**20:.0f} MiB from {reference.origin})")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # Inf/NaN are compared, not warned
            return judge(a, b, ins, ins.precision, opts.rtol, opts.mode, say, t_start, opts.command)
