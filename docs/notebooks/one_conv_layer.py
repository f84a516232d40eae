# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # One convolutional layer, backward, three ways
#
# *Input -> conv -> ReLU -> pool -> fully connected: how is the fully
# vectorized backward pass derived?*  This notebook takes that network on
# three tiny images, runs the forward pass, then walks through the
# gradient-calculation slides' equations (19)-(28) one step at a time.
# Every step is computed three ways, and the notebook **asserts** that they
# agree:
#
# 1. **by the book**: the slides' P matrices and Kronecker products, built
#    from their definitions (`simplecnn_harness.student.pmatrices`), instance by
#    instance;
# 2. **the port**: `simplecnn_py`'s routines (`padding_and_phiZ`,
#    `maxpooling`, `vTP`, `JTv`), which read line for line beside simpleNN's
#    MATLAB, all instances side by side;
# 3. **finite differences** of the loss, which know nothing about either.
#
# At the end, the same numbers come from the MATLAB side (our seed-layout
# MATLAB in `matlab_ref/seed`, under GNU Octave), when Octave is installed.
#
# The loss is simpleNN's: the **sum** of squared errors over the instances,
# $\xi = \sum_i \|z^{L+1,i} - y^i\|^2$ (no 1/2, no 1/l), so the backward pass
# starts from $2(z^{L+1,i} - y^i)$.
#
# Conventions: every array is stored column-major (MATLAB's), `vec` stacks
# columns, an image of d channels and a x b pixels is the d x (a*b) matrix
# whose column k holds the d channels of pixel k (height fastest).

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from simplecnn_harness.student.pmatrices import P_pad, P_phi, P_pool, blocks
from simplecnn_py.support import trace
from simplecnn_py.cnn.check_data import check_data
from simplecnn_py.support.conventions import cell, reshape, struct, vec
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
from simplecnn_py.cnn.maxpooling import maxpooling
from simplecnn_py.cnn.read_config import read_config
from simplecnn_py.cnn.vTP import vTP

np.set_printoptions(precision=4, suppress=True, linewidth=120)
# our seed-layout MATLAB, found through the installed package (so that a copy
# of this notebook runs from any folder)
from simplecnn_harness.embedded import SEED_TREE


