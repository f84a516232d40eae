"""The fast paths (simplecnn_py.fastpaths) against the line-for-line routines.

Data movement (padding, phiZ, pooling, crop) and the vTP scatters must be
bit-identical to the reference: compared on the raw bytes, so a -0.0 where
the reference has +0.0 fails.  The fused lossgrad_subset multiplies chunk by
chunk, and OpenBLAS orders a product's sums by its width (and thread count),
so whatever follows a product agrees with the reference to rounding; the
pooling winners must agree exactly (no entry ties to the last bit here but
ReLU's exact zeros, which tie whatever the rounding).
The reference side always runs under ``fastpaths.use_reference()``, so these
tests hold whether or not the port's routines dispatch to the fast paths.
"""
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from simplecnn_py import fastpaths, trace
from simplecnn_py.conventions import cols, struct, vec
from simplecnn_py.feedforward import feedforward
from simplecnn_py.fungrad_minibatch import fungrad_minibatch
from simplecnn_py.init_model import init_model
from simplecnn_py.init_net import init_net
from simplecnn_py.lossgrad_subset import lossgrad_subset
from simplecnn_py.maxpooling import maxpooling
from simplecnn_py.padding_and_phiZ import padding_and_phiZ
from simplecnn_py.vTP import vTP

from test_port_common import FAST_PATH_SHAPES, MNIST_SHAPE, make_param, make_prob, perturb_biases, rel, same_bytes

# more shapes than the port tests: stride larger than the filter (gaps),
# 1x1 filters, pooling width 4 with leftovers, a single instance
SHAPES = dict(FAST_PATH_SHAPES)
SHAPES["stride_gt_filter"] = dict(ht=12, wd=9, ch=[2, 3], pad=[1], filt=[2], stride=[3], pool=[2], full=[3])


def setup(name, n, precision="double", seed=0, ties=True):
    """(param, model, prob, net after a reference feedforward)."""
    param = make_param(**SHAPES[name], precision=precision)
    model = perturb_biases(init_model(param, seed=seed), seed=seed + 1)
    dtype = np.float64 if precision == "double" else np.float32
    prob = make_prob(model, n, seed=seed, dtype=dtype)
    if ties:
        # exact ties inside pooling windows beyond ReLU's zeros: repeat pixels
        prob.data[1::3] = prob.data[0::3][: prob.data[1::3].shape[0]]
    net = init_net(param, model)
    with fastpaths.use_reference():
        net = feedforward(prob.data, param, model, net)
    return param, model, prob, net


# --- per-routine fast paths: bit-identical ----------------------------------

@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_padding_and_phiZ_bit_identical(name, precision):
    param, model, prob, net = setup(name, 7, precision)
    for m in range(1, model.LC + 1):
        with fastpaths.use_reference():
            want = padding_and_phiZ(model, net, m)
        got = fastpaths.padding_and_phiZ(model, net, m)
        assert got is not None and same_bytes(got, want), (name, m)


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_maxpooling_bit_identical_with_ties(name, precision):
    param, model, prob, net = setup(name, 6, precision)
    for m in range(1, model.LC + 1):
        if model.wd_subimage_pool[m] == 1:
            continue
        # the pre-pooling sigma(S) of layer m, as feedforward hands it to maxpooling
        sub = struct(**vars(net))
        sub.Z = net.Z.__class__(len(net.Z))
        with fastpaths.use_reference():
            phiZ = padding_and_phiZ(model, net, m)
        S = np.maximum(np.matmul(phiZ.T, model.weight[m].T).T + model.bias[m], 0)
        S[:, ::5] = 0                                 # many all-zero windows: ties everywhere
        sub.Z[m + 1] = np.asfortranarray(S)
        with fastpaths.use_reference():
            Zref, Iref = maxpooling(model, sub, m)
        got = fastpaths.maxpooling(model, sub, m)
        assert got is not None
        assert same_bytes(got[0], Zref) and same_bytes(got[1], Iref), (name, m)


