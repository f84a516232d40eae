"""``simplecnn_py/fast/maxpooling.py`` against ``maxpooling``'s reference lines: values and
``idx_pool`` bit-identical, MATLAB's first-max ties, signed zeros, NaN.
"""
import numpy as np
import pytest

from simplecnn_py import fast
from simplecnn_py.fast import layer as fast_layer
from simplecnn_py.fast import padding_and_phiZ as fast_padding_and_phiZ
from simplecnn_py.fast import maxpooling as fast_maxpooling
from simplecnn_py.support.conventions import struct
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.maxpooling import maxpooling
from simplecnn_py.cnn.padding_and_phiZ import padding_and_phiZ

from fast_common import SHAPES, setup, pooled_geometry, special_values
from test_port_common import make_param, same_bytes


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
        with fast.use_reference():
            phiZ = padding_and_phiZ(model, net, m)
        S = np.maximum(np.matmul(phiZ.T, model.weight[m].T).T + model.bias[m], 0)
        S[:, ::5] = 0                                 # many all-zero windows: ties everywhere
        sub.Z[m + 1] = np.asfortranarray(S)
        with fast.use_reference():
            Zref, Iref = maxpooling(model, sub, m)
        got = fast_maxpooling.maxpooling(model, sub, m)
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
    with fast.use_reference():
        Zref, Iref = maxpooling(model, net, 1)
    Zf, If = fast_maxpooling.maxpooling(model, net, 1)
    assert same_bytes(Zf, Zref) and same_bytes(If, Iref)
    assert Iref.ravel().tolist() == [1, 4, 14, 11, 17, 20]   # first max wins every tie
    assert np.signbit(Zf[0, 0]) and not np.signbit(Zf[0, 4])  # -0.0 first / +0.0 first


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
        with fast.use_reference():
            Zref, Iref = maxpooling(model, sub, m)
        shape = (d, a_out, b_out, n)
        M = np.empty(shape, dtype=dtype, order="F")
        K = np.empty(shape, dtype=fast_maxpooling.offset_dtype(h), order="F")
        fast_maxpooling.maxpool_offsets_into(M, K, np.reshape(S, (d, a_conv, b_conv, n), order="F"), h, {})
        Z = np.maximum(M, 0)
        K *= (Z != 0)
        idx = np.empty(shape, dtype=np.int64, order="F")
        fast_maxpooling.idx_from_offsets(idx, K, fast_layer.pool_base(d, a_conv, h, a_out, b_out), a_conv, h)
        assert same_bytes(Z.reshape(Zref.shape, order="F"), Zref), (name, m)
        assert same_bytes(idx.reshape(Iref.shape, order="F"), Iref), (name, m)
        if a_conv % h == 0 and b_conv % h == 0:       # pool-major: the windows are column blocks
            Spm = np.asfortranarray(S[:, fast_padding_and_phiZ.pool_major_cols(a_conv, b_conv, h, n)])
            Q = a_out * b_out * n
            Mpm = np.empty((d, Q), dtype=dtype, order="F")
            Kpm = np.empty((d, Q), dtype=K.dtype, order="F")
            fast_maxpooling.first_max_into(Mpm, Kpm, [Spm[:, q * Q:(q + 1) * Q] for q in range(h * h)], {})
            assert same_bytes(Mpm, M.reshape((d, Q), order="F"))
            Kpm *= (np.maximum(Mpm, 0) != 0)
            assert same_bytes(Kpm, K.reshape((d, Q), order="F")), (name, m)
