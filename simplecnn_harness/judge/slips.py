"""The likely porting slip at a FAIL, read from the numbers.

``likely_slip(inputs, python, matlab, first, extra)`` looks at the first
divergent stage and tries the classic slips of a port to PyTorch, each as a
hypothesis the values can confirm: the layer's values are recomputed from
the network's own tensors (``extra``: what the PyTorch source kept, the
output S of each parametrised layer and the input x of each) with the slip
in, and the slip is named when that reproduces what the network gave
(relative error within 1e-9 in double, 1e-4 in single).  Nothing is named
when no hypothesis fits: a guess is worse than none.

forward ``phiZ`` of conv m   padding: another amount (the sizes say by how
                             much) or other values at the border (a
                             padding_mode other than zeros, F.pad elsewhere)
forward ``Z`` of conv m      average instead of max pooling, a missing (or
                             other) activation before the pooling, a pooling
                             stride other than its width, ceil_mode=True,
                             padding in the pooling, a missing or extra
                             pooling; for m = LC the flatten order
forward ``Z`` of full m      a missing or other activation; for m = L an
                             activation after the output layer
forward ``loss``             a reduction other than the sum (the mean over
                             all entries, over the instances, half the sum)
"""
from __future__ import annotations

import itertools

import numpy as np

TOL = {"double": 1e-9, "single": 1e-4}


def _close(a, b, tol):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size != b.size or a.size == 0:
        return False
    a, b = a.reshape(-1), b.reshape(-1)
    nb = np.linalg.norm(b)
    return bool(np.linalg.norm(a - b) <= tol * max(nb, np.finfo(np.float64).tiny))


def likely_slip(inputs, python, matlab, first, extra) -> str | None:
    param, model = inputs[0], inputs[1]
    prob = inputs[2]
    tol = TOL.get(getattr(param, "precision", "double"), 1e-9)
    m, direction, stage = first["layer"], first["direction"], first["stage"]
    if direction != "forward":
        return None
    if stage == "loss":
        return _loss_slip(python.get(first_key(first)), matlab.get(first_key(first)), int(prob.l),
                          int(model.nL), tol)
    if not extra or "S" not in extra:
        return None
    import torch

    if stage == "phiZ" and m <= int(model.LC):
        return _padding_slip(torch, model, m, python, matlab, extra, tol)
    if stage == "Z" and m <= int(model.LC):
        return _conv_output_slip(torch, model, m, matlab, extra, tol)
    if stage == "Z":
        return _full_output_slip(torch, model, m, extra, tol)
    return None


def first_key(first):
    return (first["layer"], first["direction"], first["stage"])


# --- the loss ---------------------------------------------------------------------------

def _loss_slip(py, mat, n, nL, tol):
    if py is None or mat is None:
        return None
    p, q = float(np.asarray(py).reshape(-1)[0]), float(np.asarray(mat).reshape(-1)[0])
    if q == 0:
        return None
    r = p / q
    for factor, what in ((1.0 / (n * nL), f"the mean over all {n} x {nL} entries (nn.MSELoss's default "
                                          "reduction='mean')"),
                         (1.0 / n, f"the mean over the {n} instances"),
                         (1.0 / nL, f"the mean over the {nL} outputs"),
                         (0.5, "half the sum")):
        if abs(r - factor) <= 1e3 * tol * factor:
            return (f"loss reduction: the loss is {what}, {r:.4g} times simpleNN's; simpleNN's loss is the "
                    "sum of the squared errors (reduction='sum'), and every gradient scales with it")
    return (f"the loss is {r:.4g} times simpleNN's sum of squared errors against one-hot labels "
            "(another loss or reduction)")


# --- padding ----------------------------------------------------------------------------