def test_maxpooling_first_max_and_signed_zeros():
    """Windows with equal entries, -0.0 against +0.0 in both orders, and
    negative maxima: the winner is the first maximal entry in the window
    order, its value taken bit for bit (numpy's maximum is not first-wins
    on signed zeros in general: the fast path relies on the operand order)."""
    param = make_param(ht=4, wd=6, ch=[1, 1], pad=[0], filt=[1], stride=[1], pool=[2], full=[2])
    model = init_model(param, seed=0)
    net = init_net(param, model)
    net.num_sampled_data = 1
    S = np.array([[-0.0, 0.0, 3.0, 6.0, 0.0, 0.0],       # windows (2x2, height offset fastest):
                  [0.0, 0.0, 4.0, 9.0, -0.0, -0.0],      # [-0,+0,+0,+0] [+0,-0,-0,-0] ...
                  [-2.0, -1.0, 5.0, 5.0, 1.0, 2.0],
                  [-1.0, -3.0, 5.0, 5.0, 2.0, 2.0]])
    net.Z[2] = np.asfortranarray(S.reshape(1, -1, order="F"))
    with fastpaths.use_reference():
        Zref, Iref = maxpooling(model, net, 1)
    Zf, If = fastpaths.maxpooling(model, net, 1)
    assert same_bytes(Zf, Zref) and same_bytes(If, Iref)
    assert Iref.ravel().tolist() == [1, 4, 14, 11, 17, 20]   # first max wins every tie
    assert np.signbit(Zf[0, 0]) and not np.signbit(Zf[0, 4])  # -0.0 first / +0.0 first


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_vTP_bit_identical_all_ops(name, precision):
    """All four ops, with values containing -0.0 (masked negatives): the
    accumarray result starts from +0 and adds in subscript order."""
    param, model, prob, net = setup(name, 5, precision)
    n, nL = net.num_sampled_data, model.nL
    g = np.random.default_rng(3)
    dtype = net.Z[1].dtype
    for m in range(1, model.LC + 1):
        pooled = model.wd_subimage_pool[m] > 1
        d_out = model.ch_input[m + 1]
        rows = model.wd_filter[m] ** 2 * model.ch_input[m]
        conv = model.ht_conv[m] * model.wd_conv[m]
        out = model.ht_input[m + 1] * model.wd_input[m + 1]
        cases = [("phi_gradient", (rows, conv * n)), ("phi_Jacobian", (rows, conv * nL * n))]
        if pooled:
            cases += [("pool_gradient", (d_out, out * n)), ("pool_Jacobian", (d_out, out * nL * n))]
        for op, shape in cases:
            V = g.standard_normal(shape).astype(dtype)
            V[:, ::4] *= 0.0                          # -0.0 where V was negative
            V = np.asfortranarray(V)
            with fastpaths.use_reference():
                want = vTP(param, model, net, m, V, op)
            got = fastpaths.vTP(param, model, net, m, V, op)
            assert got is not None and same_bytes(got, want), (name, m, op)


def test_phi_scatter_order_matters():
    """The phi scatter's loop order is what makes it bit-identical: adding
    the offsets in ascending order instead gives different roundings (so the
    test above can fail)."""
    param, model, prob, net = setup("mnist_small", 4)
    m = 2
    rows = model.wd_filter[m] ** 2 * model.ch_input[m]
    V = np.asfortranarray(np.random.default_rng(0).standard_normal((rows, model.ht_conv[m] * model.wd_conv[m] * 4))
                          * 10.0 ** np.random.default_rng(1).integers(-8, 8, (rows, 1)))
    with fastpaths.use_reference():
        want = vTP(param, model, net, m, V, "phi_gradient")
    ly = fastpaths._Layer(model, m)
    V6 = np.reshape(V, (ly.h, ly.h, ly.d, ly.a_conv, ly.b_conv, 4), order="F")
    out = np.zeros((ly.d, ly.a_pad, ly.b_pad, 4), order="F")
    for j in range(ly.h):                             # ascending: the wrong order
        for i in range(ly.h):
            out[:, i:i + ly.a_conv, j:j + ly.b_conv, :] += V6[i, j]
    assert not same_bytes(out.reshape(-1, order="F"), want)
    assert same_bytes(fastpaths.vTP(param, model, net, m, V, "phi_gradient"), want)


# --- the fused pass's own layouts: the same bits, reordered ------------------------

def pooled_geometry(model, m):
    """(d_out, a_conv, b_conv, pool, a_out, b_out) of conv layer m."""
    return (int(model.ch_input[m + 1]), int(model.ht_conv[m]), int(model.wd_conv[m]),
            int(model.wd_subimage_pool[m]), int(model.ht_input[m + 1]), int(model.wd_input[m + 1]))


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_phiZ_cij_layouts_bit_identical(name, precision):
    """phiZ with rows in (c, i, j) order, its transpose, and pool-major
    columns: the reference phiZ's entries, reordered by cij_rows and
    pool_major_cols, bit for bit."""
    n = 5
    param, model, prob, net = setup(name, n, precision)
    for m in range(1, model.LC + 1):
        ly = fastpaths._Layer(model, m)
        with fastpaths.use_reference():
            want = padding_and_phiZ(model, net, m)
        pad4 = np.zeros((ly.d, ly.a_pad, ly.b_pad, n), dtype=want.dtype, order="F")
        fastpaths.pad_into(pad4, np.reshape(net.Z[m], (ly.d, ly.a, ly.b, n), order="F"), ly.p)
        rows = fastpaths.cij_rows(ly.d, ly.h)
        assert sorted(rows) == list(range(ly.rows))
        pools = [1] + ([ly.pool] if ly.pool > 1 and ly.a_conv % ly.pool == 0 and ly.b_conv % ly.pool == 0 else [])
        for pool in pools:
            cols = (np.arange(want.shape[1]) if pool == 1
                    else fastpaths.pool_major_cols(ly.a_conv, ly.b_conv, pool, n))
            assert sorted(cols) == list(range(want.shape[1]))
            P = np.full((ly.rows, ly.ncol * n), np.nan, dtype=want.dtype, order="F")
            fastpaths.phiZ_cij_into(P, pad4, ly.h, ly.s, pool)
            assert same_bytes(P, np.asfortranarray(want[rows][:, cols])), (name, m, pool)
            PT = np.full((ly.ncol * n, ly.rows), np.nan, dtype=want.dtype, order="F")
            fastpaths.phiZT_cij_into(PT, pad4, ly.h, ly.s, pool)
            assert same_bytes(PT, np.asfortranarray(want[rows][:, cols].T)), (name, m, pool)


