"""``simplecnn_py/fast/Jacobian.py``, ``fast/JTBJv.py`` and ``fast/R_JTBJv.py`` against
the reference lines of ``Jacobian``, ``JTBJv`` and ``R_JTBJv`` (run under
``fast.use_reference()``):

* the Jacobian's pooling and phi scatters are data movement: bit-identical
  to the reference's ``vTP(..., 'pool_Jacobian' | 'phi_Jacobian')`` on the raw
  bytes, chunk by chunk;
* ``dzdS{m}`` bit-identical for the fully-connected layers and the top conv
  layer, equal to rounding below, independent of the chunks and threads;
* the Gauss-Newton products equal to rounding, in double and single;
* a Newton run takes the same steps (f to 1e-12, the same #CG) on both paths;
* the fast routines step aside when tracing or for foreign index maps.
"""
import copy

import numpy as np
import pytest

from simplecnn_py import fast
from simplecnn_py.support import trace
from simplecnn_py.fast import workspace as fast_workspace
from simplecnn_py.fast import Jacobian as fast_Jacobian
from simplecnn_py.fast import JTBJv as fast_JTBJv
from simplecnn_py.fast import R_JTBJv as fast_R_JTBJv
from simplecnn_py.cnn.cells_to_vec import cells_to_vec
from simplecnn_py.support.conventions import struct
from simplecnn_py.cnn.feedforward import feedforward
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.Jacobian import Jacobian
from simplecnn_py.opt.JTBJv import JTBJv
from simplecnn_py.opt.R_JTBJv import R_JTBJv
from simplecnn_py.cnn.vTP import vTP

from test_port_common import FAST_PATH_SHAPES, make_param, make_prob, perturb_biases, rel, same_bytes

SHAPES = FAST_PATH_SHAPES


def setup(name, n, precision="double", seed=0):
    """(param, model, prob, net after a reference feedforward)."""
    param = make_param(**SHAPES[name], precision=precision)
    model = perturb_biases(init_model(param, seed=seed), seed=seed + 1)
    dtype = np.float64 if precision == "double" else np.float32
    prob = make_prob(model, n, seed=seed + 2, dtype=dtype)
    prob.data[1::3] = prob.data[0::3][: prob.data[1::3].shape[0]]      # ties in the pooling windows
    with fast.use_reference():
        net = feedforward(prob.data, param, model, init_net(param, model))
    return param, model, prob, net


@pytest.fixture(autouse=True)
def fast_paths_on():
    """The fast side runs on the fast paths even under SIMPLECNN_REFERENCE=1;
    the reference side is always inside ``fast.use_reference()``."""
    with fast.use_reference(False):
        yield


@pytest.fixture
def tiny_chunks(monkeypatch):
    """One instance per chunk: many chunks, spread over the threads."""
    monkeypatch.setattr(fast_workspace, "CHUNK_BYTES", 1)


def check_jacobian(model, net, tol):
    with fast.use_reference():
        want = Jacobian(model, copy.copy(net))
    got = fast_Jacobian.Jacobian(model, copy.copy(net))
    assert got is not None
    L, LC = model.L, model.LC
    for m in range(1, L + 1):
        a, b = got.dzdS[m], want.dzdS[m]
        assert a.shape == b.shape and a.dtype == b.dtype and a.flags.f_contiguous, m
        if m >= LC:
            assert same_bytes(a, b), m                        # nothing but data movement before them
        else:
            assert rel(a, b) <= tol, (m, rel(a, b))
            assert np.array_equal(a == 0, b == 0) or rel(a, b) == 0, m   # the same zeros (pooling, masks)
    return got


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_pool_and_phi_jacobian_scatters_bit_identical(name, precision):
    param, model, prob, net = setup(name, 5, precision)
    n, nL, dtype = net.num_sampled_data, model.nL, net.Z[1].dtype
    g = np.random.default_rng(3)
    work = {}
    for m in range(1, model.LC + 1):
        d, d_in = model.ch_input[m + 1], model.ch_input[m]
        a_conv, b_conv = model.ht_conv[m], model.wd_conv[m]
        if model.wd_subimage_pool[m] > 1:
            a_out, b_out = model.ht_input[m + 1], model.wd_input[m + 1]
            V = g.standard_normal((d, a_out * b_out * nL * n)).astype(dtype)
            V[:, ::4] *= 0.0                                  # -0.0 where V was negative
            V = np.asfortranarray(V)
            with fast.use_reference():
                want = vTP(param, model, net, m, V, "pool_Jacobian")
            got = np.full(d * a_conv * b_conv * nL * n, np.nan, dtype=dtype)
            G4 = got.reshape((d, a_conv, b_conv, nL * n), order="F")
            V4 = V.reshape((d, a_out, b_out, nL * n), order="F")
            for c0, c1 in [(0, 2), (2, 3), (3, n)]:           # chunk by chunk
                fast_Jacobian.pool_jacobian_into(G4[..., c0 * nL:c1 * nL], V4[..., c0 * nL:c1 * nL],
                                                      net.idx_pool[m][:, c0:c1], nL, work)
            assert same_bytes(got, want), (name, m)
        h, s = model.wd_filter[m], model.strides[m]
        a_pad, b_pad = model.ht_pad[m], model.wd_pad[m]
        V = g.standard_normal((h * h * d_in, a_conv * b_conv * nL * n)).astype(dtype)
        V[:, ::3] *= 0.0
        V = np.asfortranarray(V)
        with fast.use_reference():
            want = vTP(param, model, net, m, V, "phi_Jacobian")
        got = np.empty(d_in * a_pad * b_pad * nL * n, dtype=dtype)
        fast_Jacobian.phi_jacobian_into(got.reshape((d_in, a_pad, b_pad, nL * n), order="F"),
                                             V.reshape((h, h, d_in, a_conv, b_conv, nL * n), order="F"), h, s)
        assert same_bytes(got, want), (name, m)


