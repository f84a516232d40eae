"""Streamed verdicts (``compare --chunk N``) that need more than per-stage
metrics: pooling flips (near-ties, tie-rule differences, flips downstream
of an earlier fault), isolated mode and the heatmap.  Each case runs a live
MATLAB tree under Octave against the port whole and streamed, with a chunk
size that does not divide the instances, and the two verdicts' JSON must be
the same, apart from the timings, the chunk count and the note saying the
run was streamed (and the instance the streamed first divergence names):
the pooling flips dict to the bit, every stage's ok/explained/notes, and the
same heatmap grid.  Sums over the instances (dlossdW, dlossdb, loss) are
added up per chunk, so their errors agree to rounding, not to the bit.

Trees: matlab_ref/seed with sigma(S) moved by one unit in the last place at
every other position, on images of one grey level each (interior windows
exactly tied on the port's side: near-tie flips), with the last maximum of
each window taken (tie-rule differences), with a forward fault (flips
downstream of it), with a backward fault (isolated mode narrows it to its
stage); the real current simpleNN (../shared; skipped when absent) as it is
and with a fault, in isolated mode.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import TINY_CONFIG, needs_octave
from harness_bundle import real_trees, planted
from tests.conftest import REPO

from simplecnn_harness.compare import Options, run_compare

pytestmark = needs_octave

SEED = REPO / "matlab_ref" / "seed"
SMALL = SEED / "config" / "small-nonsquare.config"
SUMMED = {"dlossdW", "dlossdb", "loss"}
FLAT_CONFIG = """% 8 x 8 one-channel images, both conv layers pooled 2 x 2
L = 3;
LC = 2;
LF = 1;
ht_input = 8;
wd_input = 8;
ch_input = [1,3,4];
wd_pad_added = [1,1];
wd_filter = [3,3];
strides = [1,1];
wd_subimage_pool = [2,2];
full_neurons = [3];
"""
SIGMA = "net.Z{m+1} = max(model.weight{m}*phiZ + model.bias{m}, 0);"
FAULTS = {
    # sigma(S) one unit in the last place larger at every other position: where the port's window
    # values are exactly equal, MATLAB takes another winner, one ULP away (near-ties)
    "ulp": ("cnn/feedforward.m", SIGMA,
            "net.Z{m+1} = max((model.weight{m}*phiZ + model.bias{m}) .* (1 + eps*mod(0:size(phiZ, 2)-1, 2)), 0);"),
    # the last maximum of each window: windows of ReLU zeros are exact ties on both sides (tie rule)
    "lastmax": ("cnn/maxpooling.m", "[Zout, I] = max(reshape(Z, h*h, []), [], 1);\n",
                "[Zout, I] = max(flipud(reshape(Z, h*h, [])), [], 1);\nI = h*h + 1 - I;\n"),
    # a forward fault in sigma(S) of every conv layer: pooling winners then differ downstream of it
    "forward": ("cnn/feedforward.m", "model.weight{m}*phiZ + model.bias{m}, 0);",
                "model.weight{m}*phiZ + model.bias{m} + 1e-2*cos(37*(model.weight{m}*phiZ)), 0);"),
    # a backward fault in W'*Delta of the fully-connected layers
    "backward": ("cnn/lossgrad_subset.m", "V = model.weight{m}'*dXidS;", "V = 1.001*model.weight{m}'*dXidS;"),
}
REAL_FAULT = ("cnn/JTv.m", "v = model.weight{m}'*v;", "v = 1.001*model.weight{m}'*v;")




def flat_images(path, n):
    """``n`` images of one grey level each (signs alternating, so that some
    channels are positive after the ReLU), one of them random."""
    import scipy.io

    Z = np.repeat(((-1.0) ** np.arange(n) * (0.3 + 0.03 * np.arange(n)))[:, None], 64, axis=1)
    Z[5] = np.random.default_rng(3).random(64)
    scipy.io.savemat(path, {"y": (np.arange(n) % 3 + 1.0).reshape(-1, 1), "Z": Z})
    return path


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("stream-verdicts")
    out = {name: planted(SEED, base / name, fault) for name, fault in FAULTS.items()}
    (base / "flat.config").write_text(FLAT_CONFIG)
    (base / "tiny.config").write_text(TINY_CONFIG)
    out.update(flat_config=base / "flat.config", tiny=base / "tiny.config", flat=flat_images(base / "flat.mat", 21))
    return out


def verdicts(tree, config, n, chunk, data=None, mode="propagated"):
    opts = dict(matlab_dir=str(tree), config=str(config), instances=n, data=str(data) if data else None, mode=mode)
    return run_compare(Options(**opts)), run_compare(Options(chunk=chunk, **opts))


def close(a, b, rel=1e-9):
    """Numbers (or nested lists of them) equal, or within ``rel`` of each other."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(close(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b)) or abs(a - b) <= rel * max(abs(a), abs(b))
    return a == b


