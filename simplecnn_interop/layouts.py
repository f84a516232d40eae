"""simpleNN's array layouts and PyTorch's / ONNX's, both ways (numpy only).

This module imports neither torch nor onnx nor the port: it takes plain
arrays, and for the per-layer helpers any object with the fields of a
simpleNN model struct (``L``, ``LC``, the 1-based per-layer vectors
``ch_input``, ``ht_input``, ``wd_input``, ``wd_filter``, ``strides``,
``wd_pad_added``, ``wd_subimage_pool``, ``full_neurons``, and the cells
``weight``, ``bias``), such as ``simplecnn_py``'s model.

The simpleNN layouts, as the port's ``find_index_phiZ``, ``padding_and_phiZ``,
``maxpooling``, ``feedforward`` and ``check_data`` (and the MATLAB code they
mirror) use them; all indices 0-based below:

* **images** (what ``cnn_predict`` is fed): ``Z`` is l x (a*b*d), one
  instance a row; channel c takes columns c*a*b .. (c+1)*a*b - 1, its a x b
  image vec'ed column-major, so pixel (row r, column q) of channel c is
  column ``c*a*b + r + a*q``.  PyTorch/ONNX: (N, C, H, W) = (l, d, a, b).
* **feature maps** inside the network: ``Z{m}`` is d x (a*b*n), column
  ``r + a*q + a*b*i`` of instance i; each column holds the d channels.
  The first full layer multiplies the vec of one instance's d x a x b map:
  entry ``c + d*r + d*a*q`` (channel fastest, then height, then width).
  ``torch.flatten`` of (C, H, W) gives entry ``c*H*W + r*W + q`` instead,
  so that layer's columns are permuted.
* **conv weights**: ``W{m}`` is d_out x (h*h*d_in); column ``i + h*j + h*h*c``
  multiplies patch row i, patch column j, input channel c (the rows of
  phi(Z), ``find_index_phiZ``).  PyTorch/ONNX: (d_out, d_in, h, h), indexed
  [o, c, i, j].  Neither side flips the filter: both compute a correlation.
* **biases**: a column (n x 1) in simpleNN, a vector (n,) in PyTorch.
* full layers after the first: the same matrix (n_out x n_in) on both sides.
* gradients (``dlossdW{m}``, ``dlossdb{m}``) have the shapes and layouts of
  the weights and biases: the same functions convert them; the scores
  ``Z{L+1}`` (nL x n) are the transpose of PyTorch's (N, nL).

The network simpleNN computes (``feedforward``): for each conv layer, zero
padding of ``wd_pad_added`` on every side, the convolution with stride
``strides``, ReLU, then, when ``wd_subimage_pool`` > 1, max pooling over
non-overlapping windows of that width placed from the top-left corner
(rows and columns past the last whole window are dropped: floor, as
PyTorch's ``ceil_mode=False``); then the full layers, each with ReLU but
the last (its outputs are the scores).  ``torch_layers(model)`` describes
exactly that, layer by layer, with the weights in PyTorch's layout.

Typical use, e.g. a PyTorch side computing what the port computes::

    layers = torch_layers(model)                  # Layer(kind, weight, bias, stride, padding, pool, relu)
    X = images_to_nchw(Z, a, b, d)                # cnn_predict's Z -> (N, C, H, W)
    feature_map_to_nchw(net.Z[m], d_m, a_m, b_m)  # the port's map m, to compare with torch's
    conv_weight_from_torch(conv.weight.grad)      # a torch gradient in dlossdW{m}'s layout
    full_weight_from_torch(fc.weight.grad, *layers[LC - 1].out_shape)   # the first full layer's
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "conv_weight_to_torch", "conv_weight_from_torch",
    "full_weight_to_torch", "full_weight_from_torch",
    "bias_to_torch", "bias_from_torch",
    "images_to_nchw", "images_from_nchw", "rowmajor_images_to_nchw",
    "feature_map_to_nchw", "feature_map_from_nchw",
    "Layer", "torch_layers", "torch_shapes", "weights_from_torch",
]


def _matrix(W, name):
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"{name} must be a matrix, got {W.ndim} dimensions")
    return W


# --- conv weights -------------------------------------------------------------------------

def conv_weight_to_torch(W, h, d_in):
    """d_out x (h*h*d_in) simpleNN conv weight -> (d_out, d_in, h, h)."""
    W = _matrix(W, "a conv weight")
    h, d_in = int(h), int(d_in)
    if W.shape[1] != h * h * d_in:
        raise ValueError(f"a conv weight with {h} x {h} filters on {d_in} channels has {h * h * d_in} "
                         f"columns, not {W.shape[1]}")
    # column c*h*h + j*h + i, read in C order as [o, c, j, i]; swap the last two
    return np.ascontiguousarray(W.reshape(W.shape[0], d_in, h, h).transpose(0, 1, 3, 2))


def conv_weight_from_torch(Wt):
    """(d_out, d_in, h, h) -> the d_out x (h*h*d_in) simpleNN conv weight (Fortran-ordered)."""
    Wt = np.asarray(Wt)
    if Wt.ndim != 4 or Wt.shape[2] != Wt.shape[3]:
        raise ValueError(f"a conv weight must be (out, in, h, h), got {Wt.shape}")
    d_out, d_in, h, _ = Wt.shape
    return np.asfortranarray(Wt.transpose(0, 1, 3, 2).reshape(d_out, d_in * h * h))


# --- the first full layer -----------------------------------------------------------------

def full_weight_to_torch(W, d, a, b):
    """First full layer: n x (d*a*b) columns in simpleNN's (channel, height,
    width; channel fastest) order -> columns in ``torch.flatten``'s order of
    a (d, a, b) map (width fastest)."""
    W = _matrix(W, "a full weight")
    d, a, b = int(d), int(a), int(b)
    if W.shape[1] != d * a * b:
        raise ValueError(f"the first full layer after a {d} x {a} x {b} map has {d * a * b} columns, "
                         f"not {W.shape[1]}")
    # column q*a*d + r*d + c, read in C order as [o, q, r, c] -> [o, c, r, q]
    return np.ascontiguousarray(W.reshape(W.shape[0], b, a, d).transpose(0, 3, 2, 1).reshape(W.shape[0], -1))


def full_weight_from_torch(Wt, d, a, b):
    """The inverse of ``full_weight_to_torch`` (Fortran-ordered result)."""
    Wt = _matrix(Wt, "a full weight")
    d, a, b = int(d), int(a), int(b)
    if Wt.shape[1] != d * a * b:
        raise ValueError(f"the first full layer after a {d} x {a} x {b} map has {d * a * b} columns, "
                         f"not {Wt.shape[1]}")
    return np.asfortranarray(Wt.reshape(Wt.shape[0], d, a, b).transpose(0, 3, 2, 1).reshape(Wt.shape[0], -1))


# --- biases ---------------------------------------------------------------------------------

def bias_to_torch(bias):
    """n x 1 (or any n values) -> (n,)."""
    return np.ascontiguousarray(np.asarray(bias).reshape(-1))


def bias_from_torch(bt):
    """(n,) -> the n x 1 simpleNN column."""
    return np.asfortranarray(np.asarray(bt).reshape(-1, 1))


# --- images and feature maps ----------------------------------------------------------------

def images_to_nchw(Z, a, b, d):
    """``cnn_predict``'s l x (a*b*d) images (each channel's a x b image
    vec'ed column-major) -> (l, d, a, b)."""
    Z = _matrix(Z.toarray() if hasattr(Z, "toarray") else Z, "Z")
    a, b, d = int(a), int(b), int(d)
    if Z.shape[1] != a * b * d:
        raise ValueError(f"Z has {Z.shape[1]} columns; {a} x {b} x {d} images need {a * b * d}")
    # column c*a*b + q*a + r, read in C order as [n, c, q, r] -> [n, c, r, q]
    return np.ascontiguousarray(Z.reshape(Z.shape[0], d, b, a).transpose(0, 1, 3, 2))