def _padding_slip(torch, model, m, python, matlab, extra, tol):
    layers = extra["layers"]
    name, mod = layers[m - 1]
    x = torch.from_numpy(extra["x"][m])
    p = int(model.wd_pad_added[m])
    a_pad, b_pad = int(model.ht_pad[m]), int(model.wd_pad[m])
    pad = mod._reversed_padding_repeated_twice              # (left, right, top, bottom) as torch pads
    hp, wp = x.shape[2] + pad[2] + pad[3], x.shape[3] + pad[0] + pad[1]
    if (hp, wp) != (a_pad, b_pad):
        return (f"padding: layer {m} ({name}) sees a {hp} x {wp} padded input (its Conv2d pads "
                f"{tuple(mod.padding) if not isinstance(mod.padding, str) else mod.padding!r}), the config pads "
                f"by wd_pad_added = {p} on every side to {a_pad} x {b_pad}")
    key = (m, "forward", "phiZ")
    a, b = python.get(key), matlab.get(key)
    if a is None or b is None or np.size(a) != np.size(b):
        return None
    # which entries of phi(pad(Z)) are padding: unfold an image of ones padded with zeros
    from ..sources.torch_maps import cols_matlab

    d, h, s = int(model.ch_input[m]), int(model.wd_filter[m]), int(model.strides[m])
    ones = torch.nn.functional.pad(torch.ones(1, d, int(model.ht_input[m]), int(model.wd_input[m]),
                                              dtype=torch.float64), (p, p, p, p))
    U = torch.nn.functional.unfold(ones, (h, h), stride=(s, s))
    inside = cols_matlab(U, 1, d, h, h, ones, mod)
    n = np.size(b) // inside.size
    inside = np.tile(inside, (1, n)) > 0
    differ = np.asarray(a).reshape(inside.shape, order="F") != np.asarray(b).reshape(inside.shape, order="F")
    if differ.any() and not (differ & inside).any():
        mode = getattr(mod, "padding_mode", "zeros")
        how = f"padding_mode={mode!r}" if mode != "zeros" else "values other than zeros (F.pad with a mode?)"
        return (f"padding: layer {m} ({name}) pads with {how}; only the padded border of its input differs "
                "(simpleNN pads with zeros)")
    if differ.any():
        return (f"padding: layer {m} ({name}) pads its input to the config's size but not as simpleNN does "
                f"(wd_pad_added = {p} zeros on every side; an asymmetric F.pad shifts the image)")
    return None


# --- what comes out of a conv layer -------------------------------------------------------

ACTS = {
    "sigmoid": lambda t, T: T.sigmoid(t), "tanh": lambda t, T: T.tanh(t),
    "leaky_relu": lambda t, T: T.nn.functional.leaky_relu(t), "elu": lambda t, T: T.nn.functional.elu(t),
    "gelu": lambda t, T: T.nn.functional.gelu(t), "softplus": lambda t, T: T.nn.functional.softplus(t),
}