@pytest.mark.parametrize("precision,tol", [("double", 1e-14), ("single", 1e-5)])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_jacobian_equals_reference(name, precision, tol):
    param, model, prob, net = setup(name, 5, precision)
    check_jacobian(model, net, tol)


def test_jacobian_many_chunks_and_threads_give_the_same_bits(tiny_chunks, monkeypatch):
    param, model, prob, net = setup("mnist_small", 7)
    many = check_jacobian(model, net, 1e-14)
    monkeypatch.setenv("SIMPLECNN_THREADS", "1")
    one = fast_Jacobian.Jacobian(model, copy.copy(net))
    for m in range(1, model.L + 1):
        assert same_bytes(many.dzdS[m], one.dzdS[m]), m


def test_jacobian_single_instance():
    param, model, prob, net = setup("three_conv", 1)
    check_jacobian(model, net, 1e-14)


@pytest.mark.parametrize("precision,tol", [("double", 1e-13), ("single", 1e-5)])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_jtbjv_equals_reference(name, precision, tol):
    param, model, prob, net = setup(name, 5, precision)
    with fast.use_reference():
        net = Jacobian(model, net)
    v = np.random.default_rng(4).standard_normal(cells_to_vec(model.weight, model.bias).shape)
    v = v.astype(net.Z[1].dtype)
    with fast.use_reference():
        want = JTBJv(model, net, v)
    got = fast_JTBJv.JTBJv(model, net, v)
    assert got is not None and got.dtype == want.dtype and got.shape == want.shape
    assert rel(got, want) <= tol, rel(got, want)
    # and the dispatch: JTBJv runs the fast path unless the reference is selected
    assert same_bytes(JTBJv(model, net, v), got)


@pytest.mark.parametrize("precision,tol", [("double", 1e-13), ("single", 1e-5)])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_jtbjv_on_the_compact_jacobian(name, precision, tol):
    """The fast Jacobian keeps pooled layers' dzdS compact; JTBJv reads that
    form without expanding it and gives the reference's product."""
    param, model, prob, net = setup(name, 5, precision)
    v = np.random.default_rng(7).standard_normal(cells_to_vec(model.weight, model.bias).shape)
    v = v.astype(net.Z[1].dtype)
    with fast.use_reference():
        want = JTBJv(model, Jacobian(model, copy.copy(net)), v)
    fast_out = Jacobian(model, copy.copy(net))                               # dispatches to the fast path
    assert isinstance(fast_out.dzdS, fast_Jacobian.LazyDzdS)
    pooled = [m for m in range(1, model.LC + 1) if model.wd_subimage_pool[m] > 1]
    assert sorted(fast_out.dzdS.compact) == pooled
    got = JTBJv(model, fast_out, v)
    assert not any(fast_out.dzdS.expanded(m) for m in pooled)
    assert rel(got, want) <= tol, rel(got, want)


def test_jtbjv_many_chunks_and_threads_give_the_same_bits(tiny_chunks, monkeypatch):
    param, model, prob, net = setup("mnist_small", 7)
    net = fast_Jacobian.Jacobian(model, net)
    v = np.random.default_rng(8).standard_normal(cells_to_vec(model.weight, model.bias).shape)
    with fast.use_reference():
        want = JTBJv(model, net, v)                                    # reads the expanded dzdS
    many = fast_JTBJv.JTBJv(model, net, v)
    assert rel(many, want) <= 1e-13
    monkeypatch.setenv("SIMPLECNN_THREADS", "1")
    assert same_bytes(fast_JTBJv.JTBJv(model, net, v), many)


