"""The canonical stages of ``docs/design.md``, in execution order.

Forward: conv layers 1..LC (``idx_pad``, ``idx_phiZ``, ``phiZ``, ``sigmaS``,
``Z``, ``idx_pool``), fully-connected layers LC+1..L (``Z``), then ``loss``
at layer L.  Backward: layers L..1, fully-connected (``dXidS``, ``dlossdW``,
``dlossdb``, ``WtDelta``, ``activation``) then conv (``dXidS``,
``pool_gradient``, ``dlossdW``, ``dlossdb``, ``WtDelta``, ``phi_gradient``,
``unpad``, ``activation``); pool stages only for pooled layers, the stages
after ``dlossdb`` only for m > 1.
"""
from __future__ import annotations

INDEX_STAGES = {"idx_pad", "idx_phiZ", "idx_pool"}


def canonical_stages(model) -> list[tuple[int, str, str]]:
    L, LC = int(model.L), int(model.LC)
    out = []
    for m in range(1, LC + 1):
        pooled = int(model.wd_subimage_pool[m]) > 1
        for s in ("idx_pad", "idx_phiZ", "phiZ", "sigmaS", "Z") + (("idx_pool",) if pooled else ()):
            out.append((m, "forward", s))
    for m in range(LC + 1, L + 1):
        out.append((m, "forward", "Z"))
    out.append((L, "forward", "loss"))
    for m in range(L, 0, -1):
        if m > LC:
            stages = ["dXidS", "dlossdW", "dlossdb"] + (["WtDelta", "activation"] if m > 1 else [])
        else:
            pooled = int(model.wd_subimage_pool[m]) > 1
            stages = ["dXidS"] + (["pool_gradient"] if pooled else []) + ["dlossdW", "dlossdb"]
            if m > 1:
                stages += ["WtDelta", "phi_gradient", "unpad", "activation"]
        out += [(m, "backward", s) for s in stages]
    return out


def order_key(model):
    """Position of each canonical key, for sorting and 'first divergence'."""
    return {k: i for i, k in enumerate(canonical_stages(model))}


def stage_sizes(model, n) -> dict:
    """The number of entries of every canonical stage on ``n`` instances, from
    the model's sizes alone (what a side must record for a stage; a source
    mapping its own records to stages uses it as the check).

    Conv layer m, with d, d' the channels in and out, h the filter's width,
    C = ht_conv*wd_conv, P = ht_pad*wd_pad, I and O the image sizes in and
    out (ht_input*wd_input at m and m+1): idx_pad I, idx_phiZ h*h*d*C, phiZ
    and WtDelta h*h*d*C*n, sigmaS and pool_gradient d'*C*n, Z, idx_pool and
    the delta entering d'*O*n, phi_gradient d*P*n, unpad and activation
    d*I*n, dlossdW d'*h*h*d, dlossdb d'.  Fully-connected layer m, with k
    neurons and j inputs (d*I of layer LC+1 for m = LC+1): Z and dXidS k*n,
    dlossdW k*j, dlossdb k, WtDelta and activation j*n.  loss 1."""
    L, LC = int(model.L), int(model.LC)
    out = {}

    def conv(m):
        d, d2, h = int(model.ch_input[m]), int(model.ch_input[m + 1]), int(model.wd_filter[m])
        C = int(model.ht_conv[m]) * int(model.wd_conv[m])
        P = int(model.ht_pad[m]) * int(model.wd_pad[m])
        Iin = int(model.ht_input[m]) * int(model.wd_input[m])
        O = int(model.ht_input[m + 1]) * int(model.wd_input[m + 1])
        return d, d2, h, C, P, Iin, O

    def neurons(m):
        return int(model.nL) if m == L else int(model.full_neurons[m - LC])

    def inputs(m):
        if m == LC + 1:
            return int(model.ch_input[LC + 1]) * int(model.ht_input[LC + 1]) * int(model.wd_input[LC + 1])
        return neurons(m - 1)

    for m in range(1, LC + 1):
        d, d2, h, C, P, Iin, O = conv(m)
        out.update({(m, "forward", "idx_pad"): Iin, (m, "forward", "idx_phiZ"): h * h * d * C,
                    (m, "forward", "phiZ"): h * h * d * C * n, (m, "forward", "sigmaS"): d2 * C * n,
                    (m, "forward", "Z"): d2 * O * n, (m, "forward", "idx_pool"): d2 * O * n,
                    (m, "backward", "dXidS"): d2 * O * n, (m, "backward", "pool_gradient"): d2 * C * n,
                    (m, "backward", "dlossdW"): d2 * h * h * d, (m, "backward", "dlossdb"): d2,
                    (m, "backward", "WtDelta"): h * h * d * C * n, (m, "backward", "phi_gradient"): d * P * n,
                    (m, "backward", "unpad"): d * Iin * n, (m, "backward", "activation"): d * Iin * n})
    for m in range(LC + 1, L + 1):
        k, j = neurons(m), inputs(m)
        out.update({(m, "forward", "Z"): k * n, (m, "backward", "dXidS"): k * n,
                    (m, "backward", "dlossdW"): k * j, (m, "backward", "dlossdb"): k,
                    (m, "backward", "WtDelta"): j * n, (m, "backward", "activation"): j * n})
    out[(L, "forward", "loss")] = 1
    keys = set(canonical_stages(model))
    return {k: v for k, v in out.items() if k in keys}
