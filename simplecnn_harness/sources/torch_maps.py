"""The recorded tensors of a PyTorch run (``torch_stages.Recorder``) as the
canonical stages, in MATLAB's shapes (the port's ``trace`` records the same
keys in the same shapes).  See ``torch_stages`` for what each stage is."""
from __future__ import annotations

import numpy as np

from simplecnn_interop import layouts

from .base import Stage

NOT_EXPOSED = {
    "idx_pad": "an index map of simpleNN's padding; a PyTorch network has none (its phiZ is compared)",
    "idx_phiZ": "an index map of simpleNN's im2col; a PyTorch network has none (its phiZ is compared)",
    "idx_pool": "an index map of simpleNN's pooling; a PyTorch network has none (its Z is compared)",
}


def fm(t):
    """(N, C, H, W) tensor -> simpleNN's C x (H*W*N) map."""
    return layouts.feature_map_from_nchw(t.numpy())


def unfold_matlab(torch, x, mod):
    """phi(pad(x)) for Conv2d ``mod``: (h*h*C) x (OH*OW*N), rows i + h*j + h*h*c."""
    F = torch.nn.functional
    xp = pad_like(torch, x, mod)
    kh, kw = _pair(mod.kernel_size)
    U = F.unfold(xp, (kh, kw), stride=_pair(mod.stride))
    return cols_matlab(U, x.shape[0], x.shape[1], kh, kw, xp, mod)


def cols_matlab(U, N, C, kh, kw, xp, mod):
    """torch's unfold layout (N, C*kh*kw, OH*OW) -> simpleNN's phiZ layout."""
    sh, sw = _pair(mod.stride)
    OH = (xp.shape[2] - kh) // sh + 1
    OW = (xp.shape[3] - kw) // sw + 1
    A = U.numpy().reshape(N, C, kh, kw, OH, OW).transpose(2, 3, 1, 4, 5, 0)
    return np.asfortranarray(A).reshape(kh * kw * C, OH * OW * N, order="F")


def pad_like(torch, x, mod):
    """``x`` padded as the Conv2d pads it (amount and mode)."""
    F = torch.nn.functional
    pad = mod._reversed_padding_repeated_twice          # torch's own (left, right, top, bottom)
    if not any(pad):
        return x
    if mod.padding_mode == "zeros":
        return F.pad(x, pad)
    return F.pad(x, pad, mode=mod.padding_mode)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _crop(model, m, t, mod):
    """A conv input padded by the network itself (F.pad, then a Conv2d with
    padding 0), cropped back to Z{m}'s size; (tensor, cropped?)."""
    p = int(model.wd_pad_added[m])
    a, b = int(model.ht_input[m]), int(model.wd_input[m])
    if p and not any(mod._reversed_padding_repeated_twice) and tuple(t.shape[2:]) == (a + 2 * p, b + 2 * p):
        return t[:, :, p:p + a, p:p + b], True
    return t, False


