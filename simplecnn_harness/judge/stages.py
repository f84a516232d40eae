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
