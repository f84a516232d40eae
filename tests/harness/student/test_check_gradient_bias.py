"""A bias gradient saved as a 1-D numpy array: scipy's ``savemat``
writes it as a 1 x n row, and ``simplecnn check-gradient`` must name that
shape, not "a transposed W".  The student's gradient here is the port's own
(written by ``simplecnn gradient`` on the shipped demo), rewritten with
plain scipy as a student would; the oracle is the file's own shapes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import scipy.io

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "simplecnn_cli" / "demo"
FILES = ["--config", DEMO / "check-gradient.config", "--data", DEMO / "check-gradient-data.mat",
         "--weights", DEMO / "check-gradient-weights.mat"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "simplecnn_cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def _as_student_saves_it(src, dst, scale_bias=1.0):
    """dlossdW as they are, dlossdb as 1-D arrays in a plain list (what a
    student's numpy code holds), through scipy.io.savemat."""
    m = scipy.io.loadmat(src)
    L = m["dlossdW"].shape[0]
    dW = np.empty((L, 1), dtype=object)
    db = np.empty((L, 1), dtype=object)
    for k in range(L):
        dW[k, 0] = m["dlossdW"][k, 0]
        db[k, 0] = scale_bias * m["dlossdb"][k, 0].ravel()
    scipy.io.savemat(dst, {"dlossdW": dW, "dlossdb": db})
    return [db[k, 0].size for k in range(L)]


def test_a_bias_saved_as_a_row_is_named_not_a_transposed_W(tmp_path):
    assert _cli("gradient", *FILES, "--out", tmp_path / "port.mat").returncode == 0
    sizes = _as_student_saves_it(tmp_path / "port.mat", tmp_path / "mine.mat")
    assert scipy.io.loadmat(tmp_path / "mine.mat")["dlossdb"][-1, 0].shape == (1, sizes[-1])   # a row on disk
    run = _cli("check-gradient", *FILES, "--mine", tmp_path / "mine.mat")
    assert run.returncode == 1, run.stderr
    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith(f"first difference: layer {len(sizes)}, stage dlossdb; likely cause: a bias gradient "
                           "saved as a row: dlossdb{m} is a column, n x 1")
    assert "transposed W" not in run.stdout
    assert last.endswith(f"(yours is 1 x {sizes[-1]} with the port's values)")
    # a row whose values are wrong as well is still named by its shape, and says so
    _as_student_saves_it(tmp_path / "port.mat", tmp_path / "wrong.mat", scale_bias=3.0)
    run = _cli("check-gradient", *FILES, "--mine", tmp_path / "wrong.mat")
    assert run.returncode == 1
    assert run.stdout.strip().endswith(f"(yours is 1 x {sizes[-1]} and its values differ too)")
