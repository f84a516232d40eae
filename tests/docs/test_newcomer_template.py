"""The student's template (simplecnn_cli/demo/my_network.py, issue 23): the
config, data, weights and MINE.mat of one's own small network, from a numpy
backward pass written by hand and from PyTorch's autograd, pass
``simplecnn check-gradient``; the layout rules the guide states in plain
terms are the ones the port uses.

Oracles: the port (through ``simplecnn check-gradient`` and ``gradient``)
against two implementations that share nothing with it (numpy by hand,
PyTorch); the index formulas of the guide applied entry by entry in plain
loops; a wrong conversion must be caught."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from simplecnn_cli.demo import my_network as t

REPO = Path(__file__).resolve().parents[2]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


def _check(out):
    return _cli("-m", "simplecnn_cli", "check-gradient", "--config", out / "my.config", "--data",
                out / "my-data.mat", "--weights", out / "my-weights.mat", "--mine", out / "MINE.mat")


@pytest.mark.parametrize("flavour", ["numpy", "torch"])
def test_the_template_passes_check_gradient(flavour, tmp_path):
    if flavour == "torch":
        pytest.importorskip("torch", reason="PyTorch is not installed (pip install '.[torch]')")
    out = tmp_path / "mine"
    run = _cli("-m", "simplecnn_cli.demo.my_network", out, *(["--torch"] if flavour == "torch" else []))
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""                        # no warning text
    loss = float(re.match(r"loss = (\S+);", run.stdout).group(1))
    assert f"check-gradient --config {out}/my.config" in run.stdout
    run = _check(out)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("your gradient matches the port's")
    # the loss the student computed is the port's (printed to 10 digits)
    m = re.search(r"loss: port (\S+), yours (\S+)", run.stdout)
    assert float(m.group(1)) == pytest.approx(loss, rel=1e-9) and float(m.group(2)) == pytest.approx(loss, rel=1e-9)
    # the bias shapes written are columns
    mine = scipy.io.loadmat(out / "MINE.mat")
    assert [mine["dlossdb"][k, 0].shape for k in range(2)] == [(t.d1, 1), (t.nL, 1)]


def test_numpy_and_torch_students_agree():
    pytest.importorskip("torch", reason="PyTorch is not installed")
    X, y, weights = t.example(seed=3)
    loss_np, g_np = t.numpy_gradient(X, y, weights)
    loss_t, g_t = t.torch_gradient(X, y, weights)
    assert loss_np == pytest.approx(loss_t, rel=1e-13)
    for a, b in zip(g_np, g_t):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12 * np.abs(b).max())


def test_the_guides_index_formulas_are_the_conversions():
    rng = np.random.default_rng(5)
    d_out, d_in, h = 3, 2, 3
    w = rng.standard_normal((d_out, d_in, h, h))              # PyTorch: (out, in, row, column)
    W = np.zeros((d_out, h * h * d_in))
    for k in range(d_out):
        for ch in range(d_in):
            for r in range(h):
                for c in range(h):
                    W[k, r + h * c + h * h * ch] = w[k, ch, r, c]
    np.testing.assert_array_equal(t.to_simplenn_conv(w), W)

    n, d, ap, bp = 4, 3, 2, 3
    Wt = rng.standard_normal((n, d * ap * bp))                # on PyTorch's flatten order ch*a'*b' + y*b' + x
    Ws = np.zeros_like(Wt)
    for ch in range(d):
        for yy in range(ap):
            for x in range(bp):
                Ws[:, ch + d * (yy + ap * x)] = Wt[:, ch * ap * bp + yy * bp + x]
    np.testing.assert_array_equal(t.to_simplenn_full(Wt, d, ap, bp), Ws)

    l, a, b = 2, 3, 4
    X = rng.standard_normal((l, d, a, b))
    Z = np.zeros((l, a * b * d))
    for i in range(l):
        for ch in range(d):
            for yy in range(a):
                for x in range(b):
                    Z[i, yy + a * x + a * b * ch] = X[i, ch, yy, x]
    np.testing.assert_array_equal(t.to_simplenn_data(X), Z)


def test_a_naive_conversion_is_caught(tmp_path):
    """PyTorch's conv weight flattened as it lies (w.reshape(d_out, -1):
    channel slowest, filter column fastest) is not simpleNN's order: the
    weights file then describes another network, and the student's
    gradient differs from the port's (exit 1)."""
    out = tmp_path / "naive"
    t.write_files(out)
    X, y, (w, c, W, e) = t.example()
    wts = scipy.io.loadmat(out / "my-weights.mat")
    wts["weight"][0, 0] = w.reshape(w.shape[0], -1)
    scipy.io.savemat(out / "my-weights.mat", {"weight": wts["weight"], "bias": wts["bias"]})
    run = _check(out)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "loss" in run.stdout and "differs" in run.stdout
