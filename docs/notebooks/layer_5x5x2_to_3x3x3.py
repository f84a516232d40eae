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
# # A 5x5x2 input, 3 filters of 3x3x2, a 3x3x3 output: dL/dW, dL/db, dL/dh
#
# *My layer takes a 5x5x2 input through 3 filters of 3x3x2 (stride 1, no
# padding) to a 3x3x3 output.  I have dL/dW; is it right?  And how do I
# propagate the deltas to the previous layer?*
#
# In the slides' notation the layer's input is $Z$ (d = 2 channels, a = b =
# 5), the filters are the rows of $W$ (3 x 18: filter k, unrolled), and the
# output before the activation is $S = W \phi(Z) + b 1^T$ (3 x 9), where
# $\phi(Z)$ (18 x 9) has one column per output position, holding the 3x3x2
# patch it sees.  Say the layer above handed us
# $\Delta = \partial L/\partial S$ (3 x 9, one row per filter, one column per
# output position).  Then
#
# * (27) $\partial L/\partial W = \Delta\, \phi(Z)^T$  (3 x 18);
# * (14) $\partial L/\partial b = \Delta 1$  (3 x 1);
# * (28) $\mathrm{vec}(\partial L/\partial Z)^T = \mathrm{vec}(W^T \Delta)^T P_\phi$:
#   $W^T\Delta$ (18 x 9) holds, for every output position, what each entry of
#   its patch receives; $P_\phi$ adds the patches back onto the 5x5x2 input,
#   overlaps adding up.
#
# Each is computed three ways below and asserted equal: with the explicit
# $P_\phi$ and Kronecker products, with the port's routines
# (`padding_and_phiZ`, `vTP`), and with finite differences of
# $L = \sum_{k,j} \Delta_{kj} S_{kj}$ (a loss whose $\partial L/\partial S$ is exactly $\Delta$).
# (With a ReLU after the layer, multiply $\Delta$ by $I[S > 0]$ first; with
# max pooling after it, $\Delta$ is the pool gradient, eq. (26).  The layer below
# masks the delta sent to it by its own $I[Z > 0]$.)

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from simplecnn_harness.student.pmatrices import P_phi
from simplecnn_py.support.conventions import reshape, vec
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.padding_and_phiZ import padding_and_phiZ
from simplecnn_py.cnn.read_config import read_config
from simplecnn_py.cnn.vTP import vTP

np.set_printoptions(precision=4, suppress=True, linewidth=120)


def same(x, y, rtol=1e-12):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    assert x.shape == y.shape, (x.shape, y.shape)
    err = np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-300)
    assert err <= rtol, f"relative difference {err:.2e} > {rtol:.0e}"
    return err


def said(what, port, book, fd):
    """Print how far the port's value is from the two other ways (relative
    differences, asserted small)."""
    print(f"{what}: port vs by the book {same(port, book):.1e}, "
          f"port vs finite differences {same(port, fd, FD_RTOL):.1e}")


# %% [markdown]
# ## The layer
#
# A simpleNN config whose first layer is this one (a fully-connected layer
# follows only because a config needs one; it is not used).  Inputs and
# weights are small integers, so that the numbers can be checked by hand.

# %%
cfg = os.path.join(tempfile.mkdtemp(), "layer.config")
Path(cfg).write_text("L = 2;\nLC = 1;\nht_input = 5;\nwd_input = 5;\nch_input = [2,3];\n"
                     "wd_pad_added = [0];\nwd_filter = [3];\nstrides = [1];\nwd_subimage_pool = [1];\n"
                     "full_neurons = [2];\n")
