"""The trace: every stage of docs/design.md's table is recorded with
MATLAB's shapes, recording changes no result, and nothing is recorded when
tracing is off."""
import numpy as np

from simplecnn_py.support import trace
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset

import pytest

from test_port_common import CONFIGS, make_param, make_prob, perturb_biases, reference_path  # noqa: F401

# The reference routines record every stage.  (With the fast paths on, an
# untraced lossgrad_subset runs the fused pass, whose sums over instances
# differ from the traced, stage-by-stage run by rounding.)
pytestmark = pytest.mark.usefixtures("reference_path")


def expected_keys(model):
    keys = []
    for m in range(1, model.LC + 1):
        pooled = model.wd_subimage_pool[m] > 1
        keys += [(m, "forward", s) for s in ("idx_pad", "idx_phiZ", "phiZ", "sigmaS", "Z")]
        keys += [(m, "forward", "idx_pool")] if pooled else []
    keys += [(m, "forward", "Z") for m in range(model.LC + 1, model.L + 1)]
    keys += [(model.L, "forward", "loss")]
    for m in range(model.L, model.LC, -1):
        keys += [(m, "backward", s) for s in ("dXidS", "dlossdW", "dlossdb", "WtDelta", "activation")]
    for m in range(model.LC, 0, -1):
        keys += [(m, "backward", "dXidS")]
        keys += [(m, "backward", "pool_gradient")] if model.wd_subimage_pool[m] > 1 else []
        keys += [(m, "backward", s) for s in ("dlossdW", "dlossdb")]
        if m > 1:
            keys += [(m, "backward", s) for s in ("WtDelta", "phi_gradient", "unpad", "activation")]
    return keys


def test_trace_records_every_stage_in_order_with_matlab_shapes():
    n = 3
    param = make_param(**CONFIGS["three_conv"])      # pooled and unpooled conv layers
    model = perturb_biases(init_model(param, 0))
    prob = make_prob(model, n)
    with trace.tracing() as tr:
        net, loss = lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3], "fungrad")
    assert list(tr.records) == expected_keys(model)
    r = tr.records
    for m in range(1, model.LC + 1):
        d, d1 = model.ch_input[m], model.ch_input[m + 1]
        h = model.wd_filter[m]
        ab_conv = model.ht_conv[m] * model.wd_conv[m]
        ab_pad = model.ht_pad[m] * model.wd_pad[m]
        ab = model.ht_input[m] * model.wd_input[m]
        ab_next = model.ht_input[m + 1] * model.wd_input[m + 1]
        assert r[(m, "forward", "phiZ")].shape == (h * h * d, ab_conv * n)
        assert r[(m, "forward", "sigmaS")].shape == (d1, ab_conv * n)
        assert r[(m, "forward", "Z")].shape == (d1, ab_next * n)
        assert r[(m, "backward", "dXidS")].shape == (d1, ab_next * n)
        assert r[(m, "backward", "dlossdW")].shape == (d1, h * h * d)
        assert r[(m, "backward", "dlossdb")].shape == (d1, 1)
        if m > 1:
            assert r[(m, "backward", "WtDelta")].shape == (h * h * d, ab_conv * n)
            assert r[(m, "backward", "phi_gradient")].shape == (d, ab_pad * n)
            assert r[(m, "backward", "unpad")].shape == (d, ab * n)
            assert r[(m, "backward", "activation")].shape == (d, ab * n)
    assert r[(model.L, "backward", "dXidS")].shape == (model.nL, n)
    np.testing.assert_array_equal(r[(model.L, "backward", "dXidS")],
                                  2 * (net.Z[model.L + 1] - prob.label_mat))
    assert r[(model.L, "forward", "loss")] == loss


def test_tracing_changes_nothing_and_is_off_by_default():
    param = make_param(**CONFIGS["nonsquare_stride2"])
    model = perturb_biases(init_model(param, 0))
    prob = make_prob(model, 4)
    net1, loss1 = lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3, 4], "fungrad")
    assert not trace.enabled()
    with trace.tracing() as tr:
        net2, loss2 = lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3, 4], "fungrad")
    assert tr.records and loss1 == loss2
    for m in range(1, model.L + 1):
        np.testing.assert_array_equal(net1.dlossdW[m], net2.dlossdW[m])
        np.testing.assert_array_equal(net1.dlossdb[m], net2.dlossdb[m])
    # records are copies: changing the net afterwards does not change them
    before = tr.records[(1, "forward", "phiZ")].copy()
    net2.phiZ[1][:] = 0
    np.testing.assert_array_equal(tr.records[(1, "forward", "phiZ")], before)
