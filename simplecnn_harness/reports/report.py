"""Reports of a comparison: a terminal table, JSON, and a self-contained HTML page.

The HTML page has no external resources (inline CSS, inline SVG drawn with
matplotlib in ``report_plots.py``, no scripts): the verdict, the error of
every stage in execution order on a log scale (the tolerance and the first
divergence marked), a heatmap of |Python - MATLAB| over the first divergent
stage (the worst one when all pass) laid out as its MATLAB array, and the
per-stage table.  Files are written atomically: a temporary file in the
target's folder, renamed over the target, so a failure leaves no
half-written report.

``max_ulp`` is shown as a number while it says something: from 2**p ULPs
(p = 52 in double, 23 in single: the values are a factor 2 or more apart,
or of opposite signs, where the count runs through every float near zero)
it is ``n/a``, as it is for NaN/Inf on one side.
"""
from __future__ import annotations

import json
import math

import numpy as np

from ..judge.heatmap import heatmap_grid  # noqa: F401  (computed by the judge; imported here by older callers)
from .html import esc, page

# ---------------------------------------------------------------------------
# terminal


def _fmt(v, exact_zero="0"):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if v == 0:
        return exact_zero
    if not math.isfinite(v):
        return "inf" if v > 0 else "nan"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.2e}"
    return f"{v:.4g}"


def _ulp(s, precision):
    """``max_ulp`` for the table: a count while it means something, else ``n/a``."""
    v = s.max_ulp
    if v is None:
        return "-"
    if not math.isfinite(v) or v >= 2.0 ** (23 if precision == "single" else 52):
        return "n/a"
    return _fmt(v)


def _status(s):
    if not s.compared:
        return "--"
    if s.ok and s.explained:
        return "ok*"
    return "ok" if s.ok else "FAIL"


def _shape(s):
    sh = s.shape_python or s.shape_matlab
    return "x".join(str(x) for x in sh) if sh else ("1" if s.kind == "scalar" else "")