def assert_same_verdict(whole, streamed, n, chunk, exact=True):
    """The two verdicts' JSON equal but for what streaming adds; the same heatmap.

    ``exact=False``: a stage's errors to rounding (1e-9 relative, or within the
    tolerance both when it passes; n_diff and max_ulp count rounding noise
    too, and are not compared): each side computes a chunk on its own, and a product summing
    over the instances' rows (W'*Delta) may round differently on a chunk than
    on the whole batch."""
    a, b = whole.to_json(), streamed.to_json()
    assert b.pop("chunks") == -(-n // chunk) and "chunks" not in a
    for d in (a, b):
        d.pop("timings")
        d.pop("command")
    streamed_notes = [x for x in b["notes"] if x.startswith("streamed in ")]
    assert len(streamed_notes) == 1
    b["notes"] = [x for x in b["notes"] if x not in streamed_notes]
    fa, fb = a.pop("first_divergence"), dict(b.pop("first_divergence") or {}) or None
    assert (fa is None) == (fb is None)
    if fa is not None:
        assert 1 <= fb.pop("instance") <= n and fb == fa
    la, lb = a.pop("loss"), b.pop("loss")               # a sum over the instances: to rounding
    assert la.keys() == lb.keys() and all(close(la[k], lb[k], 1e-12) for k in la)
    sa, sb = a.pop("stages"), b.pop("stages")
    assert a == b                                       # pooling flips (to the bit), notes, not compared, ...
    for x, y in zip(sa, sb):
        key = (x["layer"], x["direction"], x["stage"])
        if x["stage"] in SUMMED or not exact:           # sums added up per chunk: to rounding
            for k in ("rel_err", "max_abs_err", "max_ulp", "n_diff", "isolated_rel_err"):
                vx, vy = x.pop(k), y.pop(k)
                if k in ("n_diff", "max_ulp"):
                    continue                            # entries differing by rounding noise: counted or not
                noise = x["ok"] and y["ok"] and k != "isolated_rel_err"      # a pass: within the tolerance
                assert close(vx, vy) or (noise and (k == "max_abs_err" or vy <= whole.rtol)), (key, k, vx, vy)
            if x["stage"] in SUMMED:
                x.pop("note"), y.pop("note")            # (the note of a failing sum quotes its error)
        assert x == y, (key, {k: (x[k], y[k]) for k in x if x[k] != y[k]})
    ha, hb = whole.heatmap, streamed.heatmap
    assert (ha is None) == (hb is None)
    if ha is not None and not exact and whole.ok:
        return             # a pass's largest difference is rounding noise, which chunking may move (never shown)
    if ha is not None:
        rounding = ha["stage"] in SUMMED or not exact
        assert {k: v for k, v in ha.items() if k not in ("grid", "scale", "rel_err")} == \
               {k: v for k, v in hb.items() if k not in ("grid", "scale", "rel_err")}
        assert close(ha["scale"], hb["scale"], 1e-12 if rounding else 0.0)
        ga, gb = np.array(ha["grid"]), np.array(hb["grid"])
        assert np.array_equal(ga, gb) or (rounding and np.allclose(ga, gb, rtol=1e-9, atol=1e-12 * ga.max()))
        assert close(ha["rel_err"], hb["rel_err"], 1e-9)


def stage(v, key):
    return next(s for s in v.stages if s.key() == key)


def test_near_tie_flips_are_accepted_and_the_stages_after_them_judged_by_their_isolated_error(trees):
    whole, streamed = verdicts(trees["ulp"], trees["flat_config"], 21, 8, trees["flat"])
    assert_same_verdict(whole, streamed, 21, 8)
    assert streamed.ok
    info = streamed.pooling["1"]
    assert info["count"] > 0 and info["near_ties"] == info["count"] and info["tie_rule"] == 0
    # flips on instances of every chunk; the first ten in column-major order, instances numbered in the run
    assert info["first"][0]["instance"] == 2 and [f["instance"] for f in info["first"]] == \
        sorted(f["instance"] for f in info["first"])
    pool = stage(streamed, (1, "forward", "idx_pool"))
    assert pool.ok and pool.explained and "all near-ties" in pool.note
    grad = stage(streamed, (1, "backward", "pool_gradient"))        # routed elsewhere end to end, right in itself
    assert not grad.ok and grad.explained and grad.rel_err > 0.1 and grad.isolated_rel_err <= 1e-13
    assert any(note.startswith("near-tie pooling flips at layer 1") for note in streamed.notes)
    assert streamed.heatmap["stage"] == "pool_gradient"             # the largest error: the flips' gradient


def test_tie_rule_differences_are_the_first_divergence_with_their_heatmap(trees):
    whole, streamed = verdicts(trees["lastmax"], trees["tiny"], 12, 5)
    assert_same_verdict(whole, streamed, 12, 5)
    assert streamed.first_divergence["stage"] == "idx_pool" and not streamed.ok
    info = streamed.pooling["1"]
    assert info["tie_rule"] == info["count"] > 0 and info["near_ties"] == 0
    hm = streamed.heatmap
    assert (hm["layer"], hm["stage"]) == (1, "idx_pool") and max(map(max, hm["grid"])) > 0


def test_flips_downstream_of_an_earlier_fault_are_said_so(trees):
    whole, streamed = verdicts(trees["forward"], SMALL, 16, 6)
    assert_same_verdict(whole, streamed, 16, 6)
    assert streamed.first_divergence["stage"] == "sigmaS" and streamed.first_divergence["instance"] == 1
    assert any(info.get("downstream_of") == {"layer": 1, "direction": "forward", "stage": "sigmaS"}
               for info in streamed.pooling.values())
    hm = streamed.heatmap                                            # the first divergence's, fault everywhere
    assert (hm["layer"], hm["stage"]) == (1, "sigmaS") and min(map(min, hm["grid"])) >= 0
    assert max(map(max, hm["grid"])) > 1e-4


@pytest.mark.parametrize("name,n,chunk", [(None, 14, 4), ("backward", 15, 6)])
def test_isolated_mode_streamed_on_the_seed(trees, name, n, chunk):
    whole, streamed = verdicts(SEED if name is None else trees[name], SMALL, n, chunk, mode="isolated")
    assert_same_verdict(whole, streamed, n, chunk, exact=False)
    if name is None:
        assert streamed.ok
    else:            # in isolation only the faulty stage differs: W'*Delta of the conv layer
        failing = {s.key() for s in streamed.stages if s.compared and not s.ok}
        assert failing == {(2, "backward", "WtDelta")}, failing


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    base = tmp_path_factory.mktemp("stream-real")
    got = real_trees(base)
    got["fault"] = planted(got["current"], base / "fault", REAL_FAULT)
    return got


@pytest.mark.parametrize("name,mode,n,chunk", [("current", "isolated", 16, 6), ("fault", "isolated", 13, 5),
                                               ("fault", "propagated", 13, 5)])
def test_real_code_streamed_with_isolated_mode_and_heatmap(real, name, mode, n, chunk):
    whole, streamed = verdicts(real[name], real["config"], n, chunk, mode=mode)
    assert_same_verdict(whole, streamed, n, chunk, exact=False)
    assert streamed.ok == (name == "current")
    if name == "fault":
        failing = {s.key() for s in streamed.stages if s.compared and not s.ok}
        first = streamed.first_divergence
        assert (first["direction"], first["stage"]) == ("backward", "WtDelta")
        assert (streamed.heatmap["direction"], streamed.heatmap["stage"]) == ("backward", "WtDelta")
        if mode == "isolated":            # narrowed to the stage the fault is in
            assert {k[2] for k in failing} == {"WtDelta"}, failing
        else:                             # end to end it spreads to the stages after it
            assert len({k[2] for k in failing}) > 1
