"""``simplecnn_py/fast/lossgrad_subset.py`` and ``fast/feedforward.py`` (the fused,
chunked pass of ``fast/fused.py``) against the reference lines: to rounding after a product
(OpenBLAS orders a product's sums by its width and thread count), pooling
winners exactly; the same bits whatever the threads; memory.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simplecnn_py import fast
from simplecnn_py.support import trace
from simplecnn_py.fast import layer as fast_layer
from simplecnn_py.fast import workspace as fast_workspace
from simplecnn_py.fast import padding_and_phiZ as fast_padding_and_phiZ
from simplecnn_py.fast import maxpooling as fast_maxpooling
from simplecnn_py.fast import vTP as fast_vTP
from simplecnn_py.fast import lossgrad_subset as fast_lossgrad_subset
from simplecnn_py.fast import feedforward as fast_feedforward
from simplecnn_py.fast import fused as fast_fused
from simplecnn_py.cnn.fungrad_minibatch import fungrad_minibatch
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
from simplecnn_py.cnn.padding_and_phiZ import padding_and_phiZ

from fast_common import SHAPES, setup, run_both, peak_bytes, kept_bytes
from test_port_common import MNIST_SHAPE, make_param, make_prob, perturb_biases, rel, same_bytes


@pytest.mark.parametrize("precision,tol", [("double", 1e-13), ("single", 1e-5)])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_fused_lossgrad_subset(name, precision, tol):
    n = 23                                            # not a multiple of any chunk
    model, ref, loss_ref, net, loss = run_both(name, n, precision)
    assert same_bytes(net.Z[1], ref.Z[1])
    for m in range(2, model.L + 2):                   # after a product: to rounding
        assert net.Z[m].shape == ref.Z[m].shape and net.Z[m].dtype == ref.Z[m].dtype
        assert rel(net.Z[m], ref.Z[m]) <= tol, ("Z", m)
    assert isinstance(net.phiZ, fast_padding_and_phiZ.LazyPhiZ) and not net.phiZ.built(1)
    assert isinstance(net.idx_pool, fast_maxpooling.LazyIdxPool)
    for m in range(1, model.LC + 1):
        with fast.use_reference():
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
    monkeypatch.setattr(fast_fused, "FUSED_GROUPS", 4)
    param = make_param(**MNIST_SHAPE)
    model = perturb_biases(init_model(param, seed=4))
    prob = make_prob(model, 130, seed=4)
    batch = np.arange(1, 131)
    with fast.use_reference():
        ref, loss_ref = lossgrad_subset(prob, param, model, init_net(param, model), batch, "fungrad")
    net, loss = fast_lossgrad_subset.lossgrad_subset(prob, param, model, init_net(param, model), batch, "fungrad")
    groups = fast_workspace.split(130, fast_workspace.chunk_size(fast_layer.fusable(model, net), 8), fast_fused.FUSED_GROUPS)
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
        net = fast_feedforward.feedforward(prob.data, param, model, init_net(param, model))
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
    net, loss = fast_lossgrad_subset.lossgrad_subset(prob, param, model, init_net(param, model), batch, "fungrad")
    with fast.gradient_only():
        lean, loss2 = fast_lossgrad_subset.lossgrad_subset(prob, param, model, init_net(param, model), batch, "fungrad")
        peak_lean, _ = peak_bytes(lambda: fast_lossgrad_subset.lossgrad_subset(prob, param, model, init_net(param, model),
                                                                    batch, "fungrad"))
    peak_full, _ = peak_bytes(lambda: fast_lossgrad_subset.lossgrad_subset(prob, param, model, init_net(param, model),
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
        "import numpy as np, sys; sys.path[:0] = ['tests/fast', 'tests/support', 'tests/port', 'tests'];"
        "from test_fast_lossgrad_subset import setup;"
        "from simplecnn_py.fast import fused as fast_fused, lossgrad_subset as fast_lossgrad_subset, workspace as fast_workspace;"
        "from simplecnn_py.cnn.init_net import init_net;"
        "fast_workspace.CHUNK_BYTES, fast_fused.FUSED_GROUPS = 1, 4;"
        "param, model, prob, _ = setup('mnist_small', 30);"
        "net, loss = fast_lossgrad_subset.lossgrad_subset(prob, param, model, init_net(param, model), np.arange(1, 31), 'fungrad');"
        "sys.stdout.write(np.concatenate([np.ravel(net.dlossdW[m]) for m in range(1, 5)] + [np.ravel(loss)]).tobytes().hex())"
    )
    root = str(Path(__file__).resolve().parents[2])
    outs = []
    for threads in ("1", "2"):
        env = dict(os.environ, SIMPLECNN_THREADS=threads)
        outs.append(subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True,
                                   capture_output=True, text=True).stdout)
    assert outs[0] and outs[0] == outs[1]


def test_fast_paths_step_aside_for_foreign_index_maps():
    """A net whose index maps are not the standard ones (e.g. MATLAB's, fed
    by the harness in isolated mode) gets the reference lines."""
    param, model, prob, net = setup("nonsquare_stride2", 3)
    swapped = init_net(param, model)
    # the seed original's defect: (wd_pad, ht_pad) passed for (ht_pad, wd_pad)
    from simplecnn_py.cnn.find_index_phiZ import find_index_phiZ
    swapped.idx_phiZ[1] = find_index_phiZ(model.wd_pad[1], model.ht_pad[1], model.ch_input[1],
                                          model.wd_filter[1], model.strides[1])
    swapped.Z[1], swapped.num_sampled_data = net.Z[1], net.num_sampled_data
    assert fast_padding_and_phiZ.padding_and_phiZ(model, swapped, 1) is None
    assert fast_lossgrad_subset.lossgrad_subset(prob, param, model, swapped, np.arange(1, 4), "fungrad") is None
    assert fast_vTP.vTP(param, model, swapped, 1, np.zeros(1), "phi_gradient") is None


def test_fused_path_steps_aside_when_tracing():
    param, model, prob, net = setup("one_conv", 3)
    with trace.tracing() as tr:
        assert fast_lossgrad_subset.lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3], "fungrad") is None
        assert fast_feedforward.feedforward(prob.data, param, model, init_net(param, model)) is None
        net, loss = lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3], "fungrad")
    assert (1, "forward", "sigmaS") in tr.records and (1, "backward", "pool_gradient") in tr.records


def test_peak_memory_of_lossgrad_subset():
    """At most 1.5x the bytes of the Z and phiZ the call keeps (the fused
    path never holds W'*Delta or the phi gradient of the whole batch)."""
    param = make_param(**MNIST_SHAPE)
    model = init_model(param, seed=0)
    prob = make_prob(model, 96)
    call = lambda: fast_lossgrad_subset.lossgrad_subset(prob, param, model, init_net(param, model), np.arange(1, 97), "fungrad")
    call()
    peak, (net, loss) = peak_bytes(call)
    kept = kept_bytes(net, model)
    assert peak <= 1.5 * kept, (peak / kept)
    with fast.use_reference():                   # the reference materialises W'*Delta & co
        peak_ref, _ = peak_bytes(lambda: lossgrad_subset(prob, param, model, init_net(param, model),
                                                         np.arange(1, 97), "fungrad"))
    assert peak < peak_ref


def test_fungrad_minibatch_memory_follows_bsize():
    """Peak memory follows param.bsize, not the number of instances: 4x the
    instances in batches of 16 cost no more, in one batch they cost more."""
    param = make_param(**MNIST_SHAPE, bsize=16, C=1.0)
    model = init_model(param, seed=0)
    peaks = {}
    with fast.use_reference(False):
        for l, bsize in ((64, 16), (256, 16), (256, 256)):
            prob = make_prob(model, l)
            param.bsize = bsize
            fungrad_minibatch(prob, param, model, init_net(param, model), "fungrad")
            peaks[l, bsize], _ = peak_bytes(lambda: fungrad_minibatch(prob, param, model, init_net(param, model),
                                                                      "fungrad"))
    assert peaks[256, 16] < 1.2 * peaks[64, 16], peaks
    assert peaks[256, 256] > 2 * peaks[256, 16], peaks