def test_lazy_dzdS_reads_and_assigns_like_a_cell():
    param, model, prob, net = setup("one_conv", 3)
    fast_out = fast_Jacobian.Jacobian(model, copy.copy(net))
    with fast.use_reference():
        want = Jacobian(model, copy.copy(net))
    assert [same_bytes(a, b) for a, b in zip(fast_out.dzdS, want.dzdS)] == [True] * model.L
    assert fast_out.dzdS.expanded(1) and len(fast_out.dzdS) == model.L
    fast_out.dzdS[1] = np.zeros(3)
    assert 1 not in fast_out.dzdS.compact and fast_out.dzdS[1].shape == (3,)


def test_fast_paths_step_aside_when_tracing_and_for_foreign_maps():
    param, model, prob, net = setup("one_conv", 3)
    with trace.tracing():
        assert fast_Jacobian.Jacobian(model, copy.copy(net)) is None
    foreign = struct(**vars(net))
    foreign.idx_phiZ = net.idx_phiZ.__class__([np.flipud(i) for i in net.idx_phiZ])
    assert fast_Jacobian.Jacobian(model, foreign) is None
    v = np.ones(cells_to_vec(model.weight, model.bias).shape)
    assert fast_JTBJv.JTBJv(model, net, v) is None        # no dzdS yet


@pytest.mark.parametrize("precision,tol", [("double", 1e-13), ("single", 1e-5)])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_r_jtbjv_equals_reference(name, precision, tol):
    param, model, prob, net = setup(name, 5, precision)
    v = np.random.default_rng(5).standard_normal(cells_to_vec(model.weight, model.bias).shape)
    v = v.astype(net.Z[1].dtype)
    with fast.use_reference():
        want = R_JTBJv(model, net, v)
    got = fast_R_JTBJv.R_JTBJv(model, net, v)
    assert got is not None and got.dtype == want.dtype and got.shape == want.shape
    assert rel(got, want) <= tol, rel(got, want)
    assert same_bytes(R_JTBJv(model, net, v), got)                   # the dispatch


def test_r_jtbjv_many_chunks_threads_and_the_fast_feedforward(tiny_chunks, monkeypatch):
    """Results independent of the threads (bit for bit); a net from the fast
    feedforward (phiZ kept by the fused pass) gives the reference's values."""
    param, model, prob, net = setup("mnist_small", 7)
    monkeypatch.setattr(fast_workspace, "CHUNK_BYTES", 1)
    fast_net = feedforward(prob.data, param, model, init_net(param, model))
    v = np.random.default_rng(6).standard_normal(cells_to_vec(model.weight, model.bias).shape)
    with fast.use_reference():
        want = R_JTBJv(model, net, v)
    many = fast_R_JTBJv.R_JTBJv(model, fast_net, v)
    assert rel(many, want) <= 1e-13
    monkeypatch.setenv("SIMPLECNN_THREADS", "1")
    assert same_bytes(fast_R_JTBJv.R_JTBJv(model, fast_net, v), many)


@pytest.mark.parametrize("jacobian", [1, 0])
def test_newton_takes_the_same_steps_on_both_paths(jacobian, capsys):
    """cnn_train -s 1 on the fast paths and on the reference path: the same
    #CG, alpha and lambda at every iteration, f to 1e-12 (a subset of several
    bsize chunks, so CG sums the products over nets).  Inputs of a modest
    scale keep the damped Gauss-Newton system well conditioned: on an
    ill-conditioned one CG magnifies the products' rounding differences
    (1e-16) into the step, on either path and on MATLAB's side alike."""
    from simplecnn_py.cnn_train import cnn_train

    cfg = make_param(**SHAPES["mnist_small"])
    g = np.random.default_rng(4)
    Z = 0.2 * g.standard_normal((40, cfg.ht_input * cfg.wd_input * cfg.ch_input[1]))
    y = g.integers(0, cfg.nL, 40)
    options = f"-s 1 -iter_max 3 -GNsize 9 -bsize 4 -Jacobian {jacobian}"
    _, fast_out = cnn_train(y, Z, copy.deepcopy(cfg), options, 5)
    with fast.use_reference():
        _, ref = cnn_train(y, Z, copy.deepcopy(cfg), options, 5)
    assert fast_out.cg == ref.cg and fast_out.alpha == ref.alpha
    assert getattr(fast_out, "lambda") == getattr(ref, "lambda")
    np.testing.assert_allclose(fast_out.f, ref.f, rtol=1e-12)
    np.testing.assert_allclose(fast_out.gnorm, ref.gnorm, rtol=1e-12)