param = read_config(cfg)
model = init_model(param, seed=0)
net = init_net(param, model)
g = np.random.default_rng(5)
X = g.integers(-2, 3, size=(2, 5, 5)).astype(float)       # the input: channel, row, column
W = g.integers(-1, 2, size=(3, 18)).astype(float)         # 3 filters of 3x3x2, unrolled (see below)
bias = np.array([[1.0], [0.0], [-1.0]])
Delta = g.integers(-3, 4, size=(3, 9)).astype(float)      # dL/dS from the layer above: 3 x (3*3)
model.weight[1], model.bias[1] = W, bias
Z = reshape(X, 2, 25)                                     # simpleNN's layout: d x (a*b), column k = pixel k
print("input, channel 1:\n", X[0], "\ninput, channel 2:\n", X[1])
print("filter 1, channel 1 (3x3):\n", reshape(W[0], 3, 3, 2)[:, :, 0])

# %% [markdown]
# A filter's 18 weights are unrolled as the rows of $\phi(Z)$ are: height
# offset fastest, then width offset, then channel, i.e.
# `reshape(W(k, :), 3, 3, 2)` in MATLAB (column-major).

# %% [markdown]
# ## phi(Z): the port against P_phi
#
# $P_\phi$ is 162 x 50 (9 output positions x 18 patch entries, by 2 x 25 input
# entries): one 1 per row.

# %%
Pphi = P_phi(2, 5, 5, 3, 1).toarray()
net.num_sampled_data = 1
net.Z[1] = np.asfortranarray(Z)
phiZ = padding_and_phiZ(model, net, 1)                    # 18 x 9
same(phiZ, reshape(Pphi @ vec(Z), 18, 9), 0)
S = W @ phiZ + bias                                      # 3 x 9: the 3x3x3 output (before any ReLU)
print("phi(Z), 18 x 9:\n", phiZ)
print("S, filter 1 as a 3x3 picture:\n", reshape(S[0], 3, 3))

fig, ax = plt.subplots(figsize=(4, 8))
ax.spy(Pphi, markersize=2)
ax.set_title(r"$P_\phi$: 162 x 50")
plt.show()

# %% [markdown]
# ## Finite differences
#
# $L(W, b, Z) = \sum \Delta \circ (W \phi(Z) + b 1^T)$, computed with the port's
# `padding_and_phiZ` for any input Z; central differences of it.

# %%
def L_of(W_=W, b_=bias, Z_=Z):
    net.Z[1] = np.asfortranarray(Z_)
    return float(np.sum(Delta * (W_ @ padding_and_phiZ(model, net, 1) + b_)))


def fd(f, A, eps=1e-6):
    G = np.zeros_like(A)
    for k in np.ndindex(A.shape):
        E = np.zeros_like(A)
        E[k] = eps
        G[k] = (f(A + E) - f(A - E)) / (2 * eps)
    return G


FD_RTOL = 1e-8

# %% [markdown]
# ## (27) dL/dW and (14) dL/db
#
# The port's line is `dlossdW{m} = dXidS*phiZ'`; the slides' Kronecker form
# (eq. 12) is $\mathrm{vec}(\partial L/\partial W)^T = \mathrm{vec}(\Delta)^T (\phi(Z)^T \otimes I_3)$;
# and (14) $\partial L/\partial b^T = \mathrm{vec}(\Delta)^T (1_9 \otimes I_3)$.

# %%
dW = Delta @ phiZ.T
db = Delta @ np.ones((9, 1))
dW_kron = reshape(vec(Delta) @ np.kron(phiZ.T, np.eye(3)), 3, 18)
db_kron = reshape(vec(Delta) @ np.kron(np.ones((9, 1)), np.eye(3)), 3, 1)
said("dL/dW", dW, dW_kron, fd(lambda A: L_of(W_=A), W))
said("dL/db", db, db_kron, fd(lambda A: L_of(b_=A), bias))
print("dL/dW, 3 x 18 (row k: filter k, unrolled):\n", dW)
print("dL/dW of filter 1 as 3x3x2 (channel 1, channel 2):\n", reshape(dW[0], 3, 3, 2)[:, :, 0], "\n",
      reshape(dW[0], 3, 3, 2)[:, :, 1])
print("dL/db:", db[:, 0])

