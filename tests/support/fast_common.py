"""Shared set-up of the fast-path tests (tests/test_fast_*.py): the shapes and
a net after a reference feedforward."""
import tracemalloc

import numpy as np

from simplecnn_py import fast
from simplecnn_py.cnn.feedforward import feedforward
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
from simplecnn_py.fast import lossgrad_subset as fast_lossgrad_subset

from test_port_common import FAST_PATH_SHAPES, make_param, make_prob, perturb_biases

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
    with fast.use_reference():
        net = feedforward(prob.data, param, model, net)
    return param, model, prob, net


def pooled_geometry(model, m):
    """(d_out, a_conv, b_conv, pool, a_out, b_out) of conv layer m."""
    return (int(model.ch_input[m + 1]), int(model.ht_conv[m]), int(model.wd_conv[m]),
            int(model.wd_subimage_pool[m]), int(model.ht_input[m + 1]), int(model.wd_input[m + 1]))


def special_values(shape, dtype, seed):
    """Values with exact ties, +0 and -0, negatives, and a few large ones."""
    g = np.random.default_rng(seed)
    V = g.standard_normal(shape).astype(dtype)
    V[g.random(shape) < 0.2] = 0.0
    V[g.random(shape) < 0.2] = -0.0
    V[g.random(shape) < 0.1] = 1.5                   # exact ties between positive entries
    V[g.random(shape) < 0.1] = -2.5                  # ... and negative ones
    return V


def run_both(name, n, precision="double", batch_idx=None, task="fungrad"):
    param, model, prob, _ = setup(name, n, precision)
    batch_idx = np.arange(1, n + 1) if batch_idx is None else batch_idx
    with fast.use_reference():
        ref, loss_ref = lossgrad_subset(prob, param, model, init_net(param, model), batch_idx, task)
    got = fast_lossgrad_subset.lossgrad_subset(prob, param, model, init_net(param, model), batch_idx, task)
    assert got is not None
    return model, ref, loss_ref, got[0], got[1]


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
