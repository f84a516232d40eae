"""From what Octave recorded to the canonical stages of ``docs/design.md``.

Two kinds of records: the *boundaries* of the routines that have a Python
twin (``b:NAME:in:ARG[:op]`` / ``b:NAME:out:K[:op]``, written by the
wrappers, with the layer from the argument ``m``), and the *statements* of
the stage files (``instrument.py``), each with its layer and order of
execution.  Boundaries come first: they rest on what both sides share by
design (routine names, inputs, outputs), not on statement text.

forward, conv m
    ``phiZ``: output of ``padding_and_phiZ`` at layer m; ``sigmaS``: the
    input of ``maxpooling`` (unpooled layers: ``net.Z{m+1}``); ``Z``:
    ``net.Z{m+1}``; ``idx_*``: the returned net's fields (else maxpooling's
    output 2).  Statements are the fallback.
backward
    ``dXidS`` of layer L: the input of ``JTv``, else the last value of size
    nL x N before the loop over layer L; ``pool_gradient``,
    ``phi_gradient``: outputs of ``vTP``; ``dXidS`` of a pooled conv layer
    and ``WtDelta`` of a conv layer: inputs of ``vTP``; ``activation``: the
    delta leaving iteration m (the last value of its size assigned there, so
    a restyled or split mask hides nothing); ``unpad``: the statement using
    ``idx_pad`` else the value of the unpadded size before the activation;
    ``WtDelta`` of a fully-connected layer: ``weight{m}'*...`` else the first
    value of its size in iteration m; ``dlossdW``, ``dlossdb``: the net.

The sizes every stage must have (``judge.stages.stage_sizes``, from the
model) are the check: a candidate of the wrong number of entries is not
taken.  A stage not found is reported "not compared" with the
reason, never passed silently.
"""
from __future__ import annotations

import numpy as np

from ..octave.run import MatlabRun
from .base import Stage                    # source: 'trace', 'boundary', 'net', 'output', 'derived'


