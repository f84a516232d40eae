"""``simplecnn compare``: the port against a MATLAB tree run under Octave (or
against a trace), stage by stage; the table on stdout, the JSON and HTML
reports, each ending with the line that reproduces it."""
from __future__ import annotations

import sys


def compare(*, matlab_dir=None, config=None, data=None, weights=None, instances=None, precision=None,
            mode="propagated", rtol=None, seed=None, timeout=600.0, trace=None, json=None, html=None,
            command="", progress=None, python=None, against=None, chunk=None) -> int:
    """Run the comparison, print the table, write the reports; 0 when every
    compared stage is within tolerance, else 1.  ``precision``/``seed``
    None: the trace's, or double/0.  ``progress``: the observer (phases,
    bars, the Octave routine).  ``python`` (``torch:FILE.py:NAME``,
    ``routines:FILE.py``) or ``against`` (``matlab:DIR``): that side in
    place of the port (``sources/python_side.py``)."""
    from ..compare import Options
    from ..reports.progress import QUIET
    from ..reports.report import terminal_table, write_html, write_json

    progress = QUIET if progress is None else progress
    opts = Options(matlab_dir=matlab_dir, config=config, data=data, weights=weights, instances=instances,
                   precision=precision, mode=mode, rtol=rtol, seed=0 if seed is None else seed, timeout=timeout,
                   progress=None if progress is QUIET else progress, chunk=chunk, command=command)
    with progress:
        result = _run(opts, trace, seed, python, against)
    print(terminal_table(result))
    sys.stdout.flush()
    for path, write in ((json, write_json), (html, write_html)):
        if path:
            write(result, path)
            progress.write(f"compare: wrote {path}")
    return 0 if result.ok else 1


def _run(opts, trace, seed, python=None, against=None):
    """The result of ``run_compare`` against the trace, or a live tree."""
    from simplecnn_py.support.errors import InputError

    from ..compare import run_compare

    source = None
    if trace:
        from ..traces.record import TraceRecords

        if opts.matlab_dir:
            raise InputError("--matlab-dir", "not with --trace (the trace holds the MATLAB side)")
        source = TraceRecords(trace, opts, seed=seed)
    elif opts.precision is None:
        opts.precision = "double"
    side = None
    if python or against:
        from ..sources.python_side import python_source

        side = python_source(python, against, opts)
    return run_compare(opts, source, side)
