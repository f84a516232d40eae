"""Replayed randomness: the Octave shadows of randn/rand/randperm serve the
Python side's draws bit for bit, in MATLAB's shapes, and say so when the two
sides draw differently.

The oracle is the Python side's own record of its draws (a
``RecordingStream``): every value the MATLAB side receives is compared
exactly (``array_equal``, after a binary round trip through a .mat file).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from conftest import TINY_CONFIG, needs_octave, octave_quote as _q
from simplecnn_harness.training.replay import (REPLAY_DIR, Draw, RecordingStream, Replay, ReplayDivergence,
                                      draws_from_log, write_draws)
from simplecnn_py.support.rng import Stream

REPO = Path(__file__).resolve().parents[3]
CURRENT = REPO / "matlab_ref" / "current" / "MATLAB"


# --- Python side only ------------------------------------------------------------

def test_recording_changes_no_value():
    """A RecordingStream draws exactly what a plain Stream with the same seed draws."""
    a, b = Stream(11), RecordingStream(11)
    for s in (a, b):
        s.out = [s.randn(3, 4), s.randperm(9), s.rand(2, 5), s.randperm(9, 4), s.randn(1, 7)]
    for x, y in zip(a.out, b.out):
        assert np.array_equal(x, y)
    assert [d.kind for d in b.draws] == ["randn", "randperm", "rand", "randperm", "randn"]
    assert [d.shape for d in b.draws] == [(3, 4), (9, 9), (2, 5), (9, 4), (1, 7)]
    assert np.array_equal(b.draws[0].values, b.out[0].reshape(-1, order="F"))   # column-major fill
    assert b.counts()["randperm"] == (2, 13)


def test_draw_file_layout(tmp_path):
    s = RecordingStream(2)
    s.randn(2, 3)
    s.randperm(5, 2)
    s.randn(4, 1)
    write_draws(tmp_path / "d.mat", s)
    v = scipy.io.loadmat(tmp_path / "d.mat")
    assert np.array_equal(v["randn_values"].ravel(),
                          np.concatenate([s.draws[0].values, s.draws[2].values]))
    assert v["randn_shapes"].tolist() == [[2, 3], [4, 1]]
    assert v["randperm_shapes"].tolist() == [[5, 2]]
    assert v["rand_values"].size == 0


def test_draws_from_plain_log():
    s = Stream(4)
    s.log = []
    s.randn(2, 2)
    s.randperm(3)
    d = draws_from_log(s.log)
    assert [(x.kind, x.shape) for x in d] == [("randn", (4, 1)), ("randperm", (3, 3))]
    assert Draw("randperm", (5, 2), np.zeros(2)).call() == "randperm(5, 2)"


def test_shadows_are_valid_matlab():
    """The shadow files run in MATLAB too: the lint of matlab_ref applies."""
    from test_matlab_syntax import lint_text

    files = sorted(Path(REPLAY_DIR).glob("*.m"))
    assert {f.name for f in files} >= {"randn.m", "rand.m", "randperm.m", "rng.m", "RandStream.m"}
    problems = [p for f in files for p in lint_text(f.read_text(), f.name)]
    assert problems == []


# --- Octave side --------------------------------------------------------------------

@pytest.fixture(scope="module")
def octave():
    from simplecnn_harness.octave.session import OctaveSession

    with OctaveSession(timeout=120) as o:
        yield o


def _fetch(octave, tmp_path, names):
    f = tmp_path / "got.mat"
    octave.eval(f"save('-v7', '{_q(f)}', {', '.join(repr(n).replace(chr(34), chr(39)) for n in names)});")
    return scipy.io.loadmat(f)


@needs_octave
def test_shadows_serve_the_logged_values_bit_for_bit(octave, tmp_path):
    s = RecordingStream(5)
    A = s.randn(3, 4)
    B = s.randn(5, 5)         # asked as randn(5)
    C = s.randn(2, 6)         # asked as randn([2 6], 'single')
    D = s.rand(4, 2)          # asked as rand(4, 2, 'like', x)
    P = s.randperm(12)
    Q = s.randperm(30, 7)
    E = s.randn(1, 3)         # asked with a stream argument: randn(st, 1, 3)
    with Replay(octave, s, tmp_path) as replay:
        octave.eval("A = randn(3, 4); B = randn(5); C = randn([2 6], 'single'); "
                    "x = zeros(2, 'double'); D = rand(4, 2, 'like', x); P = randperm(12); Q = randperm(30, 7); "
                    "st = RandStream('mt19937ar', 'Seed', 1); E = randn(st, 1, 3); "
                    "cls = class(C);")
        status = replay.status()
    got = _fetch(octave, tmp_path, ["A", "B", "C", "D", "P", "Q", "E", "cls"])
    for name, want in (("A", A), ("B", B), ("D", D), ("E", E)):
        assert got[name].shape == want.shape, name
        assert got[name].dtype == np.float64
        assert np.array_equal(got[name], want), name
    assert got["C"].dtype == np.float32 and str(got["cls"][0]) == "single"
    assert np.array_equal(got["C"], C.astype(np.float32))
    assert got["P"].shape == (1, 12) and np.array_equal(got["P"].ravel(), P.ravel())
    assert got["Q"].shape == (1, 7) and np.array_equal(got["Q"].ravel(), Q.ravel())
    assert sorted(got["P"].ravel().tolist()) == list(range(1, 13))
    assert status["randn"] == (4, 4, 12 + 25 + 12 + 3, 12 + 25 + 12 + 3)
    assert status["randperm"] == (2, 2, 19, 19)
    assert status["rand"] == (1, 1, 8, 8)


@needs_octave
def test_seeding_calls_change_nothing(octave, tmp_path):
    s = RecordingStream(6)
    a = s.randn(2, 3)
    p = s.randperm(8, 3)
    with Replay(octave, s, tmp_path) as replay:
        octave.eval("rand('state', 3); randn('state', 3); rand('seed', 7); rng(42); rng('default'); "
                    "rng(1, 'twister'); r = rng; rng(r); st = RandStream('mt19937ar', 'Seed', 9); "
                    "RandStream.setGlobalStream(st); g = RandStream.getGlobalStream; "
                    "a = randn(2, 3); randn('state', 0); p = randperm(8, 3);")
        status = replay.status()
    got = _fetch(octave, tmp_path, ["a", "p"])
    assert np.array_equal(got["a"], a)
    assert np.array_equal(got["p"].ravel(), p.ravel())
    assert status["randn"][:2] == (1, 1) and status["randperm"][:2] == (1, 1)


@needs_octave
def test_more_draws_than_python_made_is_a_divergence(octave, tmp_path):
    s = RecordingStream(1)
    s.randn(2, 2)
    with pytest.raises(ReplayDivergence, match=r"randn draw #2.*made only 1 randn draw"):
        with Replay(octave, s, tmp_path):
            octave.eval("a = randn(2, 2); b = randn(2, 2);")
    with pytest.raises(ReplayDivergence, match=r"randperm draw #1.*made only 0"):
        with Replay(octave, s, tmp_path):
            octave.eval("p = randperm(4);")


@needs_octave
def test_another_shape_is_a_divergence(octave, tmp_path):
    s = RecordingStream(1)
    s.randn(3, 4)
    s.randperm(6)
    s.randperm(10, 3)
    with pytest.raises(ReplayDivergence, match=r"randn draw #1: the MATLAB side asks randn\(4, 3\), "
                                               r"the Python side drew randn\(3, 4\)"):
        with Replay(octave, s, tmp_path):
            octave.eval("w = randn(4, 3)';")
    with pytest.raises(ReplayDivergence, match=r"randperm draw #1: the MATLAB side asks randperm\(7\), "
                                               r"the Python side drew randperm\(6\)"):
        with Replay(octave, s, tmp_path):
            octave.eval("p = randperm(7);")
    with pytest.raises(ReplayDivergence, match=r"randperm draw #2.*randperm\(10, 4\).*randperm\(10, 3\)"):
        with Replay(octave, s, tmp_path):
            octave.eval("p = randperm(6); q = randperm(10, 4);")
    with pytest.raises(ReplayDivergence, match=r"calls randi\(5, 2, 2\)"):
        with Replay(octave, s, tmp_path):
            octave.eval("k = randi(5, 2, 2);")


@needs_octave
def test_lenient_replay_serves_by_count(octave, tmp_path):
    s = RecordingStream(8)
    A = s.randn(3, 4)
    with Replay(octave, s, tmp_path, strict=False):
        octave.eval("v = randn(12, 1);")
    got = _fetch(octave, tmp_path, ["v"])
    assert np.array_equal(got["v"].ravel(), A.reshape(-1, order="F"))


@needs_octave
def test_fewer_draws_are_reported_and_the_builtins_come_back(octave, tmp_path):
    s = RecordingStream(3)
    x = s.randn(2, 2)
    s.randperm(5)
    with Replay(octave, s, tmp_path) as replay:
        octave.eval("x = randn(2, 2);")
    assert replay.unconsumed() == ["randperm: the MATLAB side used 0 of the Python side's 1 draws"]
    where = octave.eval("disp(which('randn'));")
    assert REPLAY_DIR not in " ".join(where)
    octave.eval("y = randn(2, 2);")
    got = _fetch(octave, tmp_path, ["x", "y"])
    assert np.array_equal(got["x"], x)
    assert not np.array_equal(got["y"], x)            # the built-in generator again


@needs_octave
@pytest.mark.parametrize("config", ["tiny", "mnist-demo-layer4"])
def test_init_model_weights_equal_exactly(octave, tmp_path, config):
    """Python init_model and the current tree's init_model on one stream: the same weights."""
    from simplecnn_py.cnn.init_model import init_model
    from simplecnn_py.cnn.read_config import read_config

    if config == "tiny":
        cfg = tmp_path / "tiny.config"
        cfg.write_text(TINY_CONFIG)
    else:
        cfg = CURRENT / "config" / f"{config}.config"
    s = RecordingStream(21)
    model = init_model(read_config(str(cfg)), s)
    octave.addpath(str(CURRENT / "cnn"))
    try:
        with Replay(octave, s, tmp_path) as replay:
            octave.eval(f"global float_type gpu_use; float_type = 'double'; gpu_use = false; "
                        f"model = init_model(read_config('{_q(cfg)}')); "
                        "weight = model.weight; bias = model.bias;")
            status = replay.status()
    finally:
        octave.rmpath(str(CURRENT / "cnn"))
    got = _fetch(octave, tmp_path, ["weight", "bias"])
    L = model.L
    assert status["randn"][:2] == (L, L)
    for m in range(1, L + 1):
        W = got["weight"].ravel()[m - 1]
        assert W.shape == model.weight[m].shape
        assert np.array_equal(W, model.weight[m]), f"weight{{{m}}}"
        assert np.array_equal(got["bias"].ravel()[m - 1].reshape(-1), model.bias[m].reshape(-1))