def canonical(torch, layers, rec, model, out, loss, np_dtype, n):
    L, LC = int(model.L), int(model.LC)
    S = {}

    def put(m, direction, name, value, origin, note=""):
        S[(m, direction, name)] = Stage(None if value is None else np.asarray(value, dtype=np_dtype),
                                        "hook" if value is not None else "", origin, note)

    names = {k: (layers[k - 1][0] or "the module") for k in range(1, L + 1)}
    pooled = {m: int(model.wd_subimage_pool[m]) > 1 for m in range(1, LC + 1)}
    # Z{m} as the layer saw it (a conv input cropped when the network pads it itself), and its gradient
    zin, gzin, cropped = {}, {}, {}
    for m in range(1, LC + 1):
        mod = layers[m - 1][1]
        zin[m], cropped[m] = _crop(model, m, rec.x[m], mod)
        if m in rec.gx:
            gzin[m] = _crop(model, m, rec.gx[m], mod)[0]

    d_f, a_f, b_f = int(model.ch_input[LC + 1]), int(model.ht_input[LC + 1]), int(model.wd_input[LC + 1])

    def flat_to_map(t):
        """The first Linear's (N, F) input read in torch.flatten's (C, H, W) order."""
        if t.shape[1] == d_f * a_f * b_f:
            return layouts.feature_map_from_nchw(t.numpy().reshape(t.shape[0], d_f, a_f, b_f))
        return np.asfortranarray(t.numpy().T)

    # ---- forward ----
    for m in range(1, LC + 1):
        mod = layers[m - 1][1]
        for idx in ("idx_pad", "idx_phiZ") + (("idx_pool",) if pooled[m] else ()):
            put(m, "forward", idx, None, "", NOT_EXPOSED[idx])
        put(m, "forward", "phiZ", unfold_matlab(torch, rec.x[m], mod),
            f"{names[m]}: its input, padded as it pads, unfolded")
        put(m, "forward", "sigmaS", fm(torch.relu(rec.y[m])), f"{names[m]}: max(output, 0)")
        if m < LC:
            put(m, "forward", "Z", fm(zin[m + 1]), f"input of {names[m + 1]}"
                + (" (cropped: the network pads it itself)" if cropped[m + 1] else ""))
        else:
            put(m, "forward", "Z", flat_to_map(rec.x[LC + 1]),
                f"input of {names[LC + 1]}, read in torch.flatten's (C, H, W) order")
    for m in range(LC + 1, L + 1):
        if m < L:
            put(m, "forward", "Z", rec.x[m + 1].numpy().T, f"input of {names[m + 1]}")
        else:
            put(m, "forward", "Z", out.numpy().T, "the module's output")
    put(L, "forward", "loss", np.asarray(loss.numpy()), "the loss of the output")

    # ---- backward ----
    act = {}                       # activation of layer m (the delta entering layer m - 1)
    for m in range(L, LC, -1):
        mod = layers[m - 1][1]
        put(m, "backward", "dXidS", rec.gy[m].numpy().T, f"gradient at {names[m]}'s output")
        Wg, bg = mod.weight.grad.numpy(), mod.bias.grad.numpy()
        if m == LC + 1 and Wg.shape[1] == d_f * a_f * b_f:
            Wg = layouts.full_weight_from_torch(Wg, d_f, a_f, b_f)
        put(m, "backward", "dlossdW", Wg, f"{names[m]}.weight.grad")
        put(m, "backward", "dlossdb", layouts.bias_from_torch(bg), f"{names[m]}.bias.grad")
        if m == 1:
            continue
        gx = rec.gx[m]
        if m == LC + 1:
            wt = flat_to_map(gx).reshape(-1, n, order="F")
            put(m, "backward", "WtDelta", wt, f"gradient at {names[m]}'s input, in simpleNN's vec order")
            if pooled.get(LC):
                z = flat_to_map(rec.x[m]).reshape(-1, n, order="F")
                act[m] = (wt * (z > 0), f"gradient at {names[m]}'s input, masked by it > 0")
            else:
                act[m] = (fm(rec.gy[LC]).reshape(-1, n, order="F"), f"gradient at {names[LC]}'s output")
        else:
            put(m, "backward", "WtDelta", gx.numpy().T, f"gradient at {names[m]}'s input")
            act[m] = (rec.gy[m - 1].numpy().T, f"gradient at {names[m - 1]}'s output")
        put(m, "backward", "activation", *act[m])
    for m in range(LC, 0, -1):
        mod = layers[m - 1][1]
        d_out = int(model.ch_input[m + 1])
        P = fm(rec.gy[m])
        if pooled[m]:
            value, origin = act[m + 1]
            put(m, "backward", "dXidS", np.reshape(value, (d_out, -1), order="F"), origin)
            put(m, "backward", "pool_gradient", P, f"gradient at {names[m]}'s output")
        else:
            put(m, "backward", "dXidS", P, f"gradient at {names[m]}'s output")
        put(m, "backward", "dlossdW", layouts.conv_weight_from_torch(mod.weight.grad.numpy()),
            f"{names[m]}.weight.grad")
        put(m, "backward", "dlossdb", layouts.bias_from_torch(mod.bias.grad.numpy()), f"{names[m]}.bias.grad")
        if m == 1:
            continue
        # W'*P in phiZ's layout and its fold onto the padded input, from the layer's own weight and gradient
        gy = rec.gy[m]
        N, Cout, OH, OW = gy.shape
        Wm = mod.weight.detach().reshape(Cout, -1)
        U = torch.matmul(Wm.T, gy.reshape(N, Cout, OH * OW))            # (N, C*kh*kw, OH*OW)
        xp = pad_like(torch, rec.x[m], mod)
        kh, kw = _pair(mod.kernel_size)
        put(m, "backward", "WtDelta", cols_matlab(U, N, rec.x[m].shape[1], kh, kw, xp, mod),
            f"{names[m]}.weight' times the gradient at its output")
        G = torch.nn.functional.fold(U, tuple(xp.shape[2:]), (kh, kw), stride=_pair(mod.stride))
        put(m, "backward", "phi_gradient", fm(G), f"that folded onto {names[m]}'s padded input")
        gz = gzin.get(m)
        put(m, "backward", "unpad", None if gz is None else fm(gz), f"gradient at {names[m]}'s input",
            "" if gz is not None else f"no gradient reached {names[m]}'s input")
        if pooled[m - 1] and gz is not None:
            act[m] = (fm(gz) * (fm(zin[m]) > 0), f"gradient at {names[m]}'s input, masked by it > 0")
        else:
            act[m] = (fm(rec.gy[m - 1]), f"gradient at {names[m - 1]}'s output")
        put(m, "backward", "activation", *act[m])
    return S


