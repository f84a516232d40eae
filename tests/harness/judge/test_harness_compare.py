"""Comparison metrics, near-tie pooling flips and the reports (no Octave needed)."""
from __future__ import annotations

import html.parser
import json

import numpy as np
import pytest

from simplecnn_harness.judge import metrics as C
from simplecnn_harness.compare import Result
from simplecnn_harness.reports.report import heatmap_grid, html_report, terminal_table, write_json
from simplecnn_harness.judge.stages import canonical_stages
from simplecnn_py.support.conventions import cell, struct


def test_ulp_distance_counts_adjacent_floats():
    one = np.float64(1.0)
    up = [one]
    for _ in range(3):
        up.append(np.nextafter(up[-1], 2.0))
    a = np.array([1.0, 1.0, -1.0, 0.0, 5e-324], dtype=np.float64)
    b = np.array([up[1], up[3], -up[2], -0.0, -5e-324])
    np.testing.assert_array_equal(C.ulp_distance(a, b), [1, 3, 2, 0, 2])
    assert C.max_ulp(a, b) == 3
    a32, b32 = np.float32([1, -2]), np.array([np.nextafter(np.float32(1), np.float32(2)), -2], np.float32)
    assert C.max_ulp(a32, b32) == 1


def test_compare_arrays_metrics():
    rng = np.random.default_rng(0)
    b = rng.standard_normal((7, 9))
    a = b.copy()
    a[2, 3] = np.nextafter(a[2, 3], np.inf)
    r = C.compare_arrays(a, b, "double", 1e-13)
    assert r["ok"] and r["n_diff"] == 1 and r["max_ulp"] == 1
    assert r["rel_err"] == pytest.approx(abs(a[2, 3] - b[2, 3]) / np.linalg.norm(b))
    a[0, 0] += 1e-6
    r = C.compare_arrays(a, b, "double", 1e-13)
    assert not r["ok"] and r["n_diff"] == 2 and r["max_abs_err"] == pytest.approx(1e-6, rel=1e-6)
    # the same entries in another shape are compared in column-major order
    r = C.compare_arrays(b.reshape(-1, 1, order="F"), b, "double", 1e-13)
    assert r["ok"] and r["rel_err"] == 0
    # a different number of entries fails
    assert not C.compare_arrays(b[:, :3], b, "double", 1e-13)["ok"]
    # NaN on one side only fails, on both sides agrees
    x = b.copy()
    x[1, 1] = np.nan
    assert not C.compare_arrays(x, b, "double", 1e-13)["ok"]
    assert C.compare_arrays(x, x.copy(), "double", 1e-13)["ok"]


def test_single_precision_tolerance():
    b = np.linspace(1, 2, 100).astype(np.float32)
    a = b * np.float32(1 + 3e-7)
    r = C.compare_arrays(a, b, "single", C.DEFAULT_RTOL["single"])
    assert r["ok"] and 0 < r["rel_err"] < 1e-6
    assert not C.compare_arrays(a * np.float32(1.001), b, "single", 1e-4)["ok"]


def test_compare_index_is_exact():
    a = np.arange(1, 11).reshape(-1, 1)
    assert C.compare_index(a, a.astype(float))["ok"]
    b = a.astype(float).copy()
    b[4] = 99
    r = C.compare_index(a, b)
    assert not r["ok"] and r["n_diff"] == 1 and "entry 5" in r["note"]


def _pool_model():
    # one conv layer: 2 channels, 4x4 conv output, 2x2 pooling -> 2x2 output
    return struct(ch_input=cell([1, 2]), ht_input=cell([4, 2]), wd_input=cell([4, 2]),
                  ht_conv=cell([4]), wd_conv=cell([4]))