@needs_octave
def test_randperm_subsets_equal(octave, tmp_path):
    """Newton's Gauss-Newton subsets (assign_inst_idx) and SGD's batches
    (randperm(l, bsize)) on both sides from one stream."""
    from simplecnn_py.opt.newton import assign_inst_idx

    l, GNsize = 23, 5
    n_subsets = -(-l // GNsize)
    s = RecordingStream(13)
    subsets = []
    for _ in range(2):                              # two permutations
        subsets += [np.asarray(c).ravel() for c in assign_inst_idx(s, GNsize, l)]
    batches = [s.randperm(l, 7).ravel() for _ in range(3)]
    octave.addpath(str(CURRENT / "opt"))
    try:
        with Replay(octave, s, tmp_path) as replay:
            octave.eval(f"l = {l}; GNsize = {GNsize}; S = zeros({2 * n_subsets}, GNsize); "
                        f"for k = 1 : {2 * n_subsets}, j = mod(k-1, {n_subsets}) + 1; "
                        "if j == 1, chunks = assign_inst_idx(GNsize, l); end; "
                        "S(k, :) = chunks{j}; end; "
                        "B = [randperm(l, 7); randperm(l, 7); randperm(l, 7)];")
            status = replay.status()
    finally:
        octave.rmpath(str(CURRENT / "opt"))
    got = _fetch(octave, tmp_path, ["S", "B"])
    assert status["randperm"][:2] == (5, 5)
    for k, sub in enumerate(subsets):
        assert np.array_equal(got["S"][k], sub), f"subset of iteration {k + 1}"
    for j, b in enumerate(batches):
        assert np.array_equal(got["B"][j], b)
    assert not np.array_equal(subsets[0], subsets[n_subsets])   # a new permutation was drawn