def matlab_stages(run: MatlabRun, model, sizes: dict, n: int) -> dict:
    """``{key: Stage}`` of every canonical stage from ``run``'s records;
    ``sizes``: the number of entries of each stage on the ``n`` instances."""
    L, LC = int(model.L), int(model.LC)
    nL = int(model.nL)
    out: dict[tuple[int, str, str], Stage] = {}
    recs = run.stmt_records()
    fwd = [(r, s) for r, s in recs if s.role == "forward"]
    bwd = [(r, s) for r, s in recs if s.role == "backward"]
    layout = run.layout.name

    def where(r, s):
        return f"{s.file} line {s.line}: {s.target} = {_short(s.rhs)}"

    def want(key):
        v = sizes.get(key)               # a number of entries (or an array of that many)
        return v if v is None or isinstance(v, (int, np.integer)) else int(np.size(v))

    def pick(seq, kinds, layer, key, last=False):
        hits = [(r, s) for r, s in seq if s.kind in kinds and round(r.layer) == layer and r.has_values]
        size = want(key)
        good = [(r, s) for r, s in hits if size is None or r.numel == size]
        chosen = (good or hits)
        if not chosen:
            return None
        r, s = chosen[-1] if last else chosen[0]
        return Stage(r.value(), "trace", where(r, s))

    bnd = [r for r in run.records if r.stmt_id is None and r.name.startswith("b:")]

    def boundary(routine, part, layer, key, tag=None):
        """The first boundary record of ``routine`` (``part``: 'in' or 'out:K')
        at ``layer`` whose size is the Python side's (op ``tag`` in its name)."""
        size = want(key)
        for r in bnd:
            bits = r.name.split(":")
            if len(bits) < 4 or bits[1] != routine or round(r.layer) != layer or not r.has_values:
                continue
            if part == "in" and bits[2] != "in":
                continue
            if part.startswith("out") and ":".join(bits[2:4]) != part:
                continue
            if tag is not None and not any(tag in b for b in bits[4:]):
                continue
            if size is not None and r.numel != size:
                continue
            what = f"{'input ' + bits[3] if bits[2] == 'in' else 'output ' + bits[3]} of {routine}"
            what += f"(..., '{bits[4]}')" if len(bits) > 4 else ""
            return Stage(r.value(), "boundary", what + (f", layer {layer}" if layer else ""))
        return None

    def net_field(name, m, what=None):
        v = run.output(name, m)
        if v is None:
            return None
        return Stage(v, "net", what or f"net.{name}{{{m}}}")

    # ---- forward ----
    for m in range(1, LC + 1):
        key = (m, "forward", "idx_pad")
        out[key] = net_field("idx_pad", m) or Stage(None, note=(
            "the MATLAB code keeps no idx_pad (the current layout pads into a 4-D zero array)"
            if layout == "current" else "the MATLAB net has no idx_pad field"))
        key = (m, "forward", "idx_phiZ")
        out[key] = net_field("idx_phiZ", m) or Stage(None, note="the MATLAB net has no idx_phiZ field")
        key = (m, "forward", "phiZ")
        out[key] = boundary("padding_and_phiZ", "out:1", m, key) or pick(fwd, {"phiZ"}, m, key) or \
            net_field("phiZ", m) or Stage(
            None, note="no statement of feedforward calls padding_and_phiZ, and the net keeps no phiZ")
        key = (m, "forward", "sigmaS")
        got = boundary("maxpooling", "in", m, key) or pick(fwd, {"sigmaS", "relu"}, m, key)
        if got is None and int(model.wd_subimage_pool[m]) <= 1:
            got = net_field("Z", m + 1, f"net.Z{{{m + 1}}} (no pooling: sigma(S) is Z{{{m + 1}}})")
        out[key] = got or Stage(
            None, note="no statement of feedforward computes max(W*phiZ + b, 0) on its own")
        key = (m, "forward", "Z")
        z = net_field("Z", m + 1)
        if z is None:
            z = pick(fwd, {"Z"}, m, key, last=True)
        out[key] = z or Stage(None, note="the MATLAB net has no Z")
        if int(model.wd_subimage_pool[m]) > 1:
            key = (m, "forward", "idx_pool")
            out[key] = net_field("idx_pool", m) or boundary("maxpooling", "out:2", m, None) or \
                pick(fwd, {"idx_pool"}, m, key) or Stage(
                None, note="no idx_pool in the MATLAB net nor from a maxpooling call")
    for m in range(LC + 1, L + 1):
        z = net_field("Z", m + 1)
        out[(m, "forward", "Z")] = z or Stage(None, note="the MATLAB net has no Z")
    loss = run.output("loss", 0)
    out[(L, "forward", "loss")] = Stage(loss, "output", "loss output of lossgrad_subset") if loss is not None \
        else Stage(None, note="lossgrad_subset returned no numeric loss")

    # ---- backward ----
    for m in range(1, L + 1):
        for name in ("dlossdW", "dlossdb"):
            out[(m, "backward", name)] = net_field(name, m) or Stage(
                None, note=f"the returned net has no {name}{{{m}}}")
    # the delta's flow: values of plain variables assigned in the backward
    # code (numeric, not logical), in execution order
    flow = [(r, s) for r, s in bwd if r.has_values and r.cls != "logical" and s.target == s.target.strip()
            and s.kind != "phiZ_again" and s.keep]
    key = (L, "backward", "dXidS")
    got = boundary("JTv", "in", 0, key)
    if got is None:
        # the last value of nL x N before the first statement of the loop over layer L
        first_L = next((r.seq for r, s in bwd if round(r.layer) == L), None)
        before = [(r, s) for r, s in flow if round(r.layer) == 0 and r.numel == nL * n
                  and (first_L is None or r.seq < first_L)]
        if before:
            r, s = before[-1]
            got = Stage(r.value(), "trace", where(r, s))
    out[key] = got or Stage(None, note="no statement builds 2*(Z{L+1} - Y) on its own")

    for m in range(L, 0, -1):
        conv = m <= LC
        layer_seq = [(r, s) for r, s in bwd if round(r.layer) == m]
        stage_kinds = {"pool_gradient", "phi_gradient", "WtDelta", "unpad", "activation"}
        for stage in (["pool_gradient"] if conv and int(model.wd_subimage_pool[m]) > 1 else []) + \
                (["WtDelta"] + (["phi_gradient", "unpad"] if conv else []) + ["activation"] if m > 1 else []):
            key = (m, "backward", stage)
            got = None
            if stage in ("pool_gradient", "phi_gradient"):
                got = boundary("vTP", "out:1", m, key, stage.split("_")[0])
            elif stage == "WtDelta" and conv:
                got = boundary("vTP", "in", m, key, "phi")
            if stage == "activation":
                # the delta leaving iteration m: the last value of its size there
                got = _last_of_size(flow, m, want(key), where)
            got = got or pick(layer_seq, {stage}, m, key, last=(stage == "activation"))
            if got is None and stage == "unpad":
                got = _unpad_by_flow(flow, bnd, m, want(key), where)
            if got is None and stage == "WtDelta" and not conv:
                got = _wtdelta_by_flow(flow, m, want(key), where)
            if got is None and stage == "WtDelta":
                combined = [s for r, s in layer_seq if s.kind == "activation"
                            and "weight" in s.rhs]
                note = ("W{m}'*dXidS and the mask (Z > 0) are one statement in the MATLAB code"
                        if combined else "no statement computes weight{m}'*dXidS on its own")
                got = Stage(None, note=note.replace("{m}", f"{{{m}}}"))
            if got is None and stage == "unpad":
                got = Stage(None, note="the crop of the padding is not a statement of its own in the MATLAB code")
            out[key] = got or Stage(None, note=f"no statement of the MATLAB code computes {stage} of layer {m}")
        if m < L:
            key = (m, "backward", "dXidS")
            size = want(key)
            # the input of vTP's pool gradient, else a statement at the start of
            # iteration m that (re)shapes the delta
            got = boundary("vTP", "in", m, key, "pool") if conv else None
            for r, s in ([] if got is not None else layer_seq):
                if s.kind in stage_kinds or s.kind in ("dlossdW", "dlossdb"):
                    break
                if s.kind == "delta_other" and r.has_values and (size is None or r.numel == size):
                    got = Stage(r.value(), "trace", where(r, s))
                    break
            if got is None:
                # the delta of the conv layer LC reshaped outside the loops
                if m == LC:
                    between = [(r, s) for r, s in bwd if round(r.layer) == 0 and s.kind == "delta_other"
                               and r.has_values and (size is None or r.numel == size)]
                    if between:
                        r, s = between[-1]
                        got = Stage(r.value(), "trace", where(r, s))
            if got is None:
                prev = out.get((m + 1, "backward", "activation"))
                if prev is not None and prev.value is not None:
                    got = Stage(prev.value, "derived", prev.origin,
                                 f"the activation output of layer {m + 1} (the delta entering layer {m})")
            out[key] = got or Stage(None, note=f"the delta entering layer {m} is not exposed")
    return out