# %% [markdown]
# Is *your* dL/dW right?  Compare it with `dW` above entry by entry, in this
# 3 x 18 layout.  If it differs, typical reasons: it is the transpose (18 x 3,
# `phiZ @ Delta.T`); the filters were unrolled in row-major order (numpy's
# default `reshape`: same numbers, other places); the ReLU mask or the
# pooling (only the window's maximum gets a gradient) was left out of
# $\Delta$.  For a whole network, `simplecnn check-gradient` names the first
# stage that differs and the likely mistake.

# %% [markdown]
# ## (28) The delta to the previous layer: dL/dZ as a 2x5x5 array
#
# $V = W^T \Delta$ (18 x 9): column j is what the patch of output position j
# sends back to its 18 input entries.  `vTP(..., 'phi_gradient')` adds the
# columns back onto the input, i.e. $\mathrm{vec}(V)^T P_\phi$.  (No padding
# here, so there is nothing to cut off; with padding the slides'
# $P_{pad}$ removes the border: `dXidS(:, idx_pad)`.)

# %%
V = W.T @ Delta
dZ_port = reshape(vTP(param, model, net, 1, V, "phi_gradient"), 2, 25)
dZ_book = reshape(vec(V) @ Pphi, 2, 25)
dZ_fd = fd(lambda A: L_of(Z_=A), Z)
said("dL/dZ", dZ_port, dZ_book, dZ_fd)
dZ = reshape(dZ_port, 2, 5, 5)                            # channel, row, column
print("dL/dZ as a 2x5x5 array (channel 1, channel 2):\n", dZ[0], "\n\n", dZ[1])

# %% [markdown]
# ## Which output positions each input entry feeds
#
# Input pixel (r, c) is in the patch of output position (i, j) when
# i <= r <= i+2 and j <= c <= j+2, so its delta is a sum over those output
# positions: 1 at the corners, 9 in the centre.  Read off $P_\phi$ (the
# rows holding a 1 in the pixel's column), channel 1:

# %%
feeds = [[[] for _ in range(5)] for _ in range(5)]
for row, col in zip(*np.nonzero(Pphi)):
    channel, pixel = col % 2, col // 2
    if channel == 0:
        out_pos = row // 18                                 # which column of phi(Z): output position
        feeds[pixel % 5][pixel // 5].append((out_pos % 3 + 1, out_pos // 3 + 1))
counts = np.array([[len(f) for f in row] for row in feeds])
for r in range(5):
    print("  ".join(f"{''.join(f'{i}{j}' + ' ' for i, j in feeds[r][c]):<27}" for c in range(5)))
print(counts)
assert np.array_equal(counts, [[1, 2, 3, 2, 1], [2, 4, 6, 4, 2], [3, 6, 9, 6, 3], [2, 4, 6, 4, 2], [1, 2, 3, 2, 1]])

# %%
fig, ax = plt.subplots(figsize=(5, 5))
ax.imshow(counts, cmap="Blues")
for r in range(5):
    for c in range(5):
        ax.text(c, r, "\n".join(" ".join(f"{i}{j}" for i, j in feeds[r][c][k:k + 3]) for k in range(0, 9, 3)),
                ha="center", va="center", fontsize=7)
ax.set_title("output positions (row, col) each input pixel feeds")
plt.show()

# %% [markdown]
# The same sum by hand for one entry: input pixel (1, 1) of channel 1 (the
# top-left corner) is only in the patch of output (1, 1), at patch entry 1,
# so its delta is $\sum_k W_{k,1} \Delta_{k,1}$:

# %%
assert dZ[0, 0, 0] == W[:, 0] @ Delta[:, 0]
centre = sum(W[:, (2 - i) + 3 * (2 - j)] @ Delta[:, i + 3 * j] for i in range(3) for j in range(3))
assert dZ[0, 2, 2] == centre                                 # pixel (3, 3): all 9 outputs
print("dL/dZ(1, 1, 1) =", dZ[0, 0, 0], "  dL/dZ(1, 3, 3) =", dZ[0, 2, 2])