def images_from_nchw(X):
    """(l, d, a, b) -> simpleNN's l x (a*b*d) image rows."""
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got {X.shape}")
    return np.ascontiguousarray(X.transpose(0, 1, 3, 2).reshape(X.shape[0], -1))


def rowmajor_images_to_nchw(Z, a, b, d):
    """Rows whose channel images are stored row-major (the MNIST demo files,
    ``simplecnn train --rowmajor``): column ``c*a*b + r*b + q`` -> (l, d, a, b)."""
    Z = _matrix(Z.toarray() if hasattr(Z, "toarray") else Z, "Z")
    a, b, d = int(a), int(b), int(d)
    if Z.shape[1] != a * b * d:
        raise ValueError(f"Z has {Z.shape[1]} columns; {a} x {b} x {d} images need {a * b * d}")
    return np.ascontiguousarray(Z.reshape(Z.shape[0], d, a, b))


def feature_map_to_nchw(Zm, d, a, b):
    """A map inside the network, d x (a*b*n) (``net.Z{m}``, also the port's
    ``prob.data`` with its (d*a*b) x n shape) -> (n, d, a, b)."""
    Zm = np.asarray(Zm)
    d, a, b = int(d), int(a), int(b)
    if Zm.size % (d * a * b):
        raise ValueError(f"{Zm.size} values are not whole {d} x {a} x {b} maps")
    return np.ascontiguousarray(Zm.reshape(d, a, b, -1, order="F").transpose(3, 0, 1, 2))


def feature_map_from_nchw(X):
    """(n, d, a, b) -> the d x (a*b*n) simpleNN map (Fortran-ordered)."""
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"a map must be (N, C, H, W), got {X.shape}")
    n, d, a, b = X.shape
    return np.asfortranarray(X.transpose(1, 2, 3, 0).reshape(d, a * b * n, order="F"))


# --- a whole model, layer by layer -----------------------------------------------------------