def _last_of_size(flow, m, size, where):
    hits = [(r, s) for r, s in flow if round(r.layer) == m and (size is None or r.numel == size)]
    if not hits:
        return None
    r, s = hits[-1]
    return Stage(r.value(), "trace", where(r, s))


def _unpad_by_flow(flow, bnd, m, size, where):
    """The crop of the padding: the last value of the unpadded size after the
    phi gradient (vTP's boundary, else the statement) and before the
    activation (the last value of that size) in iteration m."""
    if size is None:
        return None
    seq = [(r, s) for r, s in flow if round(r.layer) == m]
    start = next((r.seq for r in bnd if round(r.layer) == m and r.name.startswith("b:vTP:out:1")
                  and "phi" in r.name), None)
    if start is None:
        start = next((r.seq for r, s in seq if s.kind == "phi_gradient"), None)
    same = [(r, s) for r, s in seq if r.numel == size and (start is None or r.seq > start)]
    if len(same) < 2:
        return None                     # the crop and the mask are one statement
    r, s = same[-2]
    return Stage(r.value(), "trace", where(r, s))


def _wtdelta_by_flow(flow, m, size, where):
    """W{m}'*dXidS of a fully-connected layer written in a way the text does
    not show: the first value of its size in iteration m before the last."""
    same = [(r, s) for r, s in flow if round(r.layer) == m and (size is None or r.numel == size)]
    if len(same) < 2:
        return None
    r, s = same[0]
    return Stage(r.value(), "trace", where(r, s))


def _short(text, n=60):
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 3] + "..."
