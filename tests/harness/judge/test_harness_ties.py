"""Pooling winners: a tie-rule difference (the window's values exactly equal
on both sides, another winner taken) is a divergence of idx_pool; only
winners whose values differ by rounding are near-tie flips.  Index arrays
stored with per-instance offsets are normalised before the exact comparison,
and the near-tie analysis never crashes on indices outside a window."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from conftest import needs_octave
from harness_bundle import TINY_CONFIG
from simplecnn_harness.judge import metrics as C
from simplecnn_py.support.conventions import cell, struct

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "matlab_ref" / "seed"


def _pool_model():
    # one conv layer: 2 channels, 4x4 conv output, 2x2 pooling -> 2x2 output
    return struct(ch_input=cell([1, 2]), ht_input=cell([4, 2]), wd_input=cell([4, 2]),
                  ht_conv=cell([4]), wd_conv=cell([4]), ht_pad=cell([4]), wd_pad=cell([4]))


def test_exactly_equal_values_on_both_sides_are_a_tie_rule_difference():
    model = _pool_model()
    s = np.arange(1.0, 33.0)
    idx = (np.arange(1, 9) * 3).reshape(-1, 1)
    idx_m = idx.copy()
    idx_m[3] = 4
    s[3] = s[idx[3, 0] - 1]                     # the two candidates exactly equal
    sig = s.reshape(2, -1, order="F")
    info = C.pooling_flips(model, 1, 1, idx, idx_m, sig, sig.copy(), "double")
    assert info["count"] == 1 and info["tie_rule"] == 1 and info["near_ties"] == 0
    assert info["first"][0]["tie_rule"] and not info["first"][0]["near_tie"]


def test_values_that_differ_by_rounding_are_a_near_tie():
    model = _pool_model()
    s = np.arange(1.0, 33.0)
    idx = (np.arange(1, 9) * 3).reshape(-1, 1)
    idx_m = idx.copy()
    idx_m[3] = 4
    s_py, s_m = s.copy(), s.copy()
    s_py[3] = np.nextafter(s[idx[3, 0] - 1], 0)          # Python: 1 ULP below the winner
    s_m[3] = np.nextafter(s[idx[3, 0] - 1], np.inf)      # MATLAB: 1 ULP above
    info = C.pooling_flips(model, 1, 1, idx, idx_m, s_py.reshape(2, -1, order="F"),
                           s_m.reshape(2, -1, order="F"), "double")
    assert info["count"] == 1 and info["near_ties"] == 1 and info["tie_rule"] == 0


def test_winners_outside_the_window_array_do_not_crash():
    model = _pool_model()
    idx = (np.arange(1, 9) * 3).reshape(-1, 1)
    idx_m = idx + 1000
    sig = np.arange(1.0, 33.0).reshape(2, -1, order="F")
    info = C.pooling_flips(model, 1, 1, idx, idx_m, sig, sig, "double")
    assert info["count"] == 8 and info["near_ties"] == 0


def test_per_instance_offsets_are_normalised_exactly():
    # idx_pool of instance j stored with the offset (j-1)*D (1b6c744)
    D = 32
    py = np.array([[3, 5], [7, 1], [2, 2]])
    mat = py + D * np.arange(2)[None, :]
    norm, note = C.normalise_index(py, mat.astype(float), D)
    assert np.array_equal(norm, py) and "offset" in note
    # idx_phiZ repeated for 4 instances with offsets (May 2020)
    py = np.arange(1, 7).reshape(-1, 1)
    mat = py + 10 * np.arange(4)[None, :]
    norm, note = C.normalise_index(py, mat, 10)
    assert np.array_equal(norm, py) and "4 instances" in note
    # a genuine difference survives the normalisation
    mat2 = mat.copy()
    mat2[2, 3] += 1
    norm, note = C.normalise_index(py, mat2, 10)
    assert not C.compare_index(py, norm)["ok"]


LAST_MAX = """\
[Zout, I] = max(flipud(reshape(Z, h*h, [])), [], 1);
I = h*h + 1 - I;
"""


@needs_octave
def test_a_tie_rule_difference_is_reported_at_idx_pool(tmp_path):
    """matlab_ref with the LAST maximum of each window: windows of ReLU zeros
    are exact ties on both sides, so the winners differ: idx_pool diverges."""
    from simplecnn_harness.compare import Options, run_compare

    tree = tmp_path / "seed"
    shutil.copytree(SEED, tree)
    f = tree / "cnn" / "maxpooling.m"
    text = f.read_text()
    old = "[Zout, I] = max(reshape(Z, h*h, []), [], 1);\n"
    assert old in text
    f.write_text(text.replace(old, LAST_MAX))
    cfg = tmp_path / "tiny.config"
    cfg.write_text(TINY_CONFIG)
    res = run_compare(Options(matlab_dir=str(tree), config=str(cfg), instances=12))
    assert not res.ok
    assert res.first_divergence == {"layer": 1, "direction": "forward", "stage": "idx_pool"}
    info = res.pooling["1"]
    assert info["tie_rule"] >= 1 and info["near_ties"] == 0
    r = next(s for s in res.stages if s.key() == (1, "forward", "idx_pool"))
    assert "tie-rule" in r.note
