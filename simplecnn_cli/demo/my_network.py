"""A template: the gradient of YOUR OWN small network, written in the files
``simplecnn check-gradient`` reads (config, data, weights, MINE.mat), from
numpy and from PyTorch.

    python -m simplecnn_cli.demo.my_network OUTDIR             # the numpy student
    python -m simplecnn_cli.demo.my_network OUTDIR --torch     # the PyTorch student
    simplecnn check-gradient --config OUTDIR/my.config --data OUTDIR/my-data.mat \\
        --weights OUTDIR/my-weights.mat --mine OUTDIR/MINE.mat

Copy this file (``cp "$(python -m simplecnn_cli.demo my_network.py)" .``),
put your own forward and backward pass in place of ``numpy_gradient`` (or
your own PyTorch model in ``torch_gradient``), keep the ``to_simplenn_*``
conversions, and run it.  The network: input a x b x d, one conv layer
(h x h filters, zero padding p, stride 1) -> ReLU -> q x q max pooling ->
one full layer to nL outputs (linear); the loss is simpleNN's, the SUM of
squared errors over all instances against one-hot (0/1) labels.

simpleNN's layouts (0-based indices below; each checked by the suite,
tests/docs/test_newcomer_template.py, against the port):

* data ``Z``: l x (a*b*d), row i = instance i: channel 1's a x b image read
  down its columns (height fastest), then channel 2's, ...  From an
  (l, d, a, b) array X: ``X.transpose(0, 1, 3, 2).reshape(l, -1)``.
* labels ``y``: l x 1, any values; sorted, they name the output rows.
* a conv layer's filter matrix ``weight{m}``: d_out x (h*h*d_in); row k is
  filter k; column ``r + h*c + h*h*ch`` holds the weight at filter row r,
  filter column c, input channel ch (each channel's h x h filter read down
  its columns, channel after channel).  From PyTorch's (d_out, d_in, h, h)
  weight w: ``w.transpose(0, 1, 3, 2).reshape(d_out, -1)``.
* the first full layer's input is the last conv layer's output after
  pooling, a' x b' x d: entry ``ch + d*(y + a'*x)`` is channel ch at row y,
  column x (channel fastest, then down the rows, then across the columns).
  PyTorch's ``flatten`` of (N, d, a', b') orders it ``ch*a'*b' + y*b' + x``,
  so a full layer's (n, d*a'*b') weight becomes
  ``W.reshape(n, d, a', b').transpose(0, 3, 2, 1).reshape(n, -1)``.
* biases ``bias{m}`` and their gradients ``dlossdb{m}``: n x 1 COLUMNS.  A
  1-D numpy array (PyTorch's bias) is written by ``scipy.io.savemat`` as a
  1 x n row: save ``b.reshape(-1, 1)``.
* ``weight``/``bias``/``dlossdW``/``dlossdb``: L x 1 cell arrays, that is
  numpy object arrays of shape (L, 1) (``cell`` below).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

# the network (edit to your own; the config below is written from these)
a, b, d = 8, 6, 2            # input height, width, channels
d1, h, p, q = 3, 3, 1, 2     # filters, filter size, zero padding, pooling window
nL, l = 4, 10                # outputs (classes), instances


def config_text() -> str:
    return (f"% my network: {a} x {b} x {d} -> conv {h}x{h} ({d1} filters, pad {p}) -> ReLU -> "
            f"pool {q}x{q} -> full ({nL})\n"
            f"L = 2;\nLC = 1;\nht_input = {a};\nwd_input = {b};\nch_input = [{d},{d1}];\n"
            f"wd_pad_added = [{p}];\nwd_filter = [{h}];\nstrides = [1];\nwd_subimage_pool = [{q}];\n"
            f"full_neurons = [{nL}];\n")


def example(seed=0):
    """Images X (l, d, a, b), labels y (1..nL) and weights in the natural
    numpy/PyTorch layouts: conv w (d1, d, h, h), bias c (d1,), full W
    (nL, d1*a'*b') on PyTorch's flatten order, bias e (nL,)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((l, d, a, b))
    y = np.arange(l) % nL + 1
    ap, bp = (a + 2 * p - h + 1) // q, (b + 2 * p - h + 1) // q
    w, c = 0.4 * rng.standard_normal((d1, d, h, h)), 0.1 * rng.standard_normal(d1)
    W, e = 0.4 * rng.standard_normal((nL, d1 * ap * bp)), 0.1 * rng.standard_normal(nL)
    return X, y, (w, c, W, e)


