"""The streamed judge's pieces, without Octave: the heatmap grid built chunk
by chunk (judge/heatmap.py ``GridStream``, ``MappedAccumulator``) is
``heatmap_grid`` of the whole arrays to the bit; the pooling flips located
chunk by chunk (judge/stream_pooling.py) are ``metrics.pooling_flips`` of
the whole arrays, including the near-ties decided only at the end by the
whole run's sigma(S) error; and ``StreamJudge.heatmap`` on the port's run
with a fault planted in one instance is the whole-batch judge's heatmap.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simplecnn_harness import inputs
from simplecnn_harness.judge import metrics as C
from simplecnn_harness.judge.heatmap import GridStream, MappedAccumulator, heatmap_grid
from simplecnn_harness.judge.stream import StreamJudge
from simplecnn_harness.judge.stream_pooling import LayerFlips
from simplecnn_harness.judge.verdict import judge
from simplecnn_harness.sources.base import SideRun, Stage
from simplecnn_harness.sources.port import PortSource
from simplecnn_py.support.conventions import cell, struct

REPO = Path(__file__).resolve().parents[3]
SMALL = REPO / "matlab_ref" / "seed" / "config" / "small-nonsquare.config"


def pieces(n, cuts):
    """Instance chunks ``[(start, stop)]`` of ``n`` instances cut at ``cuts``."""
    edges = [0] + sorted(cuts) + [n]
    return [(s, e) for s, e in zip(edges, edges[1:]) if e > s]


@pytest.mark.parametrize("per,n,cuts,step", [
    ((7, 5), 300, [1, 64, 65, 200], None),           # 7 x 1500: blocks of 1 x 10 columns
    ((150, 3), 40, [7, 19], None),                   # 150 x 120: rows in blocks of 4
    ((1, 4), 97, [10, 50], None),                    # a 1 x 388 row: a strip
    ((3,), 53, [5, 6, 30], None),                    # 1-D: a strip of 159
    ((2, 3, 1), 61, [8, 40], None),                  # 3-D: a strip
    ((9, 11), 77, [3, 33, 34, 70], 1000),            # blocks of the accumulator cut inside columns
])
def test_the_grid_built_chunk_by_chunk_is_the_whole_arrays(per, n, cuts, step, monkeypatch):
    if step:
        monkeypatch.setattr(C, "STEP", step)
    rng = np.random.default_rng(sum(per) + n)
    shape = per[:-1] + (per[-1] * n,)
    b = rng.standard_normal(shape)
    b.reshape(-1, order="F")[17] = np.inf                  # the scale takes finite magnitudes only
    a = b.copy()
    flat_a = a.reshape(-1, order="F")
    hit = rng.choice(flat_a.size, 9, replace=False)
    flat_a[hit] += rng.standard_normal(9) * 1e-6
    flat_a[hit[0]] = np.nan                                # NaN on one side: an infinite difference
    a = flat_a.reshape(shape, order="F")
    with np.errstate(invalid="ignore"):
        whole = heatmap_grid(a, b, "double")
    stream, acc, plain = None, None, C.Accumulator()
    for s, e in pieces(n, cuts):
        cols = slice(s * per[-1], e * per[-1])
        pa, pb = np.array(a[..., cols]), np.array(b[..., cols])
        if acc is None:
            stream = GridStream(pb.shape, e - s, n)
            acc = MappedAccumulator(stream)
        with np.errstate(invalid="ignore"):       # inf - inf, NaN: compared, not warned (as the judge runs)
            acc.feed(C.flat(pa), C.flat(pb))
            plain.feed(C.flat(pa), C.flat(pb))
    with np.errstate(invalid="ignore"):
        acc.flush()
    got = stream.result(list(b.shape))
    assert got == whole
    assert np.isinf(np.array(got["grid"])).any() and np.array(got["grid"]).max(initial=0) > 0
    # the accumulator (equal blocks taken on a shorter path) is still the metrics core's, to the bit
    with np.errstate(invalid="ignore"):
        res, ref = acc.result(1e-13), plain.result(1e-13)
        whole_metrics = C.compare_arrays(a, b, "double", 1e-13)
    assert (acc.seen, acc.first, acc.sq_b, acc.sq_d) == (plain.seen, plain.first, plain.sq_b, plain.sq_d)
    assert {k: v for k, v in res.items() if k != "rel_err"} == {k: v for k, v in ref.items() if k != "rel_err"}
    assert np.isnan(res["rel_err"]) and np.isnan(ref["rel_err"])          # (NaN on one side)
    assert (res["n_diff"], res["max_abs_err"]) == (whole_metrics["n_diff"], whole_metrics["max_abs_err"])


def test_equal_pieces_add_no_block_maxima():
    calls = []

    class Counting(GridStream):
        def add(self, x, y, offset):
            calls.append(offset)
            super().add(x, y, offset)

    b = np.arange(1.0, 1 + 6 * 50).reshape(6, 50, order="F")
    stream = Counting(b.shape, 50, 50)
    acc = MappedAccumulator(stream)
    acc.feed(C.flat(b), C.flat(b.copy()))
    acc.flush()
    assert calls == [] and stream.scale == 300.0 and stream.result()["grid"] == heatmap_grid(b, b, "double")["grid"]


def pool_model():
    # one conv layer: 2 channels, 4 x 4 conv output, 2 x 2 pooling -> 2 x 2 output (8 windows per instance)
    return struct(ch_input=cell([1, 2]), ht_input=cell([4, 2]), wd_input=cell([4, 2]),
                  ht_conv=cell([4]), wd_conv=cell([4]), ht_pad=cell([4]), wd_pad=cell([4]))


@pytest.mark.parametrize("sig_err", [0.0, 1e-9, 1.0])
def test_flips_located_chunk_by_chunk_are_the_whole_runs(sig_err):
    """Winners moved in some windows of 23 instances: onto an equal value
    (tie rule), one a few ULP away (near-tie), 2e-10 away (a near-tie only
    within the sigma(S) error 1e-9), far away (real), onto an index outside
    the window array (unknown); 10 first flips kept across the chunks."""
    model, n = pool_model(), 23
    rng = np.random.default_rng(4)
    S = rng.random((32, n)) + 1.0                   # sigma(S): 32 values per instance
    idx = rng.integers(1, 33, (8, n))
    idx_m = idx.copy()
    S_m = S.copy()
    kinds = ["rule", "ulp", "sig", "real", "out"]
    for j in range(n):
        for k in rng.choice(8, rng.integers(0, 3), replace=False):
            kind = kinds[(j + k) % len(kinds)]
            p = idx[k, j] - 1
            q = (p + 5) % 32
            idx_m[k, j] = q + 1 if kind != "out" else 99
            if kind == "rule":
                S[q, j] = S_m[q, j] = S[p, j]
            elif kind == "ulp":                      # equal on the port's side, 2 ULP apart on MATLAB's
                S[q, j] = S[p, j]
                S_m[q, j] = np.nextafter(np.nextafter(S[p, j], 3.0), 3.0)
            elif kind == "sig":
                S[q, j] = S[p, j]
                S_m[q, j] = S[p, j] + 2e-10
    sig, sig_m = S.reshape(2, -1, order="F"), S_m.reshape(2, -1, order="F")
    whole = C.pooling_flips(model, 1, n, idx, idx_m, sig, sig_m, "double", sig_err)
    flips = LayerFlips()
    for s, e in pieces(n, [4, 5, 13]):
        flips.add(model, 1, s, e - s, idx[:, s:e], idx_m[:, s:e], sig[:, 16 * s:16 * e], sig_m[:, 16 * s:16 * e],
                  "double")
    assert flips.info(sig_err) == whole
    assert whole["count"] > 10 and whole["tie_rule"] > 0 and 0 < whole["near_ties"] < whole["count"]
    within_ulps = C.pooling_flips(model, 1, n, idx, idx_m, sig, sig_m, "double", 0.0)["near_ties"]
    assert (whole["near_ties"] > within_ulps) == (sig_err > 0)   # the sigma(S) error decides some only at the end


def test_the_streamed_judges_heatmap_is_the_whole_batchs():
    """The port on 9 instances against itself with instance 5's columns of layer 2's phi(Z) moved by 1e-6."""
    ins = inputs.load(config=str(SMALL), instances=9, seed=5)
    key, bad = (2, "forward", "phiZ"), 5

    def run(part, offset):
        with PortSource().run(part) as r:
            stages = dict(r.stages)
            v = np.array(stages[key].value, dtype=np.float64, order="F")
            per = v.shape[-1] // int(part.prob.l)
            if offset <= bad < offset + int(part.prob.l):
                j = bad - offset
                v[..., j * per:(j + 1) * per] *= 1 + 1e-6
            stages[key] = Stage(v, "planted")
            return r, SideRun(stages, r.loss, {}, None, "", {"layout": "seed", "tree": "planted"})

    port, planted = run(ins, 0)
    whole = judge(planted, port, ins, "double")
    sj = StreamJudge(ins.model, "double", n=9)
    for s, e in pieces(9, [4, 7]):
        part = inputs.Inputs(ins.param, ins.model, inputs.subset(ins.prob, e - s, s), ins.config, ins.config_desc,
                             ins.data_desc, ins.precision)
        p, m = run(part, s)
        sj.add(m, p, e - s)
    rows, first, _ = sj.results()
    assert first == dict(whole.first_divergence, instance=bad + 1)
    hm = sj.heatmap(rows)
    assert hm == whole.heatmap and (hm["layer"], hm["stage"]) == (2, "phiZ")
    assert np.count_nonzero(np.array(hm["grid"])) > 0