def special_values(shape, dtype, seed):
    """Values with exact ties, +0 and -0, negatives, and a few large ones."""
    g = np.random.default_rng(seed)
    V = g.standard_normal(shape).astype(dtype)
    V[g.random(shape) < 0.2] = 0.0
    V[g.random(shape) < 0.2] = -0.0
    V[g.random(shape) < 0.1] = 1.5                   # exact ties between positive entries
    V[g.random(shape) < 0.1] = -2.5                  # ... and negative ones
    return V


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_pooling_before_sigma_and_offsets_give_the_references_bits(name, precision):
    """The fused pass pools S and then applies sigma, keeping the winners as
    window offsets: sigma(max(S)) equals maxpooling(sigma(S)) bit for bit,
    and the offsets (0 where the window of sigma(S) is all zeros) give the
    reference's idx_pool, on windows full of ties and signed zeros; the
    pool-major blocks give the same."""
    n = 4
    param, model, prob, net = setup(name, n, precision)
    dtype = net.Z[1].dtype
    for m in range(1, model.LC + 1):
        d, a_conv, b_conv, h, a_out, b_out = pooled_geometry(model, m)
        if h == 1:
            continue
        S = np.asfortranarray(special_values((d, a_conv * b_conv * n), dtype, m))
        sub = struct(**vars(net))
        sub.Z = net.Z.__class__(len(net.Z))
        sub.Z[m + 1] = np.maximum(S, 0)
        with fastpaths.use_reference():
            Zref, Iref = maxpooling(model, sub, m)
        shape = (d, a_out, b_out, n)
        M = np.empty(shape, dtype=dtype, order="F")
        K = np.empty(shape, dtype=fastpaths.offset_dtype(h), order="F")
        fastpaths.maxpool_offsets_into(M, K, np.reshape(S, (d, a_conv, b_conv, n), order="F"), h, {})
        Z = np.maximum(M, 0)
        K *= (Z != 0)
        idx = np.empty(shape, dtype=np.int64, order="F")
        fastpaths.idx_from_offsets(idx, K, fastpaths.pool_base(d, a_conv, h, a_out, b_out), a_conv, h)
        assert same_bytes(Z.reshape(Zref.shape, order="F"), Zref), (name, m)
        assert same_bytes(idx.reshape(Iref.shape, order="F"), Iref), (name, m)
        if a_conv % h == 0 and b_conv % h == 0:       # pool-major: the windows are column blocks
            Spm = np.asfortranarray(S[:, fastpaths.pool_major_cols(a_conv, b_conv, h, n)])
            Q = a_out * b_out * n
            Mpm = np.empty((d, Q), dtype=dtype, order="F")
            Kpm = np.empty((d, Q), dtype=K.dtype, order="F")
            fastpaths.first_max_into(Mpm, Kpm, [Spm[:, q * Q:(q + 1) * Q] for q in range(h * h)], {})
            assert same_bytes(Mpm, M.reshape((d, Q), order="F"))
            Kpm *= (np.maximum(Mpm, 0) != 0)
            assert same_bytes(Kpm, K.reshape((d, Q), order="F")), (name, m)


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_scatter_by_offsets_bit_identical(name, precision):
    """The pooling scatter from window offsets (strided, and into pool-major
    blocks) against vTP 'pool_gradient' at the matching idx_pool, with -0,
    Inf and NaN among the values: 0 + v at the winner, +0 everywhere else
    (no NaN or Inf leaks into the other entries), leftover rows and columns
    zero, bit for bit."""
    n = 4
    param, model, prob, net = setup(name, n, precision)
    dtype = net.Z[1].dtype
    g = np.random.default_rng(5)
    for m in range(1, model.LC + 1):
        d, a_conv, b_conv, h, a_out, b_out = pooled_geometry(model, m)
        if h == 1:
            continue
        shape = (d, a_out, b_out, n)
        K = np.asfortranarray(g.integers(0, h * h, shape).astype(fastpaths.offset_dtype(h)))
        V = special_values(shape, dtype, m)
        V.reshape(-1)[:3] = [np.inf, -np.inf, np.nan]
        V = np.asfortranarray(V)
        idx = np.empty(shape, dtype=np.int64, order="F")
        fastpaths.idx_from_offsets(idx, K, fastpaths.pool_base(d, a_conv, h, a_out, b_out), a_conv, h)
        sub = struct(**vars(net))
        sub.idx_pool = net.idx_pool.__class__(len(net.idx_pool))
        sub.idx_pool[m] = idx.reshape((d * a_out * b_out, n), order="F")
        with fastpaths.use_reference():
            want = vTP(param, model, sub, m, V.reshape((d, -1), order="F"), "pool_gradient")
        G = np.full((d, a_conv, b_conv, n), np.nan, dtype=dtype, order="F")
        fastpaths.pool_scatter_offsets_into(G, V, K, h, {})
        assert same_bytes(G.reshape(-1, order="F"), want), (name, m)
        assert np.count_nonzero(~np.isfinite(G)) == 3              # Inf, -Inf, NaN at their winners only
        if a_conv % h == 0 and b_conv % h == 0:
            Q = a_out * b_out * n
            G2 = np.full((d * Q, h * h), np.nan, dtype=dtype, order="F")
            fastpaths.scatter_by_offsets_stacked(G2, V.reshape((d, Q), order="F"), K.reshape((d, Q), order="F"), {})
            cols = fastpaths.pool_major_cols(a_conv, b_conv, h, n)
            back = np.empty((d, a_conv * b_conv * n), dtype=dtype, order="F")
            back[:, cols] = G2.reshape((d, -1), order="F")
            assert same_bytes(back.reshape(-1, order="F"), want), (name, m)


