"""``simplecnn_py/fast/vTP.py`` against ``vTP``'s reference lines (accumarray):
bit-identical scatters on the raw bytes, and the order of the sums matters.
"""
import numpy as np
import pytest

from simplecnn_py import fast
from simplecnn_py.fast import layer as fast_layer
from simplecnn_py.fast import padding_and_phiZ as fast_padding_and_phiZ
from simplecnn_py.fast import maxpooling as fast_maxpooling
from simplecnn_py.fast import vTP as fast_vTP
from simplecnn_py.support.conventions import struct
from simplecnn_py.cnn.vTP import vTP

from fast_common import SHAPES, setup, pooled_geometry, special_values
from test_port_common import rel, same_bytes


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
            with fast.use_reference():
                want = vTP(param, model, net, m, V, op)
            got = fast_vTP.vTP(param, model, net, m, V, op)
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
    with fast.use_reference():
        want = vTP(param, model, net, m, V, "phi_gradient")
    ly = fast_layer.Layer(model, m)
    V6 = np.reshape(V, (ly.h, ly.h, ly.d, ly.a_conv, ly.b_conv, 4), order="F")
    out = np.zeros((ly.d, ly.a_pad, ly.b_pad, 4), order="F")
    for j in range(ly.h):                             # ascending: the wrong order
        for i in range(ly.h):
            out[:, i:i + ly.a_conv, j:j + ly.b_conv, :] += V6[i, j]
    assert not same_bytes(out.reshape(-1, order="F"), want)
    assert same_bytes(fast_vTP.vTP(param, model, net, m, V, "phi_gradient"), want)


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
        K = np.asfortranarray(g.integers(0, h * h, shape).astype(fast_maxpooling.offset_dtype(h)))
        V = special_values(shape, dtype, m)
        V.reshape(-1)[:3] = [np.inf, -np.inf, np.nan]
        V = np.asfortranarray(V)
        idx = np.empty(shape, dtype=np.int64, order="F")
        fast_maxpooling.idx_from_offsets(idx, K, fast_layer.pool_base(d, a_conv, h, a_out, b_out), a_conv, h)
        sub = struct(**vars(net))
        sub.idx_pool = net.idx_pool.__class__(len(net.idx_pool))
        sub.idx_pool[m] = idx.reshape((d * a_out * b_out, n), order="F")
        with fast.use_reference():
            want = vTP(param, model, sub, m, V.reshape((d, -1), order="F"), "pool_gradient")
        G = np.full((d, a_conv, b_conv, n), np.nan, dtype=dtype, order="F")
        fast_vTP.pool_scatter_offsets_into(G, V, K, h, {})
        assert same_bytes(G.reshape(-1, order="F"), want), (name, m)
        assert np.count_nonzero(~np.isfinite(G)) == 3              # Inf, -Inf, NaN at their winners only
        if a_conv % h == 0 and b_conv % h == 0:
            Q = a_out * b_out * n
            G2 = np.full((d * Q, h * h), np.nan, dtype=dtype, order="F")
            fast_vTP.scatter_by_offsets_stacked(G2, V.reshape((d, Q), order="F"), K.reshape((d, Q), order="F"), {})
            cols = fast_padding_and_phiZ.pool_major_cols(a_conv, b_conv, h, n)
            back = np.empty((d, a_conv * b_conv * n), dtype=dtype, order="F")
            back[:, cols] = G2.reshape((d, -1), order="F")
            assert same_bytes(back.reshape(-1, order="F"), want), (name, m)


@pytest.mark.parametrize("name", ["mnist_small", "three_conv", "stride_gt_filter", "nonsquare_stride2"])
def test_phi_gradient_by_offset_blocks(name):
    """W'*Delta one filter offset at a time, added as it comes: the whole
    product scattered by vTP, to rounding (the same dot products, summed in
    the order BLAS picks for each width)."""
    param, model, prob, net = setup(name, 6)
    g = np.random.default_rng(7)
    for m in range(2, model.LC + 1):
        ly = fast_layer.Layer(model, m)
        W = model.weight[m]
        D = np.asfortranarray(g.standard_normal((ly.d_out, ly.ncol * 6)))
        with fast.use_reference():
            want = vTP(param, model, net, m, np.matmul(D.T, W).T, "phi_gradient")
        blocks = [np.asfortranarray(W[:, k::ly.h * ly.h]) for k in range(ly.h * ly.h)]
        out4 = np.empty((ly.d, ly.a_pad, ly.b_pad, 6), order="F")
        fast_vTP.phi_gradient_blocks_into(out4, blocks, D, ly.h, ly.s, ly.a_conv, ly.b_conv, {})
        got = out4.reshape(-1, order="F")
        assert got.dtype == want.dtype and got.shape == want.shape
        assert rel(got, want) <= 1e-14, (name, m)
