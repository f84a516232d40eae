"""The comparison engine: inputs -> sources -> judge -> reports (docs/harness.md).

The public API, imported on first use (``import simplecnn_harness`` stays
cheap)::

    from simplecnn_harness import Options, run_compare, MatlabSource, PortSource
    verdict = run_compare(Options(instances=16))                   # the port against matlab_ref/seed
    verdict = run_compare(Options(), reference=MatlabSource("A"), candidate=MatlabSource("B"))
    verdict.ok, verdict.first_divergence, verdict.to_json()

* ``load_inputs`` (``inputs.load``) and ``Inputs``: the one input loader;
* ``run_compare``, ``Options``: compare; ``judge``, ``Verdict``: the judge;
* ``MatlabSource``, ``PortSource``, ``TraceSource``, ``Stage``, ``SideRun``:
  the sources and their protocol;
* ``record`` (a trace of a MATLAB tree), ``run_sweep`` (a history),
  ``run_configs`` (configurations of one tree).
"""
from __future__ import annotations

import importlib

_API = {
    "load_inputs": ("inputs", "load"), "Inputs": ("inputs", "Inputs"),
    "run_compare": ("compare", "run_compare"), "Options": ("compare", "Options"),
    "judge": ("judge.verdict", "judge"), "Verdict": ("judge.verdict", "Verdict"),
    "MatlabSource": ("sources.matlab", "MatlabSource"), "PortSource": ("sources.port", "PortSource"),
    "TraceSource": ("sources.trace", "TraceSource"), "Stage": ("sources.base", "Stage"),
    "SideRun": ("sources.base", "SideRun"), "record": ("traces.record", "record"),
    "run_sweep": ("sweep", "run_sweep"), "run_configs": ("sweep", "run_configs"),
}
__all__ = sorted(_API)


def __getattr__(name):
    if name not in _API:
        raise AttributeError(f"module 'simplecnn_harness' has no attribute {name!r}")
    module, attr = _API[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