def partial(torch, layers, rec, model, np_dtype, why):
    """The forward stages the layers saw before the network failed; every
    other stage not compared, with the failure as the reason."""
    from .base import Stage
    from ..judge.stages import canonical_stages

    L, LC = int(model.L), int(model.LC)
    names = {k: (layers[k - 1][0] or "the module") for k in range(1, L + 1)}
    got = {}
    for m in range(1, LC + 1):
        mod = layers[m - 1][1]
        if m in rec.x:
            got[(m, "forward", "phiZ")] = (unfold_matlab(torch, rec.x[m], mod), f"{names[m]}: its input, unfolded")
        if m in rec.y:
            got[(m, "forward", "sigmaS")] = (fm(torch.relu(rec.y[m])), f"{names[m]}: max(output, 0)")
        if m + 1 in rec.x:
            nxt = rec.x[m + 1]
            if m < LC:
                value = fm(_crop(model, m + 1, nxt, layers[m][1])[0])
            else:
                d, a, b = int(model.ch_input[LC + 1]), int(model.ht_input[LC + 1]), int(model.wd_input[LC + 1])
                value = (layouts.feature_map_from_nchw(nxt.numpy().reshape(nxt.shape[0], d, a, b))
                         if nxt.shape[1] == d * a * b else np.asfortranarray(nxt.numpy().T))
            got[(m, "forward", "Z")] = (value, f"input of {names[m + 1]}")
    for m in range(LC + 1, L):
        if m + 1 in rec.x:
            got[(m, "forward", "Z")] = (rec.x[m + 1].numpy().T, f"input of {names[m + 1]}")
    out = {}
    for key in canonical_stages(model):
        if key in got:
            out[key] = Stage(np.asarray(got[key][0], dtype=np_dtype), "hook", got[key][1])
        elif key[2] in NOT_EXPOSED:
            out[key] = Stage(None, note=NOT_EXPOSED[key[2]])
        else:
            out[key] = Stage(None, note=f"not reached: {why}")
    return out
