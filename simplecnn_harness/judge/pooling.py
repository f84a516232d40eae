"""Differing pooling winners, classified; the stages after near-tie flips re-judged.

Shared by the judge of a whole run (``verdict.py``) and the streamed judge
(``stream.py``): both hand over the stage results and, per pooled layer,
the located flips (``metrics.pooling_flips``'s dict, given the sigma(S)
error of the layer); this module writes the classification into the
``idx_pool`` rows (near-ties accepted and marked explained, tie-rule
differences, real ones, or downstream of an earlier divergence) and, for
the layers whose flips are all near-ties, judges the later stages by their
own (isolated) error.
"""
from __future__ import annotations

from . import metrics as C


def classify_pooling(model, results, keys, flips):
    """Locate differing pooling winners per layer and judge near-ties:
    (``{layer: info}``, layers whose flips are all near-ties).

    ``flips(m, sig_err)``: the flips of layer ``m`` (``metrics.pooling_flips``)
    with ``sig_err`` the sigma(S) error of the layer, or None when they
    cannot be located (the index arrays' sizes differ)."""
    pooling = {}
    by_key = {r.key(): r for r in results}
    order = {k: i for i, k in enumerate(keys)}
    flip_layers = []
    for m in range(1, int(model.LC) + 1):
        r = by_key.get((m, "forward", "idx_pool"))
        if r is None or not r.compared or r.ok or not r.n_diff:
            continue
        sig = by_key.get((m, "forward", "sigmaS"))
        upstream = next((x for x in results if order[x.key()] < order[r.key()]
                         and x.compared and not x.ok and not x.explained), None)
        sig_err = sig.max_abs_err if sig is not None and sig.ok and sig.max_abs_err else 0.0
        info = flips(m, sig_err)
        if info is None:
            continue
        pooling[str(m)] = info
        loc = info["first"][0] if info["first"] else {}
        where = (f"first at instance {loc.get('instance')}, channel {loc.get('channel')}, "
                 f"output ({loc.get('row')}, {loc.get('col')})") if loc else ""
        if upstream is not None:
            info["near_ties"] = 0
            info["downstream_of"] = {"layer": upstream.layer, "direction": upstream.direction,
                                     "stage": upstream.stage}
            r.note = (f"{info['count']} of {info['windows']} pooling winners differ, downstream of the "
                      f"divergence at layer {upstream.layer}, {upstream.direction}, {upstream.stage}; {where}")
        elif info["count"] and info["near_ties"] == info["count"]:
            r.ok = True
            r.explained = True
            r.note = (f"{info['count']} of {info['windows']} pooling winners differ, all near-ties "
                      f"(the two candidates within {C.NEAR_TIE_ULPS} ULP or the sigma(S) error): "
                      f"summation order flips them; {where}")
            flip_layers.append(m)
        elif info.get("tie_rule"):
            r.note = (f"{info['count']} of {info['windows']} pooling winners differ, {info['tie_rule']} where "
                      f"the window's values are exactly equal on both sides: a tie-rule difference (the port "
                      f"takes the first maximum, as MATLAB's max does); "
                      f"{info['count'] - info['near_ties'] - info['tie_rule']} others not near-ties; {where}")
        else:
            r.note = (f"{info['count']} of {info['windows']} pooling winners differ, "
                      f"{info['count'] - info['near_ties']} not near-ties; {where}")
    return pooling, flip_layers


def after_flips(results, keys, flip_layers):
    """The stage results a re-judging after near-tie flips at ``flip_layers`` looks at:
    compared, failing array stages after the first flipped ``idx_pool``."""
    order = {k: i for i, k in enumerate(keys)}
    start = min(order[(m, "forward", "idx_pool")] for m in flip_layers)
    return [r for r in results if order[r.key()] > start and r.compared and not r.ok and r.kind != "index"]


def rejudge_after_flips(results, keys, flip_layers, isolated) -> str:
    """Downstream of a near-tie flip, judge each stage by its own (isolated) error; the note saying so.

    ``isolated(key)``: the comparison (``metrics.compare_arrays``'s dict) of
    the stage's isolated value with the reference's, or None without one."""
    for r in after_flips(results, keys, flip_layers):
        res = isolated(r.key())
        if res is None:
            continue
        r.isolated_rel_err = res.get("rel_err")
        if res.get("ok"):
            r.explained = True
            r.note = (f"exceeds the tolerance end to end only because of near-tie pooling flips "
                      f"at layer {', '.join(map(str, flip_layers))}; its own (isolated) error is "
                      f"{res.get('rel_err'):.3g}" + ("; " + r.note if r.note else ""))
    return (f"near-tie pooling flips at layer {', '.join(map(str, flip_layers))}: stages after them "
            "differ end to end and are judged by their isolated error")
