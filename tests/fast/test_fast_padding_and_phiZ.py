"""``simplecnn_py/fast/padding_and_phiZ.py`` against ``padding_and_phiZ``'s reference lines and
the index maps: bit-identical on the raw bytes (a -0.0 for a +0.0 fails).
"""
import numpy as np
import pytest

from simplecnn_py import fast
from simplecnn_py.fast import layer as fast_layer
from simplecnn_py.fast import padding_and_phiZ as fast_padding_and_phiZ
from simplecnn_py.support.conventions import cols
from simplecnn_py.support.conventions import vec
from simplecnn_py.cnn.padding_and_phiZ import padding_and_phiZ

from fast_common import SHAPES, setup
from test_port_common import same_bytes


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_padding_and_phiZ_bit_identical(name, precision):
    param, model, prob, net = setup(name, 7, precision)
    for m in range(1, model.LC + 1):
        with fast.use_reference():
            want = padding_and_phiZ(model, net, m)
        got = fast_padding_and_phiZ.padding_and_phiZ(model, net, m)
        assert got is not None and same_bytes(got, want), (name, m)


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_phiZ_cij_layouts_bit_identical(name, precision):
    """phiZ with rows in (c, i, j) order, its transpose, and pool-major
    columns: the reference phiZ's entries, reordered by cij_rows and
    pool_major_cols, bit for bit."""
    n = 5
    param, model, prob, net = setup(name, n, precision)
    for m in range(1, model.LC + 1):
        ly = fast_layer.Layer(model, m)
        with fast.use_reference():
            want = padding_and_phiZ(model, net, m)
        pad4 = np.zeros((ly.d, ly.a_pad, ly.b_pad, n), dtype=want.dtype, order="F")
        fast_padding_and_phiZ.pad_into(pad4, np.reshape(net.Z[m], (ly.d, ly.a, ly.b, n), order="F"), ly.p)
        rows = fast_padding_and_phiZ.cij_rows(ly.d, ly.h)
        assert sorted(rows) == list(range(ly.rows))
        pools = [1] + ([ly.pool] if ly.pool > 1 and ly.a_conv % ly.pool == 0 and ly.b_conv % ly.pool == 0 else [])
        for pool in pools:
            cols = (np.arange(want.shape[1]) if pool == 1
                    else fast_padding_and_phiZ.pool_major_cols(ly.a_conv, ly.b_conv, pool, n))
            assert sorted(cols) == list(range(want.shape[1]))
            P = np.full((ly.rows, ly.ncol * n), np.nan, dtype=want.dtype, order="F")
            fast_padding_and_phiZ.phiZ_cij_into(P, pad4, ly.h, ly.s, pool)
            assert same_bytes(P, np.asfortranarray(want[rows][:, cols])), (name, m, pool)
            PT = np.full((ly.ncol * n, ly.rows), np.nan, dtype=want.dtype, order="F")
            fast_padding_and_phiZ.phiZT_cij_into(PT, pad4, ly.h, ly.s, pool)
            assert same_bytes(PT, np.asfortranarray(want[rows][:, cols].T)), (name, m, pool)


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
        got = fast_padding_and_phiZ.crop(np.reshape(A, (d, a_pad, b_pad, n), order="F"), model.wd_pad_added[m],
                             model.ht_input[m], model.wd_input[m])
        assert same_bytes(np.asfortranarray(got).reshape(d, -1, order="F"), want)