def test_scratch_views_follow_their_buffer():
    """_scratch hands out the same view for the same request, and a fresh
    one on a new buffer once a larger request has replaced the old one."""
    work = {}
    a = fastpaths._scratch(work, "x", (2, 3), np.float64)
    assert fastpaths._scratch(work, "x", (2, 3), np.float64) is a and a.flags.f_contiguous
    big = fastpaths._scratch(work, "x", (20, 30), np.float64)
    b = fastpaths._scratch(work, "x", (2, 3), np.float64)
    assert b is not a and np.shares_memory(b, big) and not np.shares_memory(b, a)


@pytest.mark.parametrize("name", ["nonsquare_stride2", "three_conv", "mnist_small"])
def test_crop_equals_idx_pad_columns(name):
    """The backward P_pad: the padded array's interior equals the columns
    idx_pad + a_pad*b_pad*[0:n-1] the reference takes."""
    param, model, prob, net = setup(name, 3)
    n = 3
    for m in range(1, model.LC + 1):
        a_pad, b_pad, d = model.ht_pad[m], model.wd_pad[m], model.ch_input[m]
        A = np.asfortranarray(np.random.default_rng(m).standard_normal((d, a_pad * b_pad * n)))
        want = cols(A, vec(net.idx_pad[m] + a_pad * b_pad * np.arange(n)))
        got = fastpaths.crop(np.reshape(A, (d, a_pad, b_pad, n), order="F"), model.wd_pad_added[m],
                             model.ht_input[m], model.wd_input[m])
        assert same_bytes(np.asfortranarray(got).reshape(d, -1, order="F"), want)


# --- the fused forward and backward --------------------------------------------

def run_both(name, n, precision="double", batch_idx=None, task="fungrad"):
    param, model, prob, _ = setup(name, n, precision)
    batch_idx = np.arange(1, n + 1) if batch_idx is None else batch_idx
    with fastpaths.use_reference():
        ref, loss_ref = lossgrad_subset(prob, param, model, init_net(param, model), batch_idx, task)
    got = fastpaths.lossgrad_subset(prob, param, model, init_net(param, model), batch_idx, task)
    assert got is not None
    return model, ref, loss_ref, got[0], got[1]


