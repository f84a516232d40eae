"""pytest plugin (entry point ``pytest11: simplecnn``): parity tests over a
folder of traces, no Octave needed.

A user's suite::

    # test_parity.py
    def test_parity(simplecnn_trace):
        ...                                # checked when the body returns

    def test_parity_loose(simplecnn_trace):
        simplecnn_trace.check(rtol=1e-10)  # or explicitly, with options

run with ``pytest --simplecnn-traces traces/`` (or ``simplecnn_traces =
traces`` under ``[pytest]`` in the ini file; several folders or files
allowed) gives one test per ``*.mat`` trace, its id the file's name.
``check(rtol=None, mode='propagated')`` compares the installed port with the
trace as ``simplecnn compare --trace`` does and fails naming the first
divergent stage; a test that calls neither it nor ``compare(...)`` (the
result: ``.ok``, ``.first_divergence``, ``.stages``, for assertions of
one's own) is checked with the defaults when its body returns.  JUnit XML comes through pytest as usual (``--junitxml``).
"""
from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("simplecnn", "simplecnn parity traces")
    group.addoption("--simplecnn-traces", action="append", default=[], metavar="DIR",
                    help="folder (or file) of simplecnn trace files: one simplecnn_trace test each")
    parser.addini("simplecnn_traces", type="paths", default=[],
                  help="folders (or files) of simplecnn trace files, relative to the ini file")


def trace_files(config) -> list[Path]:
    """The trace files named by the option and the ini key, sorted, each once."""
    places = [Path(p) for p in config.getoption("simplecnn_traces")]
    places += [Path(p) for p in config.getini("simplecnn_traces")]
    found = []
    for place in places:
        if place.is_dir():
            # MAT v5 files (data, weights) beside the traces are not traces
            found += sorted(p for p in place.rglob("*.mat") if p.is_file() and not _mat_v5(p))
        elif place.is_file():
            found.append(place)
        else:
            raise pytest.UsageError(f"--simplecnn-traces: {place} is neither a folder nor a file")
    seen, out = set(), []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _mat_v5(path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(10) == b"MATLAB 5.0"
    except OSError:
        return False


def pytest_configure(config):
    # a folder that is not there is a usage error (one line), found before collection
    config._simplecnn_trace_files = trace_files(config)


def pytest_generate_tests(metafunc):
    if "simplecnn_trace" not in metafunc.fixturenames:
        return
    files = getattr(metafunc.config, "_simplecnn_trace_files", None)
    if files is None:
        files = trace_files(metafunc.config)
    ids = []
    for p in files:
        name = p.stem
        while name in ids:
            name += "_"
        ids.append(name)
    metafunc.parametrize("simplecnn_trace", files, ids=ids, indirect=True)


class TraceCase:
    """One trace of the folder, as the ``simplecnn_trace`` fixture gives it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._results = {}
        self.used = False              # compare() or check() called by the test

    def __repr__(self):
        return f"TraceCase({str(self.path)!r})"

    def compare(self, rtol: float | None = None, mode: str = "propagated", **inputs):
        """The comparison's ``pipeline.Result`` (``inputs``: config, data,
        weights, checked against the trace as ``compare --trace`` does)."""
        self.used = True
        key = (rtol, mode, tuple(sorted(inputs.items())))
        if key not in self._results:
            from ..compare import Options, run_compare
            from .record import TraceRecords

            opts = Options(rtol=rtol, mode=mode, precision=None, **inputs)
            self._results[key] = run_compare(opts, TraceRecords(self.path, opts))
        return self._results[key]

    def check(self, rtol: float | None = None, mode: str = "propagated", **inputs):
        """Pass, or fail with the verdict: the first divergent stage and why."""
        from simplecnn_py.support.errors import EnvironmentProblem, InputError

        from ..reports.report import verdict_line

        try:
            result = self.compare(rtol, mode, **inputs)
        except InputError as e:
            pytest.fail(f"{self.path}: {e.where}: {e.what}", pytrace=False)
        except EnvironmentProblem as e:
            pytest.fail(f"{self.path}: {e}", pytrace=False)
        if not result.ok:
            lines = [f"{self.path.name}: {verdict_line(result)}",
                     f"  MATLAB tree {result.tree}, {result.layout} layout; {result.instances} instances, "
                     f"{result.precision} precision"]
            bad = [s for s in result.stages if s.compared and not s.ok and not s.explained]
            for s in bad[:5]:
                err = "indices differ" if s.kind == "index" else f"rel_err {s.rel_err:.3g}"
                lines.append(f"  layer {s.layer} {s.direction} {s.stage}: {err}")
            if len(bad) > 5:
                lines.append(f"  ... {len(bad) - 5} more stages differ")
            lines.append(f"  reproduce: simplecnn compare --trace {self.path.resolve()}")
            pytest.fail("\n".join(lines), pytrace=False)
        return result


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    """A test that takes ``simplecnn_trace`` and neither compared nor
    checked it is checked when its body returns: ``def
    test_parity(simplecnn_trace): ...`` is a parity test as it stands."""
    result = yield
    case = pyfuncitem.funcargs.get("simplecnn_trace")
    if isinstance(case, TraceCase) and not case.used:
        case.check()
    return result


@pytest.fixture
def simplecnn_trace(request):
    """A trace of ``--simplecnn-traces`` (one test per trace file)."""
    if not hasattr(request, "param"):
        pytest.skip("no simplecnn traces given (--simplecnn-traces DIR or the simplecnn_traces ini key)")
    return TraceCase(request.param)
