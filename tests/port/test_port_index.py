"""find_index_padding, find_index_phiZ and padding_and_phiZ against
hand-written values and direct slicing of d x a x b arrays."""
import numpy as np
import pytest

from simplecnn_py.support.conventions import reshape, struct, cell, vec
from simplecnn_py.cnn.find_index_padding import find_index_padding
from simplecnn_py.cnn.find_index_phiZ import find_index_phiZ
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.padding_and_phiZ import padding_and_phiZ

from test_port_common import CONFIGS, make_param, port_path  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("port_path")


def test_find_index_phiZ_hand_example():
    # 3x3 one-channel image, 2x2 filter, stride 1: vec positions 1..9 (column-major)
    idx = find_index_phiZ(3, 3, 1, 2, 1)
    expected = [1, 2, 4, 5,   2, 3, 5, 6,   4, 5, 7, 8,   5, 6, 8, 9]
    assert idx.shape == (16, 1) and idx.dtype == np.int64
    assert idx[:, 0].tolist() == expected


def test_find_index_phiZ_two_channels_stride2():
    # d = 2, a = 4, b = 3, h = 2, s = 2: a_out = 2, b_out = 1.
    # vec position of (c, y, x) (0-based) is 1 + c + 2*(y + 4*x)
    idx = find_index_phiZ(4, 3, 2, 2, 2)
    col1 = [1, 3, 9, 11, 2, 4, 10, 12]        # output (0,0): rows i + 2j + 4c
    col2 = [5, 7, 13, 15, 6, 8, 14, 16]       # output (1,0): rows shifted by s = 2
    assert idx[:, 0].tolist() == col1 + col2


def test_find_index_padding_hand_example():
    model = struct(ht_input=cell([2]), wd_input=cell([3]), wd_pad_added=cell([1]), ht_pad=cell([4]))
    idx = find_index_padding(model, 1)
    # padded plane 4 x 5; pixel (y, x) lands at (y+1, x+1): 1 + (y+1) + 4*(x+1)
    assert idx[:, 0].tolist() == [6, 7, 10, 11, 14, 15]
    assert idx.shape == (6, 1) and idx.dtype == np.int64


def phi_by_slicing(X, h, s):
    """phi of one image X (d x a x b) built from its definition: column
    r + a_out*q is the h x h x d patch at (r*s, q*s), vec'ed height offset
    fastest, then width offset, then channel."""
    d, a, b = X.shape
    a_out, b_out = (a - h) // s + 1, (b - h) // s + 1
    out = np.zeros((h * h * d, a_out * b_out))
    for q in range(b_out):
        for r in range(a_out):
            patch = X[:, r * s:r * s + h, q * s:q * s + h]          # d x h x h
            out[:, r + a_out * q] = np.transpose(patch, (1, 2, 0)).reshape(-1, order="F")
    return out


@pytest.mark.parametrize("a, b, d, h, s", [(5, 5, 1, 3, 1), (7, 4, 3, 2, 2), (9, 6, 2, 3, 3),
                                           (6, 8, 2, 4, 1), (10, 7, 1, 3, 2)])
def test_find_index_phiZ_against_slicing(a, b, d, h, s):
    X = np.random.default_rng(0).standard_normal((d, a, b))
    idx = find_index_phiZ(a, b, d, h, s)
    phi = reshape(vec(X)[idx[:, 0] - 1], h * h * d, -1)
    np.testing.assert_array_equal(phi, phi_by_slicing(X, h, s))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_padding_and_phiZ_against_slicing(name):
    param = make_param(**CONFIGS[name])
    model = init_model(param)
    net = init_net(param, model)
    n = 3
    g = np.random.default_rng(1)
    for m in range(1, model.LC + 1):
        d, a, b, p = model.ch_input[m], model.ht_input[m], model.wd_input[m], model.wd_pad_added[m]
        X = g.standard_normal((d, a, b, n))
        net.Z[m] = reshape(X, d, -1)
        net.num_sampled_data = n
        phiZ = padding_and_phiZ(model, net, m)
        h, s = model.wd_filter[m], model.strides[m]
        ab_conv = model.ht_conv[m] * model.wd_conv[m]
        assert phiZ.shape == (h * h * d, ab_conv * n) and phiZ.flags.f_contiguous
        for i in range(n):
            Xpad = np.pad(X[:, :, :, i], ((0, 0), (p, p), (p, p)))
            np.testing.assert_array_equal(phiZ[:, i * ab_conv:(i + 1) * ab_conv], phi_by_slicing(Xpad, h, s))
