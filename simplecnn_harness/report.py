"""Reports of a comparison: a terminal table, JSON, and a self-contained HTML page.

The HTML page has no external resources (inline CSS, inline SVG, no
scripts): the verdict, the per-stage table, a per-layer error plot on a log
scale (forward and backward stages, the tolerance as a dashed line) and a
heatmap of |Python - MATLAB| for the worst stage (block maxima, relative to
the stage's largest MATLAB value, log colour scale).
"""
from __future__ import annotations

import html
import json
import math

import numpy as np

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
                     _fmt(s.max_ulp) if s.compared and s.kind != "index" else "-",
                     str(s.n_diff) if s.compared and s.n_diff is not None else "-", _status(s)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    head = (f"simplecnn compare: {result.layout} layout ({result.tree}) against the Python port\n"
            f"config {result.config}; data {result.data}, {result.instances} instances; "
            f"{result.precision} precision, {result.mode} mode, rtol {result.rtol:g}")
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
    with open(path, "w") as f:
        json.dump(result.to_json(), f, indent=1, default=_json_default)
        f.write("\n")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


# ---------------------------------------------------------------------------
# heatmap data (computed where both arrays are at hand)


def heatmap_grid(a, b, precision, max_rows=48, max_cols=120):
    """Block maxima of |a - b| / max|b| over a grid of at most max_rows x max_cols."""
    dtype = np.float32 if precision == "single" else np.float64
    A = np.asarray(a)
    B = np.asarray(b)
    if A.size != B.size or A.size == 0:
        return None
    shape = B.shape if B.ndim == 2 else (B.size, 1)
    original, folded = list(B.shape), False
    if min(shape) == 1 and max(shape) > 8:              # a vector: fold it into a rectangle
        k = max(shape)
        c = min(max_cols, int(math.ceil(math.sqrt(k * 4))))
        r = int(math.ceil(k / c))
        shape = (k, 1)
        pad = r * c - shape[0]
        A = np.concatenate([A.reshape(-1, order="F").astype(dtype), np.zeros(pad, dtype)])
        B = np.concatenate([B.reshape(-1, order="F").astype(dtype), np.zeros(pad, dtype)])
        shape, folded = (r, c), True
        A, B = A.reshape((c, r), order="F").T, B.reshape((c, r), order="F").T   # entries run along the rows
    A = A.astype(dtype, copy=False).reshape(shape, order="F")
    B = B.astype(dtype, copy=False).reshape(shape, order="F")
    rows, cols = shape
    br, bc = int(math.ceil(rows / max_rows)), int(math.ceil(cols / max_cols))
    gr, gc = int(math.ceil(rows / br)), int(math.ceil(cols / bc))
    scale = float(np.max(np.abs(B))) if B.size else 0.0
    grid = np.zeros((gr, gc))
    for i in range(gr):
        blockA = A[i * br:(i + 1) * br].astype(np.float64)
        blockB = B[i * br:(i + 1) * br].astype(np.float64)
        d = np.abs(blockA - blockB)
        d = np.where(np.isnan(d), np.inf, d)
        for j in range(gc):
            grid[i, j] = d[:, j * bc:(j + 1) * bc].max(initial=0.0)
    rel = grid / scale if scale > 0 else grid
    return {"rows": rows, "cols": cols, "block": [br, bc], "scale": scale, "grid": rel.tolist(),
            "shape": original, "folded": folded}


