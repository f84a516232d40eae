"""The slides' 4x4 max-pooling example ("Notes on Practical Implementations
VI-VII"), reproduced exactly, with idx_pool and the v'P_pool scatter."""
import numpy as np
import pytest

from simplecnn_py.support.conventions import reshape, struct, vec
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.maxpooling import maxpooling
from simplecnn_py.cnn.vTP import vTP

from test_port_common import make_param, port_path  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("port_path")

IMAGE = np.array([[3, 2, 3, 6],
                  [4, 5, 4, 9],
                  [2, 1, 2, 6],
                  [3, 4, 3, 2]], dtype=float)


def pooling_setup(Zconv, d, a, b, n, h=2):
    """model/net whose conv layer 1 (1x1 filter, no padding) has an a x b x d
    output, with ``net.Z{2}`` = Zconv as sigma(S) before pooling."""
    param = make_param(ht=a, wd=b, ch=[1, d], pad=[0], filt=[1], stride=[1], pool=[h], full=[2])
    model = init_model(param)
    net = init_net(param, model)
    net.Z[2] = Zconv
    net.num_sampled_data = n
    return model, net


def test_slides_pooling_example():
    model, net = pooling_setup(reshape(vec(IMAGE), 1, -1), 1, 4, 4, 1)
    Zout, idx_pool = maxpooling(model, net, 1)
    np.testing.assert_array_equal(reshape(Zout, 2, 2), [[5, 9], [4, 6]])
    # winners 5, 4, 9, 6 sit at (2,2), (4,2), (2,4), (3,4): vec positions 6, 8, 14, 15
    assert idx_pool.shape == (4, 1) and idx_pool[:, 0].tolist() == [6, 8, 14, 15]

    # v' P_pool = [0 0 0 0 0 v1 0 v2 0 0 0 0 0 v3 v4 0]
    net.idx_pool[1] = idx_pool
    v = np.array([[11.0, 22.0, 33.0, 44.0]])
    row = vTP(struct(), model, net, 1, v, "pool_gradient")
    expected = np.zeros(16)
    expected[[5, 7, 13, 14]] = [11, 22, 33, 44]
    np.testing.assert_array_equal(row, expected)

    # eq. (23) = eq. (24): masking after the scatter by I[S] (here S = image > 0,
    # every entry) changes nothing
    np.testing.assert_array_equal(row * (vec(IMAGE) > 0), row)


def test_pooling_example_in_channel_2_of_two_instances_with_ties():
    """The example as channel 2 of a 2-channel map, twice (second instance
    transposed), channel 1 full of ReLU zeros and a tie of 7s: the first
    maximal entry (height offset fastest) wins."""
    tie = np.array([[0, 0, 7, 1],
                    [0, 0, 2, 7],
                    [0, 0, 0, 0],
                    [0, 0, 0, 0]], dtype=float)
    X = np.zeros((2, 4, 4, 2))
    X[0, :, :, 0], X[1, :, :, 0] = tie, IMAGE
    X[0, :, :, 1], X[1, :, :, 1] = tie, IMAGE.T
    model, net = pooling_setup(reshape(X, 2, -1), 2, 4, 4, 2)
    Zout, idx_pool = maxpooling(model, net, 1)
    Z = reshape(Zout, 2, 2, 2, 2)
    np.testing.assert_array_equal(Z[1, :, :, 0], [[5, 9], [4, 6]])
    np.testing.assert_array_equal(Z[1, :, :, 1], [[5, 4], [9, 6]])
    np.testing.assert_array_equal(Z[0, :, :, 0], [[0, 7], [0, 0]])
    # channel 1 winners: all-zero windows -> first entry (row r*2, col q*2);
    # the 7s at (1,3) and (2,4): (1,3) comes first in the window's column-major order
    # position of (c, y, x) 1-based: c + 2*((y-1) + 4*(x-1))
    pos = lambda c, y, x: c + 2 * ((y - 1) + 4 * (x - 1))
    assert idx_pool[:, 0].tolist() == [pos(1, 1, 1), pos(2, 2, 2), pos(1, 3, 1), pos(2, 4, 2),
                                       pos(1, 1, 3), pos(2, 2, 4), pos(1, 3, 3), pos(2, 3, 4)]
    assert idx_pool[1::2, 1].tolist() == [pos(2, 2, 2), pos(2, 4, 2), pos(2, 2, 4), pos(2, 4, 3)]
