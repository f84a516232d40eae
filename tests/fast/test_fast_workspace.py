"""``simplecnn_py/fast/workspace.py``: scratch arenas, the helper threads, and the
switch of ``simplecnn_py.fast`` (every port routine dispatches in one line).
"""
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simplecnn_py import fast
from simplecnn_py.support import trace
from simplecnn_py.fast import workspace as fast_workspace
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset

from fast_common import setup


def test_scratch_views_follow_their_buffer():
    """_scratch hands out the same view for the same request, and a fresh
    one on a new buffer once a larger request has replaced the old one."""
    work = {}
    a = fast_workspace.scratch(work, "x", (2, 3), np.float64)
    assert fast_workspace.scratch(work, "x", (2, 3), np.float64) is a and a.flags.f_contiguous
    big = fast_workspace.scratch(work, "x", (20, 30), np.float64)
    b = fast_workspace.scratch(work, "x", (2, 3), np.float64)
    assert b is not a and np.shares_memory(b, big) and not np.shares_memory(b, a)


def test_scratch_arrays_from_the_arena_are_aligned_and_apart(monkeypatch):
    """Scratch arrays are carved out of a thread's arena: each starts on a
    64-byte line, none overlaps another, a full arena is followed by a new
    one, and zero-bordered buffers start as zeros."""
    monkeypatch.setattr(fast_workspace, "_ARENA_BYTES", 4096)
    work = {}
    arrays = [fast_workspace.scratch(work, ("t", k), (3 + k, 5), np.float64) for k in range(40)]
    arrays += [fast_workspace.scratch(work, ("u", k), (7, k + 1), np.uint8) for k in range(40)]
    arrays.append(fast_workspace.scratch(work, "big", (1000, 3), np.float32))   # more than an arena
    for k, a in enumerate(arrays):
        a[...] = k
    for k, a in enumerate(arrays):
        assert a.ctypes.data % 64 == 0 and a.flags.f_contiguous
        assert (a == k).all()                    # nothing else wrote over it
    assert len({id(a.base) for a in arrays}) > 1
    z = fast_workspace.zero_bordered({"arena": [np.full(8192, 255, np.uint8), 0]}, "pad", (4, 6), np.float64)
    assert z.shape == (4, 6) and not z.any()


@pytest.mark.parametrize("bad_group", [0, 5, 11])
def test_run_parts_raises_a_group_error_and_runs_again(monkeypatch, bad_group):
    """An exception in any group (whichever thread runs it) reaches the caller,
    the other threads stop taking groups, and the next pass runs normally."""
    monkeypatch.setenv("SIMPLECNN_THREADS", "2")
    ran = []

    def fn(group, work):
        ran.append(group)
        if group == bad_group:
            raise MemoryError(f"group {group}")
        return group

    with pytest.raises(MemoryError, match=f"group {bad_group}"):
        fast_workspace.run_parts(fn, list(range(12)))
    assert len(ran) <= 12
    assert fast_workspace.run_parts(lambda g, work: g * g, list(range(12))) == [g * g for g in range(12)]
    assert fast_workspace.run_parts(lambda g, work: g, list(range(12)), fold=lambda a, b: a * 10 + b) \
        == int("".join(str(g) for g in range(10))) * 100 + 10 * 10 + 11


def test_run_parts_with_more_threads_than_helpers(monkeypatch):
    """More threads asked for than helpers made so far: a larger set is made
    (no wait for helpers that do not exist)."""
    fast_workspace.run_parts(lambda g, work: g, list(range(4)))
    monkeypatch.setattr(fast_workspace, "NPARTS", 4)
    monkeypatch.setenv("SIMPLECNN_THREADS", "4")
    if fast_workspace.workers() < 4:
        pytest.skip("numpy's OpenBLAS not found: the groups run in one thread")
    assert fast_workspace.run_parts(lambda g, work: g + 1, list(range(9))) == list(range(1, 10))
    assert fast_workspace._helpers.n >= 3


def test_use_reference_switch():
    assert fast.enabled() == (os.environ.get("SIMPLECNN_REFERENCE", "") in ("", "0"))
    with fast.use_reference():
        assert not fast.enabled()
        with fast.use_reference(False):
            assert fast.enabled()
        assert not fast.enabled()
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", "from simplecnn_py import fast; print(fast.enabled())"],
                         cwd=root, env=dict(os.environ, SIMPLECNN_REFERENCE="1"), capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_port_routines_dispatch_to_fast_paths(monkeypatch):
    """With the fast paths on, the port's routines hand over to them (and not
    with the reference switch on)."""
    calls = []
    for name in ("padding_and_phiZ", "maxpooling", "vTP", "feedforward", "lossgrad_subset"):
        module = importlib.import_module(f"simplecnn_py.fast.{name}")
        orig = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _o=orig, _n=name, **k: calls.append(_n) or _o(*a, **k))
    param, model, prob, net = setup("mnist_small", 4)
    with fast.use_reference(False):
        lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3, 4], "fungrad")
        with trace.tracing():               # the fused path steps aside: the routines' own fast paths run
            lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3, 4], "fungrad")
    assert {"lossgrad_subset", "padding_and_phiZ", "maxpooling", "vTP"} <= set(calls)
    calls.clear()
    with fast.use_reference():
        lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3, 4], "fungrad")
    assert calls == []


def test_port_oracle_tests_pass_on_the_reference_path_too():
    """The port's oracle tests (P matrices, Kronecker forms, finite
    differences, the slides' pooling example, Gauss-Newton products) run by
    default on the fast paths; here they run again on the reference path."""
    root = str(Path(__file__).resolve().parents[2])
    files = sorted(str(f.relative_to(root)) for f in Path(root, "tests", "port").glob("test_port_*.py")) + [
        "tests/port/test_train_products.py"]
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
                         cwd=root, env=dict(os.environ, SIMPLECNN_REFERENCE="1"), capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
    assert " passed" in out.stdout and " failed" not in out.stdout


def test_single_threaded_blas_inside_newton_only_with_fast_paths():
    blas = fast_workspace.openblas()
    if blas is None:
        pytest.skip("numpy's OpenBLAS library not found")
    before = blas[1]()
    with fast_workspace.single_threaded_blas():
        assert blas[1]() == 1
    assert blas[1]() == before
    with fast.use_reference(), fast_workspace.single_threaded_blas():
        assert blas[1]() == before