def test_pooling_flips_near_tie_and_real():
    model = _pool_model()
    n, D_conv = 1, 2 * 16
    sig = np.arange(1.0, D_conv + 1).reshape(2, -1, order="F")   # distinct values
    idx = np.arange(1, 9).reshape(-1, 1) * 3                      # any winners
    idx_m = idx.copy()
    idx_m[3] = 4
    s = sig.reshape(-1, order="F").copy()
    # near-tie: the two candidates differ by 1 ULP
    s[idx_m[3, 0] - 1] = np.nextafter(s[idx[3, 0] - 1], 0)
    info = C.pooling_flips(model, 1, n, idx, idx_m, s.reshape(2, -1, order="F"), None, "double")
    assert info["count"] == 1 and info["near_ties"] == 1
    assert info["first"][0]["instance"] == 1 and info["first"][0]["channel"] == 2
    # a real flip: far-apart values
    info = C.pooling_flips(model, 1, n, idx, idx_m, sig, None, "double")
    assert info["count"] == 1 and info["near_ties"] == 0


def _model(LC=2, L=3, pool=(2, 1)):
    return struct(L=L, LC=LC, wd_subimage_pool=cell(list(pool)))


def test_canonical_stages_cover_every_layer():
    keys = canonical_stages(_model())
    fwd = {m for m, d, s in keys if d == "forward"}
    bwd = {m for m, d, s in keys if d == "backward"}
    assert fwd == {1, 2, 3} and bwd == {1, 2, 3}
    assert (1, "forward", "idx_pool") in keys and (2, "forward", "idx_pool") not in keys
    assert (1, "backward", "WtDelta") not in keys and (2, "backward", "unpad") in keys
    # backward runs from layer L down to 1
    assert [m for m, d, s in keys if d == "backward"][0] == 3


def _result(ok=True):
    stages = []
    for key in canonical_stages(_model()):
        r = C.StageResult(*key, kind=C.kind_of(key[2]), compared=True, ok=True, rel_err=1e-16,
                          max_abs_err=1e-15, max_ulp=2, n_diff=3, numel=10, shape_python=[2, 5],
                          shape_matlab=[2, 5], source="trace")
        stages.append(r)
    stages[3].compared, stages[3].ok, stages[3].note = False, None, "not exposed by the MATLAB code"
    first = None
    if not ok:
        stages[5].ok, stages[5].rel_err = False, 0.3
        first = {"layer": stages[5].layer, "direction": stages[5].direction, "stage": stages[5].stage}
    res = Result(ok, "seed", "matlab_ref/seed", "demo.config", "generated", 8, "double", "propagated", 1e-13,
                 stages, first, {}, {"total_s": 1.5}, [], {"python": 1.0, "matlab": 1.0})
    rng = np.random.default_rng(1)
    b = rng.standard_normal((30, 500))
    res.heatmap = heatmap_grid(b + 1e-12 * rng.standard_normal(b.shape), b, "double")
    res.heatmap.update(layer=1, direction="forward", stage="phiZ", rel_err=1e-12)
    return res


def test_json_has_the_contract_fields(tmp_path):
    res = _result(ok=False)
    f = tmp_path / "r.json"
    write_json(res, f)
    d = json.loads(f.read_text())
    assert d["pass"] is False and d["layout"] == "seed"
    assert set(d["first_divergence"]) == {"layer", "direction", "stage"}
    for s in d["stages"]:
        assert {"layer", "direction", "stage", "rel_err", "max_abs_err", "max_ulp", "ok"} <= set(s)
    assert d["not_compared"] and d["not_compared"][0]["reason"]


def test_terminal_table_and_html(tmp_path):
    res = _result(ok=False)
    text = terminal_table(res)
    assert "FAIL" in text and "first divergence at layer" in text
    page = html_report(res)

    class P(html.parser.HTMLParser):
        tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            for k, v in attrs:
                assert not (k in ("src", "href") and v and "://" in v), "external resource"

    p = P()
    p.feed(page)
    p.close()
    assert p.tags.count("svg") == 2 and "table" in p.tags and "style" in p.tags
    assert "<script" not in page
    assert "PASS" in terminal_table(_result(ok=True))


def test_heatmap_grid_blocks():
    b = np.zeros((100, 1000))
    a = b.copy()
    a[99, 999] = 1.0
    hm = heatmap_grid(a, b, "double", max_rows=10, max_cols=10)
    grid = np.array(hm["grid"])
    assert grid.shape == (10, 10) and grid[-1, -1] == 1.0 and grid.sum() == 1.0