@pytest.mark.parametrize("precision,tol", [("double", 1e-13), ("single", 1e-5)])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_fused_lossgrad_subset(name, precision, tol):
    n = 23                                            # not a multiple of any chunk
    model, ref, loss_ref, net, loss = run_both(name, n, precision)
    assert same_bytes(net.Z[1], ref.Z[1])
    for m in range(2, model.L + 2):                   # after a product: to rounding
        assert net.Z[m].shape == ref.Z[m].shape and net.Z[m].dtype == ref.Z[m].dtype
        assert rel(net.Z[m], ref.Z[m]) <= tol, ("Z", m)
    assert isinstance(net.phiZ, fastpaths.LazyPhiZ) and not net.phiZ.built(1)
    assert isinstance(net.idx_pool, fastpaths.LazyIdxPool)
    for m in range(1, model.LC + 1):
        with fastpaths.use_reference():
            want = padding_and_phiZ(model, net, m)    # phiZ of this net's own Z{m}
        assert same_bytes(net.phiZ[m], want), ("phiZ", m)               # built on reading
        assert net.phiZ.built(m)
        if model.wd_subimage_pool[m] > 1:
            assert not net.idx_pool.built(m)
            assert same_bytes(net.idx_pool[m], ref.idx_pool[m]), ("idx_pool", m)   # built on reading
            assert net.idx_pool.built(m)
        else:
            assert net.idx_pool[m] is None and ref.idx_pool[m] is None
    assert net.num_sampled_data == ref.num_sampled_data == n
    assert np.asarray(loss).dtype == np.asarray(loss_ref).dtype
    assert rel(loss, loss_ref) <= tol
    for m in range(1, model.L + 1):                   # sums over instances: rounding only
        assert net.dlossdW[m].shape == ref.dlossdW[m].shape and net.dlossdW[m].dtype == ref.dlossdW[m].dtype
        assert net.dlossdb[m].shape == ref.dlossdb[m].shape
        assert rel(net.dlossdW[m], ref.dlossdW[m]) <= tol, ("dlossdW", m)
        assert rel(net.dlossdb[m], ref.dlossdb[m]) <= tol, ("dlossdb", m)


def test_fused_mnist_shape_many_chunks(monkeypatch):
    """The real shape with enough instances for several groups of several
    chunks (sums within a group, then over groups)."""
    monkeypatch.setattr(fastpaths, "FUSED_GROUPS", 4)
    param = make_param(**MNIST_SHAPE)
    model = perturb_biases(init_model(param, seed=4))
    prob = make_prob(model, 130, seed=4)
    batch = np.arange(1, 131)
    with fastpaths.use_reference():
        ref, loss_ref = lossgrad_subset(prob, param, model, init_net(param, model), batch, "fungrad")
    net, loss = fastpaths.lossgrad_subset(prob, param, model, init_net(param, model), batch, "fungrad")
    groups = fastpaths._split(130, fastpaths._chunk_size(fastpaths._fusable(model, net), 8), fastpaths.FUSED_GROUPS)
    assert len(groups) > 2 and len(groups[0]) > 1
    for m in range(1, model.LC + 1):
        assert same_bytes(net.idx_pool[m], ref.idx_pool[m]) and rel(net.Z[m + 1], ref.Z[m + 1]) <= 1e-13
    assert rel(loss, loss_ref) <= 1e-13
    for m in range(1, model.L + 1):
        assert rel(net.dlossdW[m], ref.dlossdW[m]) <= 1e-13
        assert rel(net.dlossdb[m], ref.dlossdb[m]) <= 1e-13


def test_fused_single_instance_and_scattered_batch():
    model, ref, loss_ref, net, loss = run_both("three_conv", 1)
    assert rel(loss, loss_ref) <= 1e-13
    idx = np.array([5, 2, 9, 2, 1])                   # any order, repeats allowed
    model, ref, loss_ref, net, loss = run_both("pool3", 12, batch_idx=idx)
    assert rel(net.Z[model.L + 1], ref.Z[model.L + 1]) <= 1e-13
    assert rel(net.dlossdW[1], ref.dlossdW[1]) <= 1e-13


def test_fused_funonly_and_feedforward():
    model, ref, loss_ref, net, loss = run_both("stride2_pool3_leftover", 9, task="funonly")
    assert rel(loss, loss_ref) <= 1e-13
    for name in ("filter1_pool4", "mnist_small", "nonsquare_stride2"):
        param, model, prob, ref = setup(name, 9)
        net = fastpaths.feedforward(prob.data, param, model, init_net(param, model))
        for m in range(1, model.L + 2):
            assert rel(net.Z[m], ref.Z[m]) <= 1e-13
        assert same_bytes(net.phiZ[1], ref.phiZ[1])   # feedforward keeps phiZ (Jv, JTBJv read it)
        for m in range(1, model.LC + 1):
            assert rel(net.phiZ[m], ref.phiZ[m]) <= 1e-13
            if model.wd_subimage_pool[m] > 1:
                assert same_bytes(net.idx_pool[m], ref.idx_pool[m])