@dataclass(frozen=True)
class Layer:
    """One layer as PyTorch/ONNX see it.

    ``kind`` is ``"conv"`` (``weight`` (out, in, h, h), ``stride``,
    ``padding`` on each side, ``pool``: max-pool width and stride, 1 for
    none) or ``"full"`` (``weight`` (out, in), columns in ``torch.flatten``
    order for the first one).  ``relu``: ReLU after the conv or the product
    (before pooling); false for the last layer only.  ``in_shape`` /
    ``out_shape``: (C, H, W) of a conv layer's input and of its output
    after pooling, (n,) for a full layer.  ``index`` is simpleNN's m (1-based).
    """

    index: int
    kind: str
    weight: np.ndarray
    bias: np.ndarray
    in_shape: tuple
    out_shape: tuple
    stride: int = 1
    padding: int = 0
    pool: int = 1
    relu: bool = True

    @property
    def filter(self):
        return self.weight.shape[2] if self.kind == "conv" else None


def _sizes(model):
    """Per layer (1-based m): kind, in_shape, out_shape, weight shape (torch), stride, padding, pool."""
    L, LC = int(model.L), int(model.LC)
    out = []
    for m in range(1, LC + 1):
        d_in, d_out = int(model.ch_input[m]), int(model.ch_input[m + 1])
        h = int(model.wd_filter[m])
        out.append(dict(index=m, kind="conv",
                        in_shape=(d_in, int(model.ht_input[m]), int(model.wd_input[m])),
                        out_shape=(d_out, int(model.ht_input[m + 1]), int(model.wd_input[m + 1])),
                        wshape=(d_out, d_in, h, h), stride=int(model.strides[m]),
                        padding=int(model.wd_pad_added[m]), pool=int(model.wd_subimage_pool[m])))
    n_in = int(np.prod(out[-1]["out_shape"]))
    for m in range(LC + 1, L + 1):
        n_out = int(model.full_neurons[m - LC])
        out.append(dict(index=m, kind="full", in_shape=(n_in,), out_shape=(n_out,), wshape=(n_out, n_in)))
        n_in = n_out
    return out


def torch_shapes(model):
    """[(kind, weight shape, bias shape)] per layer, in PyTorch's layout."""
    return [(s["kind"], s["wshape"], (s["wshape"][0],)) for s in _sizes(model)]


def torch_layers(model, dtype=None):
    """The model's network as a list of ``Layer``s (weights converted to
    PyTorch's layout, cast to ``dtype`` when given)."""
    sizes = _sizes(model)
    L, LC = int(model.L), int(model.LC)
    layers = []
    for s in sizes:
        m = s["index"]
        W, b = np.asarray(model.weight[m]), model.bias[m]
        if s["kind"] == "conv":
            Wt = conv_weight_to_torch(W, s["wshape"][2], s["wshape"][1])
        elif m == LC + 1:
            Wt = full_weight_to_torch(W, *sizes[LC - 1]["out_shape"])
        else:
            Wt = np.ascontiguousarray(W)
        if Wt.shape != s["wshape"]:
            raise ValueError(f"layer {m}: weight is {W.shape}, the model's sizes need {s['wshape']} (torch layout)")
        bt = bias_to_torch(b)
        if dtype is not None:
            Wt, bt = Wt.astype(dtype), bt.astype(dtype)
        layers.append(Layer(index=m, kind=s["kind"], weight=Wt, bias=bt, in_shape=s["in_shape"],
                            out_shape=s["out_shape"], stride=s.get("stride", 1), padding=s.get("padding", 0),
                            pool=s.get("pool", 1), relu=m < L))
    return layers


def weights_from_torch(model, tensors):
    """``tensors``: one (weight, bias) pair per layer in PyTorch's layout, in
    layer order.  Returns ``(weights, biases)``, lists of simpleNN arrays for
    m = 1..L.  A pair whose shapes do not fit ``model``'s sizes raises
    ``ValueError`` naming the first such layer (1-based m)."""
    sizes = _sizes(model)
    if len(tensors) != len(sizes):
        raise ValueError(f"{len(tensors)} layers given, the config has L = {len(sizes)}")
    LC = int(model.LC)
    weights, biases = [], []
    for s, (Wt, bt) in zip(sizes, tensors):
        Wt, bt = np.asarray(Wt), np.asarray(bt)
        m, want = s["index"], s["wshape"]
        if Wt.shape != want:
            raise ValueError(f"layer {m} ({s['kind']}): weight is {_shape(Wt.shape)}, the config needs {_shape(want)}")
        if bt.reshape(-1).shape != (want[0],) or bt.ndim > 2:
            raise ValueError(f"layer {m} ({s['kind']}): bias is {_shape(bt.shape)}, the config needs {want[0]}")
        if s["kind"] == "conv":
            W = conv_weight_from_torch(Wt)
        elif m == LC + 1:
            W = full_weight_from_torch(Wt, *sizes[LC - 1]["out_shape"])
        else:
            W = np.asfortranarray(Wt)
        weights.append(W)
        biases.append(bias_from_torch(bt))
    return weights, biases


def _shape(shape):
    return " x ".join(str(int(v)) for v in shape) or "a scalar"