def numpy_gradient(X, y, weights):
    """The numpy student: forward and backward by hand, in (N, C, H, W)
    layout; returns loss and the gradients in the same layouts as the
    weights."""
    from numpy.lib.stride_tricks import sliding_window_view

    w, c, W, e = weights
    Xp = np.pad(X, ((0, 0), (0, 0), (p, p), (p, p)))
    win = sliding_window_view(Xp, (h, h), axis=(2, 3))                 # (l, d, a_conv, b_conv, h, h)
    S = np.einsum("ncyxrs,kcrs->nkyx", win, w) + c[None, :, None, None]
    R = np.maximum(S, 0)
    ap, bp = S.shape[2] // q, S.shape[3] // q
    blocks = R[:, :, :ap * q, :bp * q].reshape(l, d1, ap, q, bp, q).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(l, d1, ap, bp, q * q)
    win_max = blocks.argmax(axis=-1)                                    # first maximum of each window
    P = np.take_along_axis(blocks, win_max[..., None], axis=-1)[..., 0]
    F = P.reshape(l, -1)                                                # PyTorch's flatten order
    out = F @ W.T + e
    Y = np.eye(nL)[y - 1]
    loss = float(((out - Y) ** 2).sum())

    dout = 2 * (out - Y)
    dW, de = dout.T @ F, dout.sum(axis=0)
    dP = (dout @ W).reshape(P.shape)
    dblocks = np.zeros(blocks.shape)
    np.put_along_axis(dblocks, win_max[..., None], dP[..., None], axis=-1)
    dR = np.zeros(R.shape)
    dR[:, :, :ap * q, :bp * q] = dblocks.reshape(l, d1, ap, bp, q, q).transpose(0, 1, 2, 4, 3, 5) \
        .reshape(l, d1, ap * q, bp * q)
    dS = dR * (S > 0)
    dw = np.einsum("nkyx,ncyxrs->kcrs", dS, win)
    dc = dS.sum(axis=(0, 2, 3))
    return loss, (dw, dc, dW, de)


def torch_gradient(X, y, weights):
    """The PyTorch student: the same network as torch modules, autograd in
    double precision; returns loss and gradients in PyTorch's layouts."""
    import torch

    w, c, W, e = weights
    conv = torch.nn.Conv2d(d, d1, h, padding=p, dtype=torch.float64)
    full = torch.nn.Linear(W.shape[1], nL, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w))
        conv.bias.copy_(torch.from_numpy(c))
        full.weight.copy_(torch.from_numpy(W))
        full.bias.copy_(torch.from_numpy(e))
    x = torch.from_numpy(X)
    out = full(torch.flatten(torch.nn.functional.max_pool2d(torch.relu(conv(x)), q), 1))
    Y = torch.nn.functional.one_hot(torch.from_numpy(y - 1), nL).to(torch.float64)
    loss = ((out - Y) ** 2).sum()
    loss.backward()
    grads = (conv.weight.grad, conv.bias.grad, full.weight.grad, full.bias.grad)
    return loss.item(), tuple(g.numpy() for g in grads)


# --- simpleNN's layouts ---------------------------------------------------------------

def to_simplenn_conv(w):
    """(d_out, d_in, h, h) -> d_out x (h*h*d_in), filter row fastest, then column, then channel."""
    return w.transpose(0, 1, 3, 2).reshape(w.shape[0], -1)


def to_simplenn_full(W, channels, height, width):
    """(n, channels*height*width) on PyTorch's flatten order -> simpleNN's
    (channel fastest, then rows, then columns)."""
    return W.reshape(W.shape[0], channels, height, width).transpose(0, 3, 2, 1).reshape(W.shape[0], -1)


def to_simplenn_data(X):
    """(l, d, a, b) images -> Z, l x (a*b*d): each channel image read down its columns."""
    return X.transpose(0, 1, 3, 2).reshape(X.shape[0], -1)


def column(v):
    """A bias (or its gradient) as simpleNN's n x 1 column."""
    return np.asarray(v, dtype=np.float64).reshape(-1, 1)


def cell(arrays):
    """An L x 1 cell array for scipy.io.savemat."""
    out = np.empty((len(arrays), 1), dtype=object)
    for k, A in enumerate(arrays):
        out[k, 0] = np.asarray(A, dtype=np.float64)
    return out


def write_files(outdir, use_torch=False, seed=0):
    """Write my.config, my-data.mat, my-weights.mat and MINE.mat in outdir;
    returns the loss."""
    import scipy.io

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    X, y, weights = example(seed)
    loss, (dw, dc, dW, de) = (torch_gradient if use_torch else numpy_gradient)(X, y, weights)
    w, c, W, e = weights
    ap, bp = (a + 2 * p - h + 1) // q, (b + 2 * p - h + 1) // q
    (outdir / "my.config").write_text(config_text())
    scipy.io.savemat(outdir / "my-data.mat", {"y": column(y), "Z": to_simplenn_data(X)})
    scipy.io.savemat(outdir / "my-weights.mat",
                     {"weight": cell([to_simplenn_conv(w), to_simplenn_full(W, d1, ap, bp)]),
                      "bias": cell([column(c), column(e)])})
    scipy.io.savemat(outdir / "MINE.mat",
                     {"dlossdW": cell([to_simplenn_conv(dw), to_simplenn_full(dW, d1, ap, bp)]),
                      "dlossdb": cell([column(dc), column(de)]),
                      "loss": np.array([[loss]])})
    return loss


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = [s for s in argv if s != "--torch"]
    if len(args) != 1:
        print("usage: python -m simplecnn_cli.demo.my_network OUTDIR [--torch]", file=sys.stderr)
        return 2
    loss = write_files(args[0], use_torch="--torch" in argv)
    o = args[0]
    print(f"loss = {loss!r}; wrote {o}/my.config, my-data.mat, my-weights.mat, MINE.mat; check with\n"
          f"  simplecnn check-gradient --config {o}/my.config --data {o}/my-data.mat "
          f"--weights {o}/my-weights.mat --mine {o}/MINE.mat")
    return 0


if __name__ == "__main__":
    sys.exit(main())
