"""dlossdW / dlossdb of lossgrad_subset against central finite differences
of the loss, on small networks of several shapes (one conv layer,
non-square, stride > 1, pool 1 and 3, several full layers, several input
channels) and on the MNIST shape with real images.

Within a region where no ReLU sign and no pooling winner changes, the loss
is a quadratic function of any single weight, so the central difference is
exact up to rounding; each perturbation is checked to stay in the region."""
import numpy as np
import pytest
import scipy.io as sio

from simplecnn_py.support.conventions import vec
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset

from simplecnn_py import fast

from test_port_common import CONFIGS, MNIST_SHAPE, make_param, make_prob, perturb_biases
from test_port_common import port_path  # noqa: F401 (fixture)

EPS = 1e-5


def pattern(model, net):
    """Everything that decides the linear region: ReLU signs and pool winners."""
    masks = [net.Z[m] > 0 for m in range(2, model.L + 1)]
    pools = [net.idx_pool[m] for m in range(1, model.LC + 1) if model.wd_subimage_pool[m] > 1]
    return masks + pools


def same(p, q):
    return all(np.array_equal(x, y) for x, y in zip(p, q))


def check_fd(prob, param, model, max_entries=None, seed=0):
    net = init_net(param, model)
    batch = np.arange(1, prob.l + 1)
    net, _ = lossgrad_subset(prob, param, model, net, batch, "fungrad")
    grads = {("W", m): vec(net.dlossdW[m]).copy() for m in range(1, model.L + 1)}
    grads.update({("b", m): vec(net.dlossdb[m]).copy() for m in range(1, model.L + 1)})
    base = pattern(model, net)
    g = np.random.default_rng(seed)
    skipped = checked = 0
    for (kind, m), grad in grads.items():
        theta = vec(model.weight[m] if kind == "W" else model.bias[m])     # a view: edits the model
        entries = np.arange(theta.size)
        if max_entries and theta.size > max_entries:
            entries = g.choice(theta.size, max_entries, replace=False)
        fd, an = [], []
        for k in entries:
            old = theta[k]
            theta[k] = old + EPS
            net, f_plus = lossgrad_subset(prob, param, model, net, batch, "funonly")
            ok = same(pattern(model, net), base)
            theta[k] = old - EPS
            net, f_minus = lossgrad_subset(prob, param, model, net, batch, "funonly")
            ok = ok and same(pattern(model, net), base)
            theta[k] = old
            if not ok:
                skipped += 1
                continue
            fd.append((f_plus - f_minus) / (2 * EPS))
            an.append(grad[k])
        fd, an = np.array(fd), np.array(an)
        scale = max(np.abs(grad).max(), 1e-8)
        np.testing.assert_allclose(an, fd, rtol=1e-6, atol=1e-6 * scale,
                                   err_msg=f"d loss / d {kind}{{{m}}}")
        checked += fd.size
    assert skipped <= 0.05 * (checked + skipped), f"{skipped} perturbations crossed a boundary"
    return checked


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_gradient_matches_finite_differences(name, port_path):
    param = make_param(**CONFIGS[name])
    model = perturb_biases(init_model(param, seed=4))
    prob = make_prob(model, 3, seed=7)
    assert check_fd(prob, param, model) > 0


def test_finite_differences_catch_a_wrong_gradient(monkeypatch):
    """The check above can fail: a backward pass that forgets the activation
    mask of conv layers is caught."""
    import simplecnn_py.cnn.JTv as mod
    real = mod.vTP

    def broken(param, model, net, m, V, op):
        return 1.01 * real(param, model, net, m, V, op) if op == "phi_gradient" else real(param, model, net, m, V, op)

    monkeypatch.setattr(mod, "vTP", broken)
    param = make_param(**CONFIGS["nonsquare_stride2"])
    model = perturb_biases(init_model(param, seed=4))
    prob = make_prob(model, 3, seed=7)
    with fast.use_reference(), pytest.raises(AssertionError, match="d loss / d W\\{1\\}"):
        check_fd(prob, param, model)


def test_gradient_fd_mnist_shape_real_images(shared_data, port_path):
    d = sio.loadmat(str(shared_data / "mnist-demo.mat"))
    n = 4
    images = d["Z"][:n].reshape(n, 28, 28)                       # row-major images
    X = np.asfortranarray(images.transpose(0, 2, 1).reshape(n, -1).T / 255.0)
    X -= X.mean(axis=1, keepdims=True)
    y = d["y"][:n, 0].astype(int) + 1
    param = make_param(**MNIST_SHAPE)
    model = perturb_biases(init_model(param, seed=1), scale=0.01)
    prob = make_prob(model, n, labels=y)
    prob.data = X
    assert check_fd(prob, param, model, max_entries=8) >= 56