def test_gradient_only_keeps_nothing_but_gives_the_same_gradient():
    param = make_param(**MNIST_SHAPE)
    model = perturb_biases(init_model(param, seed=2))
    prob = make_prob(model, 96, seed=2)
    batch = np.arange(1, 97)
    net, loss = fastpaths.lossgrad_subset(prob, param, model, init_net(param, model), batch, "fungrad")
    with fastpaths.gradient_only():
        lean, loss2 = fastpaths.lossgrad_subset(prob, param, model, init_net(param, model), batch, "fungrad")
        peak_lean, _ = peak_bytes(lambda: fastpaths.lossgrad_subset(prob, param, model, init_net(param, model),
                                                                    batch, "fungrad"))
    peak_full, _ = peak_bytes(lambda: fastpaths.lossgrad_subset(prob, param, model, init_net(param, model),
                                                                batch, "fungrad"))
    assert same_bytes(loss2, loss)
    for m in range(1, model.L + 1):
        assert same_bytes(lean.dlossdW[m], net.dlossdW[m]) and same_bytes(lean.dlossdb[m], net.dlossdb[m])
    assert all(lean.Z[m] is None for m in range(2, model.L + 2))
    assert all(lean.idx_pool[m] is None and lean.phiZ[m] is None for m in range(1, model.LC + 1))
    assert peak_lean < 0.5 * peak_full


def test_fused_results_do_not_depend_on_threads():
    """The batch is split in fixed chunks and groups whatever the cores (here
    30 chunks in 4 groups): one thread or two give the same bits."""
    code = (
        "import numpy as np, sys; sys.path.insert(0, 'tests');"
        "from test_fastpaths import setup; from simplecnn_py import fastpaths;"
        "from simplecnn_py.init_net import init_net;"
        "fastpaths._CHUNK_BYTES, fastpaths.FUSED_GROUPS = 1, 4;"
        "param, model, prob, _ = setup('mnist_small', 30);"
        "net, loss = fastpaths.lossgrad_subset(prob, param, model, init_net(param, model), np.arange(1, 31), 'fungrad');"
        "sys.stdout.write(np.concatenate([np.ravel(net.dlossdW[m]) for m in range(1, 5)] + [np.ravel(loss)]).tobytes().hex())"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outs = []
    for threads in ("1", "2"):
        env = dict(os.environ, SIMPLECNN_THREADS=threads)
        outs.append(subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True,
                                   capture_output=True, text=True).stdout)
    assert outs[0] and outs[0] == outs[1]


def test_scratch_arrays_from_the_arena_are_aligned_and_apart(monkeypatch):
    """Scratch arrays are carved out of a thread's arena: each starts on a
    64-byte line, none overlaps another, a full arena is followed by a new
    one, and zero-bordered buffers start as zeros."""
    monkeypatch.setattr(fastpaths, "_ARENA_BYTES", 4096)
    work = {}
    arrays = [fastpaths._scratch(work, ("t", k), (3 + k, 5), np.float64) for k in range(40)]
    arrays += [fastpaths._scratch(work, ("u", k), (7, k + 1), np.uint8) for k in range(40)]
    arrays.append(fastpaths._scratch(work, "big", (1000, 3), np.float32))   # more than an arena
    for k, a in enumerate(arrays):
        a[...] = k
    for k, a in enumerate(arrays):
        assert a.ctypes.data % 64 == 0 and a.flags.f_contiguous
        assert (a == k).all()                    # nothing else wrote over it
    assert len({id(a.base) for a in arrays}) > 1
    z = fastpaths._zero_bordered({"arena": [np.full(8192, 255, np.uint8), 0]}, "pad", (4, 6), np.float64)
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
        fastpaths._run_parts(fn, list(range(12)))
    assert len(ran) <= 12
    assert fastpaths._run_parts(lambda g, work: g * g, list(range(12))) == [g * g for g in range(12)]
    assert fastpaths._run_parts(lambda g, work: g, list(range(12)), fold=lambda a, b: a * 10 + b) \
        == int("".join(str(g) for g in range(10))) * 100 + 10 * 10 + 11


def test_run_parts_with_more_threads_than_helpers(monkeypatch):
    """More threads asked for than helpers made so far: a larger set is made
    (no wait for helpers that do not exist)."""
    fastpaths._run_parts(lambda g, work: g, list(range(4)))
    monkeypatch.setattr(fastpaths, "NPARTS", 4)
    monkeypatch.setenv("SIMPLECNN_THREADS", "4")
    if fastpaths._workers() < 4:
        pytest.skip("numpy's OpenBLAS not found: the groups run in one thread")
    assert fastpaths._run_parts(lambda g, work: g + 1, list(range(9))) == list(range(1, 10))
    assert fastpaths._helpers.n >= 3


# --- stepping aside ---------------------------------------------------------------