def terminal_table(result) -> str:
    rows = [("layer", "dir", "stage", "shape", "rel_err", "max_abs", "max_ulp", "n_diff", "ok")]
    for s in result.stages:
        if s.kind == "index":
            rel = "exact" if s.compared and s.n_diff == 0 else ("-" if not s.compared else f"{s.n_diff} differ")
        else:
            rel = _fmt(s.rel_err) if s.compared else "-"
        rows.append((str(s.layer), "fwd" if s.direction == "forward" else "bwd", s.stage,
                     _shape(s), rel, _fmt(s.max_abs_err) if s.compared and s.kind != "index" else "-",
                     _ulp(s, result.precision) if s.compared and s.kind != "index" else "-",
                     str(s.n_diff) if s.compared and s.n_diff is not None else "-", _status(s)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    head = (f"simplecnn compare: {result.layout} layout ({result.tree}) against "
            f"{getattr(result, 'python_side', '') or 'the Python port'}\n"
            f"config {result.config}; data {result.data}, {result.instances} instances; "
            f"{result.precision} precision, {result.mode} mode, rtol {result.rtol:g}"
            + (f"; streamed in {result.chunks} chunks of instances (--chunk)" if getattr(result, "chunks", 0)
               else ""))
    lines.append(head)
    lines.append("")
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [s for s in result.stages if s.note and (not s.compared or not s.ok or s.explained)]
    if notes:
        lines.append("")
        for s in notes:
            lines.append(f"  {s.layer} {s.direction} {s.stage}: {s.note}")
    lines.append("")
    lines.append(verdict_line(result))
    if getattr(result, "command", ""):
        lines.append(f"reproduce: {result.command}")
    return "\n".join(lines)


def verdict_line(result) -> str:
    compared = [s for s in result.stages if s.compared]
    skipped = [s for s in result.stages if not s.compared]
    tail = f" ({len(skipped)} not compared: not exposed by the MATLAB code)" if skipped else ""
    if result.ok:
        extra = ""
        if any(s.explained for s in compared):
            extra = " (stages marked ok* differ end to end only through near-tie pooling flips)"
        return f"PASS: all {len(compared)} compared stages agree within rtol {result.rtol:g}{tail}{extra}"
    fd = result.first_divergence or {}
    bad = [s for s in compared if not s.ok and not s.explained]
    first = next((s for s in bad if (s.layer, s.direction, s.stage) ==
                  (fd.get("layer"), fd.get("direction"), fd.get("stage"))), None)
    what = ""
    if first is not None:
        what = f" ({'exact indices' if first.kind == 'index' else 'rel_err ' + _fmt(first.rel_err)}" \
               f"{': ' + first.note if first.note else ''})"
    return (f"FAIL: {len(bad)} of {len(compared)} compared stages differ; first divergence at layer "
            f"{fd.get('layer')}, {fd.get('direction')}, {fd.get('stage')}{what}")


# ---------------------------------------------------------------------------
# JSON


def write_json(result, path):
    write_atomically(path, json.dumps(result.to_json(), indent=1, default=_json_default) + "\n")


def write_atomically(path, text):
    """``text`` into ``path``, whole or not at all (``simplecnn_py.support.atomic``).
    Errors become ``EnvironmentProblem``."""
    from simplecnn_py.support.atomic import write_atomically as write
    from simplecnn_py.support.errors import EnvironmentProblem

    try:
        write(path, text)
    except OSError as e:
        raise EnvironmentProblem(f"cannot write {path}: {e.strerror or e}") from None


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


# ---------------------------------------------------------------------------
# HTML

def _esc(x):
    return esc(x)


def _plots(result):
    """(error plot SVG, heatmap SVG or None), drawn with matplotlib."""
    try:
        from . import plots as report_plots
    except ImportError as e:                     # matplotlib missing from the environment
        from simplecnn_py.support.errors import EnvironmentProblem
        raise EnvironmentProblem(f"the HTML report needs matplotlib ({e}): run `.venv/bin/pip install "
                                 "matplotlib` (or `bash scripts/setup.sh`)") from None
    hm = shown_heatmap(result)
    return report_plots.error_plot_svg(result), (report_plots.heatmap_svg(hm) if hm else None)


def shown_heatmap(result):
    """The heatmap the page draws: the first divergent stage's, or none on a
    pass (the largest difference of a passing run is rounding noise, which a
    map would dress up as a finding)."""
    hm = getattr(result, "heatmap", None)
    return hm if hm and not result.ok else None


def html_report(result) -> str:
    fd = result.first_divergence
    first_key = (fd["layer"], fd["direction"], fd["stage"]) if fd else None
    rows = []
    for s in result.stages:
        cls = "skip" if not s.compared else ("expl" if s.explained else ("" if s.ok else "bad"))
        if first_key == (s.layer, s.direction, s.stage):
            cls += " first"
        if s.kind == "index":
            rel = "exact" if s.compared and s.n_diff == 0 else ("-" if not s.compared else f"{s.n_diff} differ")
        else:
            rel = _fmt(s.rel_err) if s.compared else "-"
        rows.append(
            f'<tr class="{cls.strip()}"><td>{s.layer}</td><td class="l">{s.direction}</td>'
            f'<td class="l">{_esc(s.stage)}</td><td>{_esc(_shape(s))}</td><td>{_esc(rel)}</td>'
            f'<td>{_esc(_fmt(s.max_abs_err) if s.compared and s.kind != "index" else "-")}</td>'
            f'<td>{_esc(_ulp(s, result.precision) if s.compared and s.kind != "index" else "-")}</td>'
            f'<td>{_esc(s.n_diff if s.compared and s.n_diff is not None else "-")}</td>'
            f'<td>{_status(s)}</td><td class="l small">{_esc(s.source)}</td>'
            f'<td class="note">{_esc(s.note)}</td></tr>')
    plot_svg, hm_svg = _plots(result)
    hm = shown_heatmap(result)
    if hm:
        shape = " x ".join(str(x) for x in hm.get("shape", [hm["rows"], hm["cols"]]))
        which = ("the first divergent stage" if first_key == (hm["layer"], hm["direction"], hm["stage"])
                 else "the stage with the largest error")
        block = ("" if hm["block"] == [1, 1] else
                 f"each cell is the largest difference of a {hm['block'][0]} x {hm['block'][1]} block, ")
        hm_head = f"Where {which} differs: layer {hm['layer']}, {hm['direction']}, {hm['stage']}"
        st = next((s for s in result.stages if (s.layer, s.direction, s.stage) ==
                   (hm["layer"], hm["direction"], hm["stage"])), None)
        err = (f"{st.n_diff} of {st.numel} indices differ" if st is not None and st.kind == "index"
               else f"rel_err {_fmt(hm.get('rel_err'))}")
        hm_html = (f'<p class="small">{_esc(hm["stage"])} is {shape} in MATLAB (rows x columns'
                   f'{"" if hm.get("vector") else "; convolutional stages: channels x positions and instances"}),'
                   f' {_esc(err)}; {_esc(block)}relative to the stage\'s largest '
                   f'MATLAB magnitude ({hm["scale"]:.3g}); white cells are equal.</p>' + hm_svg)
    elif result.ok and getattr(result, "heatmap", None):
        hm_head = "Differences"
        hm_html = ("<p>Every compared stage is within tolerance: what differs is rounding, so no map of it is "
                   "drawn (each stage's error is in the plot above and the table below).</p>")
    else:
        hm_head = "Differences"
        hm_html = "<p>No array stage was compared.</p>"
    timing = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()
                       if isinstance(v, float) and k.endswith("_s"))
    pool = ""
    if result.pooling:
        items = []
        for m, info in result.pooling.items():
            items.append(f"layer {m}: {info['count']} of {info['windows']} winners differ, "
                         f"{info['near_ties']} near-ties")
        pool = "<h2>Pooling winners</h2><p>" + "<br>".join(_esc(i) for i in items) + "</p>"
    notes = "".join(f"<li>{_esc(n)}</li>" for n in result.notes)
    body = f"""<p class="verdict {'pass' if result.ok else 'fail'}">{_esc(verdict_line(result))}</p>
<div class="meta">
MATLAB tree: <b>{_esc(result.tree)}</b> ({_esc(result.layout)} layout) against {_esc(getattr(result, 'python_side', '') or 'the Python port')}<br>
config {_esc(result.config)}; data {_esc(result.data)}, {result.instances} instances;
{_esc(result.precision)} precision, {_esc(result.mode)} mode, tolerance {result.rtol:g} (normwise relative)<br>
loss: Python {_esc(result.loss.get('python'))}, MATLAB {_esc(result.loss.get('matlab'))}<br>
<span class="small">{_esc(timing)}</span>
</div>
{('<ul class="meta">' + notes + '</ul>') if notes else ''}
<h2>Error of every stage, in execution order</h2>
<div class="card">{plot_svg}</div>
<h2>{_esc(hm_head)}</h2>
<div class="card">{hm_html}</div>
{pool}
<h2>Every stage</h2>
<table>
<tr><th>layer</th><th>dir</th><th>stage</th><th>shape</th><th>rel_err</th><th>max_abs</th><th>max_ulp</th>
<th>n_diff</th><th>ok</th><th>MATLAB value from</th><th>note</th></tr>
{''.join(rows)}
</table>
<p class="small">max_ulp n/a: NaN/Inf on one side, or values of opposite signs or a factor 2 or more
apart, where a count of ULPs says nothing more than rel_err. ok* : within tolerance by its own (isolated) error; it differs end to end only because of
near-tie pooling flips upstream. -- : not compared (the MATLAB code does not expose the stage on its own).</p>
<p class="small">MATLAB value from: where the MATLAB side's value of the stage was taken.
trace: recorded at the statement of the tree's code that computes it; boundary: recorded where a routine
is entered or left (its arguments or results); net: read from the net struct after the run; derived:
worked out from a recorded value (the same numbers, reshaped or selected); empty: the stage was not compared.</p>"""
    return page(f"simplecnn compare: {'PASS' if result.ok else 'FAIL'}", body, heading="simplecnn compare",
                ok=result.ok, command=getattr(result, "command", ""))


def write_html(result, path):
    write_atomically(path, html_report(result))
