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
allowed) gives one test per trace in the folders (and their subfolders),
its id the file's name without its suffix.  A trace is recognised by its
content, whatever its name (``cur.trace``, ``run1.mat``, ``x``): an HDF5
file holding the variable ``simplecnn_trace`` (what ``simplecnn record``
writes, and the emitted MATLAB driver); data and weight files beside the
traces are not collected.  A folder holding no trace is a usage error (one
line, exit 4), as is a folder that does not exist; traces given to a suite
where no collected test takes the ``simplecnn_trace`` fixture are said in
one line after the collection (they would otherwise check nothing).
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
    places = [("--simplecnn-traces", Path(p)) for p in config.getoption("simplecnn_traces")]
    places += [("simplecnn_traces (ini)", Path(p)) for p in config.getini("simplecnn_traces")]
    found = []
    for source, place in places:
        if place.is_dir():
            files = sorted(p for p in place.rglob("*") if p.is_file())
            traces = [p for p in files if is_trace(p)]
            if not traces:
                raise pytest.UsageError(
                    f"{source}: {place} holds no simplecnn trace ({_count(len(files), 'file')} looked at; "
                    f"`simplecnn record ... --out {place / 'NAME'}` writes one)")
            found += traces
        elif place.is_file():
            found.append(place)
        else:
            raise pytest.UsageError(f"{source}: {place} is neither a folder nor a file")
    seen, out = set(), []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_trace(path) -> bool:
    """Whether ``path`` is a simplecnn trace, by its content: an HDF5 file
    (its signature at byte 0, as Octave's ``save -hdf5`` writes it, or after
    a user block of 512, 1024 or 2048 bytes, as MATLAB's v7.3 and
    ``simplecnn record`` write it) with a top-level ``simplecnn_trace``."""
    try:
        with open(path, "rb") as f:
            head = f.read(2048 + 8)
    except OSError:
        return False
    if not any(head[k:k + 8] == HDF5_SIGNATURE for k in (0, 512, 1024, 2048)):
        return False
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return "simplecnn_trace" in f
    except Exception:                    # a damaged or foreign HDF5 file: not a trace
        return False


def _count(n, what):
    return f"{n} {what}" + ("" if n == 1 else "s")


def pytest_configure(config):
    # a folder that is not there, or holds no trace, is a usage error (one
    # line), found before collection
    config._simplecnn_trace_files = trace_files(config)
    config._simplecnn_trace_takers = 0


def pytest_itemcollected(item):
    if "simplecnn_trace" in getattr(item, "fixturenames", ()):
        item.config._simplecnn_trace_takers += 1


def _no_taker_line(config):
    files = getattr(config, "_simplecnn_trace_files", None)
    if not files:
        return None
    return (f"simplecnn: {_count(len(files), 'trace')} given but no collected test takes the simplecnn_trace "
            "fixture, so none is checked; add one, e.g. a file test_parity.py holding "
            "`def test_parity(simplecnn_trace): ...`")


def pytest_report_collectionfinish(config, start_path, items):
    """One line when traces were given but no collected test takes the
    fixture (counted before any -k/-m deselection).  Under pytest-xdist the
    workers collect, and the controller says it at the end instead."""
    if config._simplecnn_trace_takers or config.pluginmanager.hasplugin("dsession"):
        return None
    return _no_taker_line(config)


def pytest_collection_finish(session):
    workeroutput = getattr(session.config, "workeroutput", None)      # a pytest-xdist worker
    if workeroutput is not None:
        workeroutput["simplecnn_trace_takers"] = session.config._simplecnn_trace_takers


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist controller: gather each worker's count of tests taking the fixture."""
    counts = node.config.__dict__.setdefault("_simplecnn_worker_takers", [])
    counts.append(getattr(node, "workeroutput", {}).get("simplecnn_trace_takers"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts = getattr(config, "_simplecnn_worker_takers", None)
    if counts and None not in counts and not any(counts):
        line = _no_taker_line(config)
        if line:
            terminalreporter.write_line(line)


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