def test_fast_paths_step_aside_for_foreign_index_maps():
    """A net whose index maps are not the standard ones (e.g. MATLAB's, fed
    by the harness in isolated mode) gets the reference lines."""
    param, model, prob, net = setup("nonsquare_stride2", 3)
    swapped = init_net(param, model)
    # the seed original's defect: (wd_pad, ht_pad) passed for (ht_pad, wd_pad)
    from simplecnn_py.find_index_phiZ import find_index_phiZ
    swapped.idx_phiZ[1] = find_index_phiZ(model.wd_pad[1], model.ht_pad[1], model.ch_input[1],
                                          model.wd_filter[1], model.strides[1])
    swapped.Z[1], swapped.num_sampled_data = net.Z[1], net.num_sampled_data
    assert fastpaths.padding_and_phiZ(model, swapped, 1) is None
    assert fastpaths.lossgrad_subset(prob, param, model, swapped, np.arange(1, 4), "fungrad") is None
    assert fastpaths.vTP(param, model, swapped, 1, np.zeros(1), "phi_gradient") is None


def test_fused_path_steps_aside_when_tracing():
    param, model, prob, net = setup("one_conv", 3)
    with trace.tracing() as tr:
        assert fastpaths.lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3], "fungrad") is None
        assert fastpaths.feedforward(prob.data, param, model, init_net(param, model)) is None
        net, loss = lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3], "fungrad")
    assert (1, "forward", "sigmaS") in tr.records and (1, "backward", "pool_gradient") in tr.records


def test_use_reference_switch():
    assert fastpaths.enabled() == (os.environ.get("SIMPLECNN_REFERENCE", "") in ("", "0"))
    with fastpaths.use_reference():
        assert not fastpaths.enabled()
        with fastpaths.use_reference(False):
            assert fastpaths.enabled()
        assert not fastpaths.enabled()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", "from simplecnn_py import fastpaths; print(fastpaths.enabled())"],
                         cwd=root, env=dict(os.environ, SIMPLECNN_REFERENCE="1"), capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_port_routines_dispatch_to_fast_paths(monkeypatch):
    """With the fast paths on, the port's routines hand over to them (and not
    with the reference switch on)."""
    calls = []
    for name in ("padding_and_phiZ", "maxpooling", "vTP", "feedforward", "lossgrad_subset"):
        orig = getattr(fastpaths, name)
        monkeypatch.setattr(fastpaths, name, lambda *a, _o=orig, _n=name, **k: calls.append(_n) or _o(*a, **k))
    param, model, prob, net = setup("mnist_small", 4)
    with fastpaths.use_reference(False):
        lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3, 4], "fungrad")
        with trace.tracing():               # the fused path steps aside: the routines' own fast paths run
            lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3, 4], "fungrad")
    assert {"lossgrad_subset", "padding_and_phiZ", "maxpooling", "vTP"} <= set(calls)
    calls.clear()
    with fastpaths.use_reference():
        lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3, 4], "fungrad")
    assert calls == []


# --- memory ---------------------------------------------------------------------------

def peak_bytes(fn):
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn()
        return tracemalloc.get_traced_memory()[1] - base, out
    finally:
        tracemalloc.stop()


def kept_bytes(net, model):
    """Bytes of the Z and phiZ a pass keeps (phiZ as the reference keeps it)."""
    n = net.num_sampled_data
    itemsize = net.Z[1].itemsize
    phiZ = sum(model.wd_filter[m] ** 2 * model.ch_input[m] * model.ht_conv[m] * model.wd_conv[m] * n
               for m in range(1, model.LC + 1))
    return sum(net.Z[m].nbytes for m in range(1, model.L + 2)) + phiZ * itemsize


def test_peak_memory_of_lossgrad_subset():
    """At most 1.5x the bytes of the Z and phiZ the call keeps (the fused
    path never holds W'*Delta or the phi gradient of the whole batch)."""
    param = make_param(**MNIST_SHAPE)
    model = init_model(param, seed=0)
    prob = make_prob(model, 96)
    call = lambda: fastpaths.lossgrad_subset(prob, param, model, init_net(param, model), np.arange(1, 97), "fungrad")
    call()
    peak, (net, loss) = peak_bytes(call)
    kept = kept_bytes(net, model)
    assert peak <= 1.5 * kept, (peak / kept)
    with fastpaths.use_reference():                   # the reference materialises W'*Delta & co
        peak_ref, _ = peak_bytes(lambda: lossgrad_subset(prob, param, model, init_net(param, model),
                                                         np.arange(1, 97), "fungrad"))
    assert peak < peak_ref