def same(x, y, rtol=1e-12):
    """Relative agreement ||x - y|| <= rtol ||y||, asserted."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    assert x.shape == y.shape, (x.shape, y.shape)
    err = np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-300)
    assert err <= rtol, f"relative difference {err:.2e} > {rtol:.0e}"
    return err


def said(step, port, book=None, fd=None, octave=None, book_rtol=1e-12):
    """Print how far the port's value is from each other way (relative
    differences, asserted small): ``step: port vs by the book 1e-16, ...``."""
    parts = []
    for name, other, rtol in (("by the book", book, book_rtol), ("finite differences", fd, FD_RTOL),
                              ("Octave", octave, 1e-12)):
        if other is not None:
            parts.append(f"port vs {name} {same(port, other, rtol):.1e}")
    print(f"{step}: " + ", ".join(parts))


# %% [markdown]
# ## The network and the data
#
# 6 x 6 one-channel images; a conv layer of 2 filters 3 x 3 with zero padding
# 1 and stride 1 (so 6 x 6 x 2 out), ReLU, 2 x 2 max pooling (3 x 3 x 2), and a
# fully-connected layer to 3 outputs (linear, the last layer).  In simpleNN's
# numbering the conv layer is m = 1 and the full layer m = 2 (L = 2, LC = 1).

# %%
CONFIG = """L = 2;
LC = 1;
ht_input = 6;
wd_input = 6;
ch_input = [1,2];
wd_pad_added = [1];
wd_filter = [3];
strides = [1];
wd_subimage_pool = [2];
full_neurons = [3];
"""
cfg = os.path.join(tempfile.mkdtemp(), "one_conv.config")
Path(cfg).write_text(CONFIG)
param = read_config(cfg)
model = init_model(param, seed=1)
g = np.random.default_rng(2)
model.bias[1][:] = 0.1 * g.standard_normal(model.bias[1].shape)   # He init's biases are 0; make them count
model.bias[2][:] = 0.1 * g.standard_normal(model.bias[2].shape)

n = 3
images = g.integers(0, 10, size=(n, 6, 6)).astype(float)          # three small images of digits 0..9
y = np.array([1.0, 2.0, 3.0])                                       # their labels (1..nL)
Z = np.stack([vec(im) for im in images])                            # simpleNN data: one image a row, vec'ed
prob = check_data(struct(y=y, Z=Z), param)
print(images[0])

# %% [markdown]
# ## Forward pass
#
# `lossgrad_subset` runs `feedforward` and then the backward pass `JTv`; under
# `trace.tracing()` every stage of both is kept (stage names as in
# docs/design.md).

# %%
net = init_net(param, model)
with trace.tracing() as tr:
    net, loss = lossgrad_subset(prob, param, model, net, np.arange(1, n + 1), "fungrad")
T = {(m, s): A for (m, direction, s), A in tr.records.items()}      # (layer, stage) -> array
sigmaS = T[(1, "sigmaS")]          # max(W*phiZ + b, 0): 2 x (36*n), before pooling
Z2 = net.Z[2]                      # pooled and reshaped: (2*3*3) x n
out = net.Z[3]                     # 3 x n
print("phiZ{1}:", net.phiZ[1].shape, " sigma(S):", sigmaS.shape, " Z{2}:", Z2.shape, " output:", out.shape)
print("loss =", loss)

# %% [markdown]
# ### The P matrices of the forward pass
#
# * $P_{pad}$ (64 x 36) puts the 6 x 6 image into an 8 x 8 frame of zeros;
# * $P_\phi$ (9*36 x 64) copies each 3 x 3 patch of the padded image into a
#   column: $\phi(\mathrm{pad}(Z)) = \mathrm{mat}(P_\phi P_{pad}\, \mathrm{vec}(Z))$, 9 x 36;
# * $P_{pool}^{i}$ (18 x 72) has one 1 per row, at the maximum of each
#   2 x 2 window of instance i's $\sigma(S)$.
#
# The first 9 rows of $P_\phi P_{pad}$ form the first patch (top-left, which
# is mostly padding):

# %%
d, a, b, p, h = 1, 6, 6, 1, 3
Ppad = P_pad(d, a, b, p).toarray()
Pphi = P_phi(d, a + 2 * p, b + 2 * p, h, 1).toarray()
print(Ppad.shape, Pphi.shape)
print((Pphi @ Ppad)[:9].astype(int)[:, :16], "... (first 16 of 36 columns)")

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
ax[0].spy(Pphi, markersize=1)
ax[0].set_title(r"$P_\phi$ (324 x 64): one 1 per row")
ax[1].spy(Pphi @ Ppad, markersize=1)
ax[1].set_title(r"$P_\phi P_{pad}$ (324 x 36)")
plt.show()

# %% [markdown]
# phi, S and the pooling, by the book, instance by instance, against the port:

# %%
W1, b1, W2, b2 = model.weight[1], model.bias[1], model.weight[2], model.bias[2]
Ppool = []
for i in range(n):
    z_i = prob.data[:, i]                                            # vec of the 1 x 6 x 6 image
    phi_i = reshape(Pphi @ Ppad @ z_i, h * h * d, -1)                # 9 x 36
    same(phi_i, blocks(net.phiZ[1], n)[i], 0)
    # eq. (5): vec(S) = (I kron W) vec(phi) + (1 kron I) b
    S_i = np.kron(np.eye(36), W1) @ vec(phi_i) + np.kron(np.ones((36, 1)), np.eye(2)) @ b1[:, 0]
    same(np.maximum(S_i, 0), vec(blocks(sigmaS, n)[i]))
    Ppool.append(P_pool(vec(blocks(sigmaS, n)[i]), 2, 6, 6, 2).toarray())
    same(Ppool[i] @ vec(blocks(sigmaS, n)[i]), Z2[:, i], 0)          # the pooled values
    assert np.array_equal(np.nonzero(Ppool[i])[1] + 1, net.idx_pool[1][:, i])   # and where they came from
print("P_pool of instance 1 (18 x 72), columns of its 1s (1-based):", np.nonzero(Ppool[0])[1] + 1)

# %% [markdown]
# The pooling winners: each 2 x 2 window of $\sigma(S)$ (one panel per
# channel of instance 1) sends up its first maximum, marked.

# %%
S4 = reshape(blocks(sigmaS, n)[0], 2, 6, 6)                          # channel, row, column
fig, ax = plt.subplots(1, 2, figsize=(8, 4))
for c in range(2):
    ax[c].imshow(S4[c], cmap="Greys")
    for k in np.nonzero(Ppool[0])[1]:
        cc, yy, xx = k % 2, (k // 2) % 6, k // 12
        if cc == c:
            ax[c].plot(xx, yy, "r*", markersize=12)
    ax[c].set_xticks(np.arange(-0.5, 6, 2), minor=False)
    ax[c].set_yticks(np.arange(-0.5, 6, 2), minor=False)
    ax[c].grid(color="tab:blue", linewidth=2)
    ax[c].set_title(f"sigma(S), channel {c + 1}: winners *")
plt.show()

# %% [markdown]
# ## Finite differences
#
# Central differences $(\xi(x + \epsilon e_k) - \xi(x - \epsilon e_k)) / 2\epsilon$
# for every entry of a quantity x, where $\xi$ is computed from x onward
# with the port's forward routines.  They are accurate to about
# $10^{-8}$ relative (truncation and rounding), which is the tolerance used.

# %%
FD_RTOL = 1e-7


def fd(f, X, eps=1e-6):
    G = np.zeros_like(X)
    for k in np.ndindex(X.shape):
        E = np.zeros_like(X)
        E[k] = eps
        G[k] = (f(X + E) - f(X - E)) / (2 * eps)
    return G


Y = prob.label_mat


def loss_from_Z2(Z2_):                   # Z{2}: (18 x n), through the full layer
    return np.linalg.norm(W2 @ Z2_ + b2 - Y, "fro") ** 2


def loss_from_S(S):                      # S^1 (2 x 36n): ReLU, pooling, the rest
    net2 = struct(**vars(net))
    net2.Z = cell([net.Z[1], np.asfortranarray(np.maximum(S, 0)), None])
    Zp, _ = maxpooling(model, net2, 1)
    return loss_from_Z2(reshape(Zp, -1, n))


def loss_with(m, W=None, bias=None, data=None):
    model2 = struct(**vars(model))
    model2.weight, model2.bias = cell(list(model.weight)), cell(list(model.bias))
    if W is not None:
        model2.weight[m] = np.asfortranarray(W)
    if bias is not None:
        model2.bias[m] = np.asfortranarray(bias)
    prob2 = prob if data is None else struct(**{**vars(prob), "data": np.asfortranarray(data)})
    return lossgrad_subset(prob2, param, model2, init_net(param, model2), np.arange(1, n + 1), "funonly")[1]


S1 = W1 @ net.phiZ[1] + b1               # S^1 before the ReLU
same(loss_from_S(S1), loss)

# %% [markdown]
# ## Backward: the fully-connected layer, eqs. (19)-(22)
#
# $\Delta = 2(z^{3,i} - y^i)$ enters layer 2.
#
# * (19) $\partial\xi/\partial W^2 = \sum_i \Delta^i (z^{2,i})^T$, in Kronecker form
#   $\mathrm{vec}(\partial\xi/\partial W^2) = \sum_i (z^{2,i} \otimes I)\,\Delta^i$;
# * (20) $\partial\xi/\partial b^2 = \sum_i \Delta^i$;
# * (21) $\partial\xi/\partial z^{2,i} = (W^2)^T \Delta^i$;
# * (22) masked by $I[z^{2,i} > 0]$ (the ReLU before pooling: a pooled value
#   of 0 came from a negative S).

# %%
Delta = 2 * (out - Y)
same(T[(2, "dXidS")], Delta, 0)
dW2_book = sum((np.kron(Z2[:, [i]], np.eye(3)) @ Delta[:, i]) for i in range(n))
db2_book = sum(Delta[:, i] for i in range(n))
dW2_fd = fd(lambda W: loss_with(2, W=W), W2)
db2_fd = fd(lambda bb: loss_with(2, bias=bb), b2)
said("(19) dW2", vec(net.dlossdW[2]), book=dW2_book)
said("(19) dW2", net.dlossdW[2], fd=dW2_fd)
said("(20) db2", net.dlossdb[2][:, 0], book=db2_book)
said("(20) db2", net.dlossdb[2], fd=db2_fd)

WtD_book = W2.T @ Delta
dZ2_fd = fd(loss_from_Z2, Z2)
said("(21) W'Delta", T[(2, "WtDelta")], book=WtD_book, fd=dZ2_fd)
act_book = WtD_book * (Z2 > 0)
said("(22) mask", T[(2, "activation")], book=act_book, book_rtol=0)

# %% [markdown]
# ## Backward: the conv layer, eqs. (23)-(28)
#
# The delta is reshaped to the conv layer's d x (a*b*n) layout (2 x 9n; a
# column-major reshape, as MATLAB's), then:
#
# * (23)-(26) the pool gradient $\mathrm{vec}(\Delta^i)^T P_{pool}^{i}$:
#   each value goes to its window's maximum, nothing elsewhere.  This is
#   $\partial\xi/\partial S^{1,i}$ (the ReLU mask is inside: a winner with
#   $\sigma(S) = 0$ received 0 at step (22));
# * (27) $\partial\xi/\partial W^1 = \sum_i \Delta^i \phi(\mathrm{pad}(Z^{1,i}))^T$,
#   Kronecker form $\sum_i (\phi_i^T \otimes I)^T \mathrm{vec}(\Delta^i)$ (eq. 12);
# * (14) $\partial\xi/\partial b^1 = \sum_i (1 \otimes I)^T \mathrm{vec}(\Delta^i)$;
# * (28) the delta to the layer below,
#   $\mathrm{vec}((W^1)^T \Delta^i)^T P_\phi P_{pad}$ (for a first layer this is
#   $\partial\xi/\partial(\text{input})$: `JTv` stops before it, we do it here
#   with `vTP` to show the step).

# %%
D = reshape(T[(2, "activation")], 2, -1)                            # 2 x (9n)
same(T[(1, "dXidS")], D, 0)
pool_port = reshape(vTP(param, model, net, 1, D, "pool_gradient"), 2, -1)
pool_book = np.hstack([reshape(vec(blocks(D, n)[i]) @ Ppool[i], 2, -1) for i in range(n)])
pool_fd = fd(loss_from_S, S1)
said("(26) pool gradient", pool_port, book=pool_book, fd=pool_fd, book_rtol=0)
same(T[(1, "pool_gradient")], pool_port, 0)
print("instance 1, channel 1, as a 6 x 6 picture (nonzero only at winners):")
print(reshape(blocks(pool_port, n)[0], 2, 6, 6)[0])

# %%
G = pool_port
dW1_book = sum(np.kron(blocks(net.phiZ[1], n)[i].T, np.eye(2)).T @ vec(blocks(G, n)[i]) for i in range(n))
db1_book = sum(np.kron(np.ones((36, 1)), np.eye(2)).T @ vec(blocks(G, n)[i]) for i in range(n))
dW1_fd = fd(lambda W: loss_with(1, W=W), W1)
db1_fd = fd(lambda bb: loss_with(1, bias=bb), b1)
said("(27) dW1", vec(net.dlossdW[1]), book=dW1_book)
said("(27) dW1", net.dlossdW[1], fd=dW1_fd)
said("(14) db1", net.dlossdb[1][:, 0], book=db1_book)
said("(14) db1", net.dlossdb[1], fd=db1_fd)
print(net.dlossdW[1])

# %%
V = W1.T @ G                                                         # 9 x 36n
phi_grad = reshape(vTP(param, model, net, 1, V, "phi_gradient"), 1, -1)     # 1 x 64n (padded)
idx = vec(net.idx_pad[1] + 64 * np.arange(n))
delta_in_port = phi_grad[:, idx - 1]                                 # unpad: 1 x 36n
delta_in_book = np.hstack([reshape(vec(W1.T @ blocks(G, n)[i]) @ Pphi @ Ppad, 1, -1) for i in range(n)])
delta_in_fd = fd(lambda X: loss_with(1, data=X), prob.data)          # d xi / d input, 36 x n
said("(28) delta to the input", delta_in_port, book=delta_in_book)
said("(28) delta to the input", reshape(delta_in_port, 36, n), fd=delta_in_fd)
print(reshape(delta_in_port[:, :36], 6, 6))

# %% [markdown]
# ## The same numbers from MATLAB (Octave)
#
# Our seed-layout MATLAB (`matlab_ref/seed`, the layout of the slides' code
# segment) on the same config, images and weights, under GNU Octave through
# oct2py: `lossgrad_subset`'s gradients, and the two `vTP` steps on the same
# deltas.  Skipped, with a note, where Octave is not installed.

# %%
import shutil

octave = shutil.which("octave-cli") or shutil.which("octave")
if octave is None:
    print("note: GNU Octave (octave-cli) is not installed: the MATLAB comparison is skipped")
else:
    os.environ.setdefault("OCTAVE_EXECUTABLE", octave)
    from oct2py import Oct2Py

    oc = Oct2Py()
    try:
        oc.addpath(str(SEED_TREE / "cnn"))
        for name, value in dict(cfg=cfg, Zdata=Z, y=y.reshape(-1, 1), W1=W1, b1=b1, W2=W2, b2=b2, D=D, V=V).items():
            oc.push(name, value)
        oc.eval("param = read_config(cfg); model = init_model(param);"
                "model.weight = {W1; W2}; model.bias = {b1; b2};"
                "prob.Z = Zdata; prob.y = y; prob = check_data(prob, param);"
                "net = init_net(param, model);"
                "[net, loss] = lossgrad_subset(prob, param, model, net, 1:3, 'fungrad');"
                "dW1 = net.dlossdW{1}; db1 = net.dlossdb{1}; dW2 = net.dlossdW{2}; db2 = net.dlossdb{2};"
                "G = reshape(vTP(param, model, net, 1, D, 'pool_gradient'), 2, []);"
                "P = vTP(param, model, net, 1, V, 'phi_gradient');"
                "delta_in = P(net.idx_pad{1} + 64*(0:2));", verbose=False)
        m_loss = float(oc.pull("loss"))
        print("loss: port vs Octave", f"{same(loss, m_loss):.1e}")
        said("(19) dW2", net.dlossdW[2], octave=oc.pull("dW2"))
        said("(20) db2", net.dlossdb[2], octave=oc.pull("db2"))
        said("(26) pool gradient", pool_port, octave=oc.pull("G"))
        said("(27) dW1", net.dlossdW[1], octave=oc.pull("dW1"))
        said("(14) db1", net.dlossdb[1], octave=oc.pull("db1"))
        said("(28) delta to the input", delta_in_port,
             octave=np.reshape(oc.pull("delta_in"), (1, -1), order="F"))
    finally:
        oc.exit()

# %% [markdown]
# Every step agreed three ways (four with Octave).  To check a backward
# pass of your own against these numbers, stage by stage, save your
# `dlossdW`/`dlossdb` (and, if you like, your deltas) and run
# `simplecnn check-gradient` (README, "For students: worked backward passes
# and `simplecnn check-gradient`"; the MINE.mat format and a template for your
# own network: `docs/migration-guide.md`, section 12).
