"""The index-based routines against the slides' P matrices (built from their
definitions in simplecnn_harness/student/pmatrices.py, scipy.sparse), and against the Kronecker forms
of eqs. (5), (12), (14) and (18).

P_pad^m  : (d*a_pad*b_pad) x (d*a*b),   vec(pad(Z)) = P_pad vec(Z)
P_phi^m  : (h*h*d*a_conv*b_conv) x (d*a_pad*b_pad), vec(phi(Zpad)) = P_phi vec(Zpad)
P_pool^{m,i}: (d*a_out*b_out) x (d*a_conv*b_conv), one 1 per row at the
           window's first maximum of instance i's sigma(S).
"""
import numpy as np
import pytest
import scipy.sparse as sp

from simplecnn_py.support import trace
from simplecnn_py.support.conventions import reshape, vec
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
from simplecnn_py.cnn.vTP import vTP
from simplecnn_harness.student.pmatrices import P_pad, P_phi, P_pool, blocks  # the oracles, shared with docs/notebooks

from test_port_common import CONFIGS, make_param, make_prob, perturb_biases, port_path  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("port_path")


def run(name, n=3, seed=0):
    param = make_param(**CONFIGS[name])
    model = perturb_biases(init_model(param, seed))
    net = init_net(param, model)
    prob = make_prob(model, n, seed=seed)
    with trace.tracing() as tr:
        net, loss = lossgrad_subset(prob, param, model, net, np.arange(1, n + 1), "fungrad")
    return param, model, net, tr.records


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_forward_equals_P_matrices_and_eq5(name):
    n = 3
    param, model, net, rec = run(name, n)
    for m in range(1, model.LC + 1):
        d, a, b, p = model.ch_input[m], model.ht_input[m], model.wd_input[m], model.wd_pad_added[m]
        h, s = model.wd_filter[m], model.strides[m]
        d1, ab_conv = model.ch_input[m + 1], model.ht_conv[m] * model.wd_conv[m]
        Pphi_Ppad = P_phi(d, model.ht_pad[m], model.wd_pad[m], h, s) @ P_pad(d, a, b, p)
        Zm = rec[(m - 1, "forward", "Z")] if m > 1 else net.Z[1]
        W, bias = model.weight[m], model.bias[m]
        for i, (Z_i, phi_i, sig_i) in enumerate(zip(blocks(Zm, n), blocks(net.phiZ[m], n),
                                                   blocks(rec[(m, "forward", "sigmaS")], n))):
            # phi(pad(Z^{m,i})) = mat(P_phi P_pad vec(Z^{m,i}))
            np.testing.assert_array_equal(vec(phi_i), Pphi_Ppad @ vec(Z_i))
            # eq. (5): vec(S) = (I (x) W) vec(phi) + (1 (x) I) b = (phi^T (x) I) vec(W) + (1 (x) I) b
            one_I = sp.kron(np.ones((ab_conv, 1)), sp.eye(d1))
            S4 = sp.kron(sp.eye(ab_conv), W) @ vec(phi_i) + one_I @ bias[:, 0]
            S5 = sp.kron(phi_i.T, sp.eye(d1)) @ vec(W) + one_I @ bias[:, 0]
            np.testing.assert_allclose(vec(sig_i), np.maximum(S4, 0), rtol=1e-13, atol=1e-14)
            np.testing.assert_allclose(vec(sig_i), np.maximum(S5, 0), rtol=1e-13, atol=1e-14)
            if model.wd_subimage_pool[m] > 1:
                Pp = P_pool(sig_i, d1, model.ht_conv[m], model.wd_conv[m], model.wd_subimage_pool[m])
                Zout_i = blocks(rec[(m, "forward", "Z")], n)[i]
                np.testing.assert_array_equal(vec(Zout_i), Pp @ vec(sig_i))
                np.testing.assert_array_equal(net.idx_pool[m][:, i], Pp.indices + 1)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_backward_equals_P_matrices_and_eqs_12_14_18(name):
    n = 3
    param, model, net, rec = run(name, n, seed=5)
    for m in range(1, model.LC + 1):
        d, a, b, p = model.ch_input[m], model.ht_input[m], model.wd_input[m], model.wd_pad_added[m]
        h, s = model.wd_filter[m], model.strides[m]
        d1, ab_conv = model.ch_input[m + 1], model.ht_conv[m] * model.wd_conv[m]
        W = model.weight[m]
        pooled = model.wd_subimage_pool[m] > 1
        dXidS = rec[(m, "backward", "dXidS")]
        G = rec[(m, "backward", "pool_gradient")] if pooled else dXidS        # dxi/dS^m
        assert G.shape == (d1, ab_conv * n)
        gW = np.zeros(W.size)
        gb = np.zeros(d1)
        for i, (phi_i, G_i) in enumerate(zip(blocks(net.phiZ[m], n), blocks(G, n))):
            if pooled:   # eq. (26): vec(Delta)^T P_pool^{m,i}
                sig_i = blocks(rec[(m, "forward", "sigmaS")], n)[i]
                Pp = P_pool(sig_i, d1, model.ht_conv[m], model.wd_conv[m], model.wd_subimage_pool[m])
                np.testing.assert_array_equal(vec(G_i), Pp.T @ vec(blocks(dXidS, n)[i]))
            gW += sp.kron(phi_i.T, sp.eye(d1)).T @ vec(G_i)                 # eq. (12)
            gb += sp.kron(np.ones((ab_conv, 1)), sp.eye(d1)).T @ vec(G_i)   # eq. (14)
        np.testing.assert_allclose(vec(net.dlossdW[m]), gW, rtol=1e-12, atol=1e-12 * np.abs(gW).max())
        np.testing.assert_allclose(net.dlossdb[m][:, 0], gb, rtol=1e-12, atol=1e-12 * np.abs(gb).max())
        if m > 1:
            Pphi_Ppad = P_phi(d, model.ht_pad[m], model.wd_pad[m], h, s) @ P_pad(d, a, b, p)
            unpad = rec[(m, "backward", "unpad")]
            for G_i, u_i in zip(blocks(G, n), blocks(unpad, n)):
                # eq. (18): vec(W^T dxi/dS)^T P_phi P_pad
                expected = Pphi_Ppad.T @ vec(W.T @ G_i)
                np.testing.assert_allclose(vec(u_i), expected, rtol=1e-12, atol=1e-13 * np.abs(expected).max())
            Zm = rec[(m - 1, "forward", "Z")]
            np.testing.assert_array_equal(rec[(m, "backward", "activation")], unpad * (Zm > 0))
    for m in range(model.LC + 1, model.L + 1):          # eqs. (19), (20), (21), (22)
        D = rec[(m, "backward", "dXidS")]
        np.testing.assert_allclose(net.dlossdW[m], D @ net.Z[m].T, rtol=1e-13)
        np.testing.assert_allclose(net.dlossdb[m][:, 0], D.sum(axis=1), rtol=1e-13)
        np.testing.assert_allclose(rec[(m, "backward", "activation")],
                                   (model.weight[m].T @ D) * (net.Z[m] > 0), rtol=1e-13)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_vTP_all_ops_equal_vT_P(name):
    n = 3
    param, model, net, rec = run(name, n, seed=2)
    nL = model.nL
    g = np.random.default_rng(9)
    for m in range(1, model.LC + 1):
        d, d1 = model.ch_input[m], model.ch_input[m + 1]
        h, s = model.wd_filter[m], model.strides[m]
        ab_conv, a_pad, b_pad = model.ht_conv[m] * model.wd_conv[m], model.ht_pad[m], model.wd_pad[m]
        Pphi = P_phi(d, a_pad, b_pad, h, s)
        # phi ops: (h*h*d) x (a_conv*b_conv*n) and nL*n blocks
        for op, nblk in (("phi_gradient", n), ("phi_Jacobian", nL * n)):
            V = np.asfortranarray(g.standard_normal((h * h * d, ab_conv * nblk)))
            row = vTP(param, model, net, m, V, op)
            assert row.ndim == 1 and row.size == d * a_pad * b_pad * nblk
            for k, V_k in enumerate(blocks(V, nblk)):
                expected = Pphi.T @ vec(V_k)
                got = blocks(row[None, :], nblk)[k][0]
                np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-14)
        if model.wd_subimage_pool[m] == 1:
            continue
        a_out, b_out = model.ht_input[m + 1], model.wd_input[m + 1]
        sig = rec[(m, "forward", "sigmaS")]
        Ppool = [P_pool(sig_i, d1, model.ht_conv[m], model.wd_conv[m], model.wd_subimage_pool[m])
                 for sig_i in blocks(sig, n)]
        for op, nblk in (("pool_gradient", n), ("pool_Jacobian", nL * n)):
            V = np.asfortranarray(g.standard_normal((d1, a_out * b_out * nblk)))
            row = vTP(param, model, net, m, V, op)
            assert row.size == d1 * ab_conv * nblk
            for k, V_k in enumerate(blocks(V, nblk)):
                instance = k if op == "pool_gradient" else k // nL     # class fastest, then instance
                expected = Ppool[instance].T @ vec(V_k)
                np.testing.assert_array_equal(blocks(row[None, :], nblk)[k][0], expected)


def test_vTP_phi_overlaps_add_up():
    """With stride 1 and filter 3, interior pixels appear in 9 patches: a
    vector of ones gives 9 there (a check independent of P_phi)."""
    param = make_param(ht=5, wd=5, ch=[1, 1], pad=[0], filt=[3], stride=[1], pool=[1], full=[2])
    model = init_model(param)
    net = init_net(param, model)
    net.num_sampled_data = 1
    row = vTP(param, model, net, 1, np.ones((9, 9), order="F"), "phi_gradient")
    counts = np.array([[1, 2, 3, 2, 1], [2, 4, 6, 4, 2], [3, 6, 9, 6, 3], [2, 4, 6, 4, 2], [1, 2, 3, 2, 1]])
    np.testing.assert_array_equal(reshape(row, 5, 5), counts)
