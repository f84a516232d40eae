"""Shared fixtures: where ../shared/data is, and whether Octave is here."""
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
# our MATLAB reference trees and the configs the Octave parity cases use
SEED = REPO / "matlab_ref" / "seed"
CURRENT = REPO / "matlab_ref" / "current"
NONSQUARE = SEED / "config" / "small-nonsquare.config"
LAYER3 = SEED / "config" / "mnist-demo-layer3.config"
TINY_CURRENT = CURRENT / "MATLAB" / "config" / "tiny-nonsquare.config"


@pytest.fixture(scope="session")
def shared_data():
    """The shared MNIST demo files; tests using them skip when absent."""
    if not (SHARED_DATA / "mnist-demo.mat").exists():
        pytest.skip("../shared/data/mnist-demo.mat not present")
    return SHARED_DATA


def octave_available():
    return shutil.which("octave-cli") is not None or shutil.which("octave") is not None


needs_octave = pytest.mark.skipif(not octave_available(), reason="GNU Octave is not installed")


# A tiny non-square current-layout config shared by the replay and
# compare-train tests.
TINY_CONFIG = """% tiny non-square net: 7 x 6 x 2 inputs, 3 classes
L = 4;
LC = 2;
LF = 2;
ht_input = 7;
wd_input = 6;
ch_input = [2,3,4];
wd_pad_added = [1,1];
wd_filter = [3,2];
strides = [1,2];
wd_subimage_pool = [2,1];
full_neurons = [5,3];
"""


def octave_quote(s):
    """``s`` inside a single-quoted Octave string."""
    return str(s).replace("'", "''")


# --- both paths of the port: the fast paths and the reference lines -------------
#
# The Octave parity tests take the ``port_path`` fixture: each runs twice, on
# the port's fast paths (simplecnn_py/fast/, one module per routine) and
# on its line-for-line reference path (the parity suite runs both).
# In-process calls are switched with ``fast.use_reference()``;
# subprocesses inherit ``SIMPLECNN_REFERENCE`` (1 or 0).  So that a case cannot
# silently run the fast path twice, the fast paths' entry points are spied on
# and checked after the test (when it passed):
#   fast:      at least one fast-path entry point computed something (returned
#              a value rather than stepping aside);
#   reference: none was entered, and the switch was consulted (``enabled()``
#              returned False at least once, never True).
# A test whose port runs only in subprocesses calls ``port_path.subprocess()``
# and must then check what the subprocess reports with ``port_path.reported()``.

FAST_ENTRY_POINTS = {      # module of simplecnn_py.fast -> its entry point (the routine's name)
    f"simplecnn_py.fast.{name}": (name,)
    for name in ("padding_and_phiZ", "maxpooling", "vTP", "feedforward", "lossgrad_subset",
                 "Jacobian", "JTBJv", "R_JTBJv")
}


class PortPath:
    """The path a ``port_path`` case runs, and what the spies saw."""

    def __init__(self, name):
        self.name = name
        self.reference = name == "reference"
        self.entered = {}           # entry point -> calls
        self.served = {}            # entry point -> calls that returned a result
        self.switch = []            # values fast.enabled() returned
        self._subprocess = False
        self._reported = 0

    def subprocess(self):
        """The port runs only in subprocesses here (they get SIMPLECNN_REFERENCE)."""
        self._subprocess = True

    def reported(self, what):
        """Check the path a subprocess says it ran (``"fast"`` or ``"reference"``)."""
        assert what == self.name, f"the subprocess ran the {what} path, the {self.name} path was asked"
        self._reported += 1

    def check(self):
        if self._subprocess:
            assert self._reported, "port_path.subprocess(): no port_path.reported(...) check was made"
            return
        if self.reference:
            assert not self.entered, f"reference path asked, fast paths entered: {self.entered}"
            assert self.switch and not any(self.switch), \
                f"reference path asked, fast.enabled() returned {sorted(set(self.switch))}"
        else:
            assert self.served, f"fast path asked, no fast path computed anything (entered: {self.entered})"


@pytest.fixture(scope="session", autouse=True)
def _fastpaths_imported():
    """Import the port's switch before any test sets SIMPLECNN_REFERENCE, so
    that the module-level default is the environment's of the run."""
    import importlib

    for mod in FAST_ENTRY_POINTS:
        importlib.import_module(mod)


@pytest.fixture(params=["fast", "reference"])
def port_path(request, monkeypatch):
    """Run the test on the fast paths and again on the reference path."""
    import importlib

    from simplecnn_py import fast

    path = PortPath(request.param)
    monkeypatch.setenv("SIMPLECNN_REFERENCE", "1" if path.reference else "0")
    for mod_name, names in FAST_ENTRY_POINTS.items():
        mod = importlib.import_module(mod_name)
        for name in names:
            fn = getattr(mod, name, None)
            assert callable(fn), f"{mod_name}.{name} is gone: update FAST_ENTRY_POINTS in tests/conftest.py"
            monkeypatch.setattr(mod, name, _spy(fn, f"{mod_name.rsplit('.', 1)[1]}.{name}", path))
    enabled = fast.enabled

    def spied_enabled():
        value = enabled()
        path.switch.append(value)
        return value

    monkeypatch.setattr(fast, "enabled", spied_enabled)
    with fast.use_reference(path.reference):
        yield path
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.passed:
        path.check()


def _spy(fn, key, path):
    def spy(*args, **kwargs):
        path.entered[key] = path.entered.get(key, 0) + 1
        out = fn(*args, **kwargs)
        if out is not None:
            path.served[key] = path.served.get(key, 0) + 1
        return out
    return spy


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (``port_path`` checks passed tests only)."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def run_with_stderr_on_a_terminal(args, timeout=600):
    """Run ``args`` (from the repository) with standard error on a pty, as a
    person at a terminal sees it: (return code, what the terminal showed,
    standard output as bytes)."""
    import os
    import pty
    import subprocess
    import threading

    master, slave = pty.openpty()
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []

    def read():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=timeout)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode(errors="replace"), out