def _conv_output_slip(torch, model, m, matlab, extra, tol):
    F = torch.nn.functional
    LC = int(model.LC)
    layers = extra["layers"]
    name = layers[m - 1][0]
    S = torch.from_numpy(extra["S"][m])
    k = int(model.wd_subimage_pool[m])
    target = extra["x"][m + 1]                                  # what the next layer got
    N = target.shape[0]
    t_flat = target.reshape(N, -1)
    if m == LC:
        flat = _flatten_slip(model, matlab, t_flat, tol)
        if flat:
            return flat
    relu = torch.relu(S)

    def pools():
        if k > 1:
            yield "max", F.max_pool2d, dict(kernel_size=k, stride=k)
            yield "avg", F.avg_pool2d, dict(kernel_size=k, stride=k)
            for st in range(1, k):
                yield f"stride{st}", F.max_pool2d, dict(kernel_size=k, stride=st)
            yield "ceil", F.max_pool2d, dict(kernel_size=k, stride=k, ceil_mode=True)
            for pd in range(1, k // 2 + 1):
                yield f"pad{pd}", F.max_pool2d, dict(kernel_size=k, stride=k, padding=pd)
            yield "none", None, {}
        else:
            yield "none", None, {}
            for w in (2, 3):
                yield f"extra_max{w}", F.max_pool2d, dict(kernel_size=w, stride=w)
                yield f"extra_avg{w}", F.avg_pool2d, dict(kernel_size=w, stride=w)

    acts = [("relu", relu), ("none", S)] + [(a, f(S, torch)) for a, f in ACTS.items()] + \
           [(f"relu+{a}", f(relu, torch)) for a, f in ACTS.items()]
    where = f"layer {m} ({name})"
    for (pool, fn, kw), (act, v) in itertools.product(pools(), acts):
        if pool == "max" and act == "relu":
            continue                                            # simpleNN's own
        try:
            cand = v if fn is None else fn(v, **kw)
        except RuntimeError:
            continue
        if cand.numel() != t_flat.size or not _close(t_flat, cand.reshape(N, -1).numpy(), tol):
            continue
        return _name_conv_slip(where, pool, act, k)
    return None


def _name_conv_slip(where, pool, act, k):
    bits = []
    if act == "none":
        bits.append(f"a missing activation: {where}'s output goes on without max(., 0) (no ReLU)")
    elif act.startswith("relu+"):
        bits.append(f"an extra activation: {act[5:]} after the ReLU of {where}")
    elif act != "relu":
        bits.append(f"another activation: {act} instead of ReLU after {where}")
    if pool == "avg":
        bits.insert(0, f"average instead of max pooling after {where} (avg_pool2d/AvgPool2d; simpleNN takes "
                       f"the maximum of each {k} x {k} window)")
    elif pool.startswith("stride"):
        bits.insert(0, f"pooling stride {pool[6:]} after {where}; simpleNN's {k} x {k} windows do not overlap "
                       f"(stride = width = {k})")
    elif pool == "ceil":
        bits.insert(0, f"ceil_mode=True in the pooling after {where}: the partial window at the edge is kept; "
                       "simpleNN drops it (floor, ceil_mode=False)")
    elif pool.startswith("pad"):
        bits.insert(0, f"padding {pool[3:]} in the pooling after {where}; simpleNN pools without padding")
    elif pool == "none" and k > 1:
        bits.insert(0, f"a missing pooling after {where} (the config pools {k} x {k}: wd_subimage_pool)")
    elif pool.startswith("extra_"):
        w = pool[-1]
        kind = "max" if "max" in pool else "average"
        bits.insert(0, f"an extra {kind} pooling ({w} x {w}) after {where}; the config does not pool there")
    return "; ".join(bits) if bits else None


def _flatten_slip(model, matlab, t_flat, tol):
    """The first full layer's input, a permutation of MATLAB's map's entries."""
    LC = int(model.LC)
    Z = matlab.get((LC, "forward", "Z"))
    if Z is None:
        return None
    d, a, b = int(model.ch_input[LC + 1]), int(model.ht_input[LC + 1]), int(model.wd_input[LC + 1])
    N = t_flat.shape[0]
    if np.size(Z) != d * a * b * N or t_flat.shape[1] != d * a * b:
        return None
    from simplecnn_interop import layouts

    M = layouts.feature_map_to_nchw(np.asarray(Z), d, a, b)            # (N, C, H, W)
    axes = {1: "C", 2: "H", 3: "W"}
    for perm in itertools.permutations((1, 2, 3)):
        if perm == (1, 2, 3):
            continue
        if _close(t_flat, M.transpose(0, *perm).reshape(N, -1), tol):
            order = ", ".join(axes[p] for p in perm)
            return (f"flatten order: the first full layer gets the map flattened in ({order}) order; the "
                    "harness copies MATLAB's weights for torch.flatten's (C, H, W) order (flatten an "
                    "(N, C, H, W) map with torch.flatten(x, 1), without a permute before it)")
    return None


# --- what comes out of a full layer -------------------------------------------------------

def _full_output_slip(torch, model, m, extra, tol):
    L = int(model.L)
    name = extra["layers"][m - 1][0]
    S = torch.from_numpy(extra["S"][m])
    target = extra["output"] if m == L else extra["x"][m + 1]
    where = f"layer {m} ({name})"
    if m == L:
        cands = [("relu", torch.relu(S))] + [(a, f(S, torch)) for a, f in ACTS.items()] + \
                [("softmax", torch.softmax(S, 1)), ("log_softmax", torch.log_softmax(S, 1))]
        for act, v in cands:
            if _close(target, v.numpy(), tol):
                return (f"an activation after the output layer: {act} on the scores of {where}; simpleNN's "
                        "last layer has none (its output is W*Z + b)")
        return None
    cands = [("none", S)] + [(a, f(S, torch)) for a, f in ACTS.items()] + \
            [(f"relu+{a}", f(torch.relu(S), torch)) for a, f in ACTS.items()]
    for act, v in cands:
        if _close(target, v.numpy(), tol):
            return _name_conv_slip(where, "max", act, 1)
    return None