# ---------------------------------------------------------------------------
# HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#1d2329;background:#fafbfc}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.meta{color:#555;font-size:13px;line-height:1.6}
.badge{display:inline-block;padding:6px 14px;border-radius:6px;font-weight:700;font-size:18px;color:#fff}
.pass{background:#1f883d}.fail{background:#cf222e}
table{border-collapse:collapse;font-size:12.5px;background:#fff}
th,td{padding:3px 8px;border-bottom:1px solid #e3e6ea;text-align:right;white-space:nowrap}
th{background:#f0f2f5;position:sticky;top:0} td.l{text-align:left}
tr.bad td{background:#ffebe9} tr.skip td{color:#8a8f98} tr.expl td{background:#fff8c5}
tr.first td{font-weight:700}
.note{white-space:normal;text-align:left;color:#444;max-width:520px}
.card{background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:12px;display:inline-block;margin-right:16px;vertical-align:top}
.small{font-size:12px;color:#666}
"""


def _esc(x):
    return html.escape(str(x))


def _log_plot(result, width=760, height=320):
    """Per-layer error plot, log scale: rel_err of each compared float stage."""
    L = max((s.layer for s in result.stages), default=1)
    pts = [s for s in result.stages if s.compared and s.kind != "index" and s.rel_err is not None]
    idx_pts = [s for s in result.stages if s.compared and s.kind == "index"]
    lo_exp, hi_exp = -18, 1
    finite = [s.rel_err for s in pts if s.rel_err and math.isfinite(s.rel_err)]
    if finite:
        hi_exp = max(hi_exp, int(math.ceil(math.log10(max(finite)))))
        lo_exp = min(lo_exp, int(math.floor(math.log10(min(finite)))) - 1)
    left, right, top, bottom = 70, 20, 20, 50
    pw, ph = width - left - right, height - top - bottom

    def y_of(v):
        if v is None or v <= 0:
            e = lo_exp
        elif not math.isfinite(v):
            e = hi_exp
        else:
            e = min(max(math.log10(v), lo_exp), hi_exp)
        return top + ph * (hi_exp - e) / (hi_exp - lo_exp)

    def x_of(layer, offset):
        return left + pw * (layer - 0.5 + offset) / L

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#ccd"/>']
    for e in range(lo_exp, hi_exp + 1):
        y = y_of(10.0 ** e)
        if (e - lo_exp) % 2 == 0 or hi_exp - lo_exp <= 10:
            out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eef"/>')
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">1e{e}</text>')
    for m in range(1, L + 1):
        x = x_of(m, 0)
        out.append(f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">layer {m}</text>')
        if m > 1:
            xb = left + pw * (m - 1) / L
            out.append(f'<line x1="{xb:.1f}" x2="{xb:.1f}" y1="{top}" y2="{top + ph}" stroke="#eee"/>')
    yt = y_of(result.rtol)
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yt:.1f}" y2="{yt:.1f}" stroke="#cf222e" '
               f'stroke-dasharray="6,4"/>')
    out.append(f'<text x="{left + pw - 4}" y="{yt - 5:.1f}" text-anchor="end" fill="#cf222e">'
               f'tolerance {result.rtol:g}</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" transform="rotate(-90 14 {top + ph / 2})" '
               f'text-anchor="middle">relative error (log scale; 0 at the bottom)</text>')
    by_layer = {}
    for s in pts:
        by_layer.setdefault((s.layer, s.direction), []).append(s)
    for (m, direction), items in by_layer.items():
        base = -0.25 if direction == "forward" else 0.05
        span = 0.2
        color = "#0969da" if direction == "forward" else "#bc4c00"
        for k, s in enumerate(items):
            off = base + span * (k + 0.5) / max(len(items), 1)
            x, y = x_of(m, off), y_of(s.rel_err)
            fill = color if (s.ok or s.explained) else "#cf222e"
            shape = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" fill-opacity="0.85">'
                     if direction == "forward" else
                     f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{fill}" '
                     f'fill-opacity="0.85">')
            tag = "circle" if direction == "forward" else "rect"
            out.append(f'{shape}<title>layer {m} {direction} {_esc(s.stage)}: '
                       f'{_fmt(s.rel_err)}</title></{tag}>')
    for s in idx_pts:          # index maps: a diamond at 0 when exact, at the top when they differ
        off = -0.45 + 0.15 * ("idx_pad", "idx_phiZ", "idx_pool").index(s.stage) \
            if s.stage in ("idx_pad", "idx_phiZ", "idx_pool") else -0.45
        x = x_of(s.layer, off)
        y = y_of(float("inf") if s.n_diff else 0.0)
        fill = "#6e7781" if (s.ok or s.explained) else "#cf222e"
        out.append(f'<path d="M{x:.1f},{y - 5:.1f} L{x + 5:.1f},{y:.1f} L{x:.1f},{y + 5:.1f} L{x - 5:.1f},{y:.1f} Z" '
                   f'fill="{fill}"><title>layer {s.layer} {_esc(s.stage)}: '
                   f'{"exact" if not s.n_diff else str(s.n_diff) + " indices differ"}</title></path>')
    ly = top + ph + 36
    out.append(f'<circle cx="{left + 10}" cy="{ly}" r="4" fill="#0969da"/>'
               f'<text x="{left + 20}" y="{ly + 4}">forward stages</text>'
               f'<rect x="{left + 126}" y="{ly - 4}" width="8" height="8" fill="#bc4c00"/>'
               f'<text x="{left + 140}" y="{ly + 4}">backward stages</text>'
               f'<path d="M{left + 260},{ly - 5} L{left + 265},{ly} L{left + 260},{ly + 5} L{left + 255},{ly} Z" '
               f'fill="#6e7781"/><text x="{left + 270}" y="{ly + 4}">index maps (exact: bottom, differ: top)</text>'
               f'<circle cx="{left + 500}" cy="{ly}" r="4" fill="#cf222e"/>'
               f'<text x="{left + 510}" y="{ly + 4}">beyond tolerance</text>')
    out.append("</svg>")
    return "\n".join(out)


def _color(v, lo=-17.0, hi=0.0):
    """White for exact zero, then yellow to dark red on a log scale of v."""
    if v <= 0:
        return "#ffffff"
    if not math.isfinite(v):
        return "#000000"
    t = (min(max(math.log10(v), lo), hi) - lo) / (hi - lo)
    stops = [(255, 247, 188), (254, 196, 79), (236, 112, 20), (204, 76, 2), (102, 37, 6)]
    pos = t * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    f = pos - i
    c = [round(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])) for k in range(3)]
    return "#%02x%02x%02x" % tuple(c)


def _heatmap_svg(hm, width=760):
    grid = hm["grid"]
    gr, gc = len(grid), len(grid[0]) if grid else 0
    if not gr or not gc:
        return "<p>empty</p>"
    cw = max(2.0, min(12.0, (width - 120) / gc))
    ch = max(2.0, min(40.0, max(cw, 240.0 / gr)))
    w, h = max(60 + gc * cw + 20, 580), 20 + gr * ch + 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
           f'font-family="sans-serif" font-size="11" shape-rendering="crispEdges">']
    for i in range(gr):
        for j in range(gc):
            out.append(f'<rect x="{60 + j * cw:.1f}" y="{20 + i * ch:.1f}" width="{cw:.2f}" height="{ch:.2f}" '
                       f'fill="{_color(grid[i][j])}"/>')
    out.append(f'<rect x="60" y="20" width="{gc * cw:.1f}" height="{gr * ch:.1f}" fill="none" stroke="#888"/>')
    out.append(f'<text x="55" y="30" text-anchor="end">row 1</text>'
               f'<text x="55" y="{20 + gr * ch:.0f}" text-anchor="end">{hm["rows"]}</text>'
               f'<text x="60" y="{34 + gr * ch:.0f}">col 1</text>'
               f'<text x="{60 + gc * cw:.0f}" y="{34 + gr * ch:.0f}" text-anchor="end">{hm["cols"]}</text>')
    ly = 44 + gr * ch
    for k, e in enumerate(range(-17, 1, 2)):
        out.append(f'<rect x="{60 + k * 50}" y="{ly}" width="14" height="10" fill="{_color(10.0 ** e)}" '
                   f'stroke="#ccc"/><text x="{78 + k * 50}" y="{ly + 9}">1e{e}</text>')
    out.append(f'<rect x="{60 + 9 * 50}" y="{ly}" width="14" height="10" fill="#fff" stroke="#ccc"/>'
               f'<text x="{78 + 9 * 50}" y="{ly + 9}">equal</text>')
    out.append("</svg>")
    return "\n".join(out)


def html_report(result) -> str:
    badge = '<span class="badge pass">PASS</span>' if result.ok else '<span class="badge fail">FAIL</span>'
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
            f'<td>{_esc(_fmt(s.max_ulp) if s.compared and s.kind != "index" else "-")}</td>'
            f'<td>{_esc(s.n_diff if s.compared and s.n_diff is not None else "-")}</td>'
            f'<td>{_status(s)}</td><td class="l small">{_esc(s.source)}</td>'
            f'<td class="note">{_esc(s.note)}</td></tr>')
    hm = getattr(result, "heatmap", None)
    if hm:
        shape = " x ".join(str(x) for x in hm.get("shape", [hm["rows"], hm["cols"]]))
        if hm.get("folded"):
            shape += f", a vector shown in rows of {hm['cols']}"
        hm_html = (f'<p class="small">Stage <b>layer {hm["layer"]}, {hm["direction"]}, {_esc(hm["stage"])}</b> '
                   f'({shape}, rel_err {_fmt(hm.get("rel_err"))}): each cell is the largest '
                   f'|Python - MATLAB| of a {hm["block"][0]} x {hm["block"][1]} block, divided by the stage\'s '
                   f'largest MATLAB magnitude ({hm["scale"]:.3g}).</p>' + _heatmap_svg(hm))
    else:
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
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>simplecnn compare: {'PASS' if result.ok else 'FAIL'}</title>
<style>{_CSS}</style></head><body>
<h1>simplecnn compare {badge}</h1>
<div class="meta">
MATLAB tree: <b>{_esc(result.tree)}</b> ({_esc(result.layout)} layout) against the Python port<br>
config {_esc(result.config)}; data {_esc(result.data)}, {result.instances} instances;
{_esc(result.precision)} precision, {_esc(result.mode)} mode, tolerance {result.rtol:g} (normwise relative)<br>
loss: Python {_esc(result.loss.get('python'))}, MATLAB {_esc(result.loss.get('matlab'))}<br>
{_esc(verdict_line(result))}<br>
<span class="small">{_esc(timing)}</span>
</div>
{('<ul class="meta">' + notes + '</ul>') if notes else ''}
<h2>Error per layer</h2>
<div class="card">{_log_plot(result)}</div>
<h2>Differences of the worst stage</h2>
<div class="card">{hm_html}</div>
{pool}
<h2>Every stage</h2>
<table>
<tr><th>layer</th><th>dir</th><th>stage</th><th>shape</th><th>rel_err</th><th>max_abs</th><th>max_ulp</th>
<th>n_diff</th><th>ok</th><th>MATLAB value from</th><th>note</th></tr>
{''.join(rows)}
</table>
<p class="small">ok* : within tolerance by its own (isolated) error; it differs end to end only because of
near-tie pooling flips upstream. -- : not compared (the MATLAB code does not expose the stage on its own).</p>
{_reproduce_html(result)}</body></html>
"""


def _reproduce_html(result) -> str:
    cmd = getattr(result, "command", "")
    return f'<p class="small">reproduce: <code>{_esc(cmd)}</code></p>\n' if cmd else ""


def write_html(result, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write(html_report(result))