def test_fungrad_minibatch_memory_follows_bsize():
    """Peak memory follows param.bsize, not the number of instances: 4x the
    instances in batches of 16 cost no more, in one batch they cost more."""
    param = make_param(**MNIST_SHAPE, bsize=16, C=1.0)
    model = init_model(param, seed=0)
    peaks = {}
    with fastpaths.use_reference(False):
        for l, bsize in ((64, 16), (256, 16), (256, 256)):
            prob = make_prob(model, l)
            param.bsize = bsize
            fungrad_minibatch(prob, param, model, init_net(param, model), "fungrad")
            peaks[l, bsize], _ = peak_bytes(lambda: fungrad_minibatch(prob, param, model, init_net(param, model),
                                                                      "fungrad"))
    assert peaks[256, 16] < 1.2 * peaks[64, 16], peaks
    assert peaks[256, 256] > 2 * peaks[256, 16], peaks


@pytest.mark.parametrize("name", ["mnist_small", "three_conv", "stride_gt_filter", "nonsquare_stride2"])
def test_phi_gradient_by_offset_blocks(name):
    """W'*Delta one filter offset at a time, added as it comes: the whole
    product scattered by vTP, to rounding (the same dot products, summed in
    the order BLAS picks for each width)."""
    param, model, prob, net = setup(name, 6)
    g = np.random.default_rng(7)
    for m in range(2, model.LC + 1):
        ly = fastpaths._Layer(model, m)
        W = model.weight[m]
        D = np.asfortranarray(g.standard_normal((ly.d_out, ly.ncol * 6)))
        with fastpaths.use_reference():
            want = vTP(param, model, net, m, np.matmul(D.T, W).T, "phi_gradient")
        blocks = [np.asfortranarray(W[:, k::ly.h * ly.h]) for k in range(ly.h * ly.h)]
        out4 = np.empty((ly.d, ly.a_pad, ly.b_pad, 6), order="F")
        fastpaths.phi_gradient_blocks_into(out4, blocks, D, ly.h, ly.s, ly.a_conv, ly.b_conv, {})
        got = out4.reshape(-1, order="F")
        assert got.dtype == want.dtype and got.shape == want.shape
        assert rel(got, want) <= 1e-14, (name, m)


def test_port_oracle_tests_pass_on_the_reference_path_too():
    """The port's oracle tests (P matrices, Kronecker forms, finite
    differences, the slides' pooling example, Gauss-Newton products) run by
    default on the fast paths; here they run again on the reference path."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = sorted(f"tests/{f}" for f in os.listdir(os.path.join(root, "tests"))
                   if f.startswith("test_port_") or f == "test_train_products.py")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
                         cwd=root, env=dict(os.environ, SIMPLECNN_REFERENCE="1"), capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
    assert " passed" in out.stdout and " failed" not in out.stdout


# --- the benchmark runs (no timing is asserted) -------------------------------------

def test_bench_command_smoke(tmp_path, capsys):
    """``simplecnn bench`` on a tiny config: a table and a JSON file with the
    measurements; the GEMM bound counts the port's products' flops."""
    import json

    from simplecnn_cli.bench_impl import gemm_products
    from simplecnn_cli.main import main

    cfg = tmp_path / "tiny.config"
    cfg.write_text("L = 3;\nLC = 2;\nLF = 1;\nht_input = 9;\nwd_input = 8;\nch_input = [2,3,4];\n"
                   "wd_pad_added = [1,0];\nwd_filter = [3,2];\nstrides = [1,2];\nwd_subimage_pool = [2,1];\n"
                   "full_neurons = [3];\n")
    out = tmp_path / "bench.json"
    rc = main(["bench", "--config", str(cfg), "--instances", "5", "--precision", "double", "--repeats", "1",
               "--skip", "octave,torch,newton,gradient", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "lossgrad_subset (fast path)" in text and "GEMM bound" in text
    doc = json.loads(out.read_text())
    (block,) = doc["blocks"]
    rows = {r["item"]: r for r in block["rows"]}
    assert {"ours", "reference", "minibatch", "memory", "gemm", "gemm_square"} <= set(rows)
    assert rows["memory"]["peak"] > 0 and rows["memory"]["kept"] > 0
    param = make_param(ht=9, wd=8, ch=[2, 3, 4], pad=[1, 0], filt=[3, 2], stride=[1, 2], pool=[2, 1], full=[3])
    model = init_model(param)
    # conv1: W 3x18, phiZ 18 x (9*8 positions * 5): forward and dW (no W'*Delta for m = 1);
    # conv2 (2x2 filter, stride 2 on the 4x4 pooled input): W 4x12, 12 x (2*2*5): three products;
    # full: W 3x16, 5 instances: three products
    flops = sum(2 * M * K * N for _, M, K, N in gemm_products(model, 5))
    assert flops == 2 * (2 * 3 * 18 * 360) + 3 * (2 * 4 * 12 * 20) + 3 * (2 * 3 * 16 * 5)
    assert rows["gemm"]["flops"] == flops
    assert main(["bench", "--skip", "nothing"]) == 2
