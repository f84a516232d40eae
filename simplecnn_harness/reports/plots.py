"""The plots of the compare report, drawn with matplotlib as inline SVG.

* :func:`error_plot_svg`: the error of every stage in execution order
  (forward layer 1..L, the loss, backward layer L..1; the order of
  ``stages.canonical_stages``) on a log scale, coloured by verdict (within
  tolerance, beyond it, ``ok*``), the tolerance as a dashed line and the
  first divergence marked by a vertical line and its name.  Float stages
  plot their normwise relative error, index maps the fraction of indices
  that differ; exact agreement sits on the bottom line ("0 (exact)"),
  NaN/Inf on one side only on the top line.
* :func:`heatmap_svg`: |Python - MATLAB| / max|MATLAB| of one stage (the
  first divergent one; ``report.heatmap_grid`` computes the block maxima)
  laid out as its MATLAB array: rows x columns (channels x positions and
  instances for the convolutional stages), log colour scale from the
  data's own range, white where the sides are equal.  A vector is drawn as
  a 1-D strip with its entry numbers.

matplotlib is imported here only, when a report is drawn (``simplecnn
--help`` and the compare itself never load it); the figures use the
object-oriented ``Figure`` (no pyplot, no GUI backend), text stays text in
the SVG (``svg.fonttype = none``) and the SVG carries no external
reference.
"""
from __future__ import annotations

import io
import math

import numpy as np

PASS_COLOR = "#1f883d"
FAIL_COLOR = "#cf222e"
EXPLAINED_COLOR = "#bf8700"
SKIP_COLOR = "#8c959f"


def _svg(fig) -> str:
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "simplecnn"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]                  # no XML prolog/doctype inside HTML
    start, end = text.find("<metadata>"), text.find("</metadata>")
    if 0 <= start < end:                              # RDF boilerplate: no use inline
        text = text[:start] + text[end + len("</metadata>"):]
    # scale with the page: the width as a maximum, the height following
    head, rest = text.split(">", 1)
    head = head.replace('<svg ', '<svg style="max-width:100%;height:auto" ', 1)
    # inside HTML the parser knows xlink:href by itself: no namespace address left in the page
    head = head.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    return head + ">" + rest


def _figure(w, h):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=100)
    fig.patch.set_facecolor("white")
    return fig


def _label(s):
    return f"{s.layer} {'fwd' if s.direction == 'forward' else 'bwd'} {s.stage}"


def stage_values(result):
    """``(stage, value, kind)`` per stage in execution order; value None when not
    compared, 0.0 exact, inf for NaN/Inf on one side; kind 'index'/'array'."""
    out = []
    for s in result.stages:
        if not s.compared:
            out.append((s, None))
        elif s.kind == "index":
            n = s.numel or 0
            out.append((s, (s.n_diff or 0) / n if n else (0.0 if not s.n_diff else 1.0)))
        elif s.rel_err is None or (isinstance(s.rel_err, float) and math.isnan(s.rel_err)):
            out.append((s, math.inf))
        else:
            out.append((s, float(s.rel_err)))
    return out


def _verdict_color(s):
    if s.explained:
        return EXPLAINED_COLOR
    return PASS_COLOR if s.ok else FAIL_COLOR


def error_plot_svg(result) -> str:
    from matplotlib.lines import Line2D

    vals = stage_values(result)
    n = len(vals)
    pos = [v for _, v in vals if v is not None and 0 < v < math.inf] + [result.rtol]
    lo = 10.0 ** (math.floor(math.log10(min(pos))) - 1)
    hi = 10.0 ** max(1, math.ceil(math.log10(max(pos))) + 1)
    floor_y, top_y = lo, hi

    fig = _figure(max(7.5, 0.17 * n + 2.2), 4.6)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_yscale("log")
    ax.set_ylim(floor_y / 3, top_y * 3)
    ax.set_xlim(-0.7, n - 0.3)

    # forward / backward regions, layer boundaries
    n_fwd = sum(1 for s, _ in vals if s.direction == "forward")
    ax.axvspan(-0.7, n_fwd - 0.5, color="#ddf4ff", alpha=0.55, lw=0, zorder=0)
    ax.axvspan(n_fwd - 0.5, n - 0.3, color="#fff1e5", alpha=0.55, lw=0, zorder=0)
    ax.text(0.0, 1.01, "forward \u2192", transform=ax.transAxes, va="bottom", ha="left", fontsize=9,
            color="#0550ae", fontweight="bold")
    ax.text((n_fwd - 0.5 + 0.7) / (n + 0.4), 1.01, "backward \u2192", transform=ax.transAxes, va="bottom",
            ha="left", fontsize=9, color="#953800", fontweight="bold")
    for k in range(1, n):
        a, b = vals[k - 1][0], vals[k][0]
        if (a.layer, a.direction) != (b.layer, b.direction) and k != n_fwd:
            ax.axvline(k - 0.5, color="#d0d7de", lw=0.8, zorder=1)

    # tolerance
    ax.axhline(result.rtol, color=FAIL_COLOR, ls="--", lw=1.2, zorder=2)
    ax.text(n - 0.4, result.rtol * 1.3, f"tolerance {result.rtol:g}", color=FAIL_COLOR, ha="right",
            va="bottom", fontsize=8.5)
    ax.axhline(floor_y, color="#8c959f", ls=":", lw=0.8, zorder=1)

    # the points, joined in execution order
    xs, ys = [], []
    for k, (s, v) in enumerate(vals):
        if v is None:
            ax.plot([k], [floor_y], marker="x", ms=5, color=SKIP_COLOR, zorder=3, ls="none")
            continue
        y = floor_y if v == 0 else (top_y if v == math.inf else v)
        xs.append(k)
        ys.append(y)
        marker = "D" if s.kind == "index" else ("o" if s.direction == "forward" else "s")
        filled = v != 0
        c = _verdict_color(s)
        ax.plot([k], [y], marker=marker, ms=6.5 if filled else 5.5, ls="none", zorder=4,
                markerfacecolor=c if filled else "white", markeredgecolor=c, markeredgewidth=1.3)
    if xs:
        ax.plot(xs, ys, color="#57606a", lw=0.8, alpha=0.6, zorder=3)

    # first divergence
    fd = result.first_divergence
    if fd:
        k = next((i for i, (s, _) in enumerate(vals)
                  if (s.layer, s.direction, s.stage) == (fd.get("layer"), fd.get("direction"), fd.get("stage"))),
                 None)
        if k is not None:
            # the line through the plot, its name above the frame (never over a point)
            ax.axvline(k, color=FAIL_COLOR, lw=2, alpha=0.8, zorder=2)
            left = k < 0.6 * n
            ax.annotate(f"first divergence: layer {fd['layer']}, {fd['direction']}, {fd['stage']}",
                        xy=(k, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 22),
                        textcoords="offset points", ha="left" if left else "right", va="bottom",
                        fontsize=9.5, color=FAIL_COLOR, fontweight="bold",
                        arrowprops=dict(arrowstyle="-|>", color=FAIL_COLOR, lw=1.2,
                                        shrinkA=0, shrinkB=0, relpos=(0, 0) if left else (1, 0)),
                        bbox=dict(boxstyle="round,pad=0.25", fc="white", ec=FAIL_COLOR, lw=0.8))

    ax.set_xticks(range(n))
    ax.set_xticklabels([_label(s) for s, _ in vals], rotation=90, fontsize=7.5, family="monospace")
    for lbl, (s, v) in zip(ax.get_xticklabels(), vals):
        if v is not None and not s.ok and not s.explained:
            lbl.set_color(FAIL_COLOR)
    ticks = [t for t in ax.get_yticks() if floor_y < t < top_y]
    ax.set_yticks([floor_y] + ticks + [top_y])
    ax.set_yticklabels(["0 (exact)"] + [f"1e{int(round(math.log10(t)))}" for t in ticks] + ["NaN/Inf"],
                       fontsize=8)
    ax.minorticks_off()
    ax.set_ylim(floor_y / 3, top_y * 3)
    ax.set_ylabel("relative error (log scale)\nindex maps: fraction differing", fontsize=9)
    ax.grid(axis="y", color="#eaeef2", lw=0.6, zorder=0)
    handles = [
        Line2D([], [], marker="o", ls="none", color=PASS_COLOR, label="within tolerance"),
        Line2D([], [], marker="o", ls="none", color=FAIL_COLOR, label="beyond tolerance"),
        Line2D([], [], marker="o", ls="none", color=EXPLAINED_COLOR, label="ok* (near-tie flips)"),
        Line2D([], [], marker="o", ls="none", markerfacecolor="white", markeredgecolor="#57606a",
               label="exactly equal"),
        Line2D([], [], marker="s", ls="none", color="#57606a", label="backward (squares)"),
        Line2D([], [], marker="D", ls="none", color="#57606a", label="index map"),
        Line2D([], [], marker="x", ls="none", color=SKIP_COLOR, label="not compared"),
    ]
    fig.tight_layout()
    fig.legend(handles=handles, loc="upper center", ncol=7, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0), handletextpad=0.3, columnspacing=1.0)
    return _svg(fig)


def heatmap_svg(hm) -> str:
    from matplotlib.colors import LogNorm

    grid = np.array(hm["grid"], dtype=float)
    if grid.size == 0:
        return "<p>empty</p>"
    rows, cols = int(hm["rows"]), int(hm["cols"])
    br, bc = hm["block"]
    positive = grid[(grid > 0) & np.isfinite(grid)]
    vmax = float(positive.max()) if positive.size else 1.0
    vmin = float(max(positive.min(), vmax * 1e-8)) if positive.size else vmax / 10
    if vmin >= vmax:
        vmin = vmax / 10
    shown = np.ma.masked_where(grid <= 0, np.where(np.isfinite(grid), grid, vmax))
    import matplotlib

    cmap = matplotlib.colormaps["magma_r"].with_extremes(bad="white")
    vector = rows == 1 or cols == 1
    if vector:
        # a 1-D strip along x with entry numbers, whatever the MATLAB orientation
        k = rows * cols
        strip = shown.reshape(1, -1)
        fig = _figure(min(11.0, max(6.0, 0.12 * strip.shape[1] + 2.5)), 2.3)
        ax = fig.add_subplot(1, 1, 1)
        im = ax.imshow(strip, aspect="auto", cmap=cmap, norm=LogNorm(vmin, vmax), interpolation="nearest",
                       extent=(0.5, k + 0.5, 1, 0))
        ax.set_yticks([])
        ax.set_xlabel(f"entry (1..{k}" + (f"; each cell is {max(br, bc)} entries" if max(br, bc) > 1 else "")
                      + ")", fontsize=9)
        _int_ticks(ax.xaxis, k)
    else:
        gr, gc = grid.shape
        aspect = min(4.0, max(0.25, (gr / gc) * 3))
        w = 9.0
        h = min(6.0, max(2.4, w * 0.75 * aspect * 0.5))
        fig = _figure(w, h)
        ax = fig.add_subplot(1, 1, 1)
        im = ax.imshow(shown, aspect="auto", cmap=cmap, norm=LogNorm(vmin, vmax), interpolation="nearest",
                       extent=(0.5, cols + 0.5, rows + 0.5, 0.5))
        ax.set_ylabel(f"row (1..{rows})" + (f", blocks of {br}" if br > 1 else ""), fontsize=9)
        ax.set_xlabel(f"column (1..{cols})" + (f", blocks of {bc}" if bc > 1 else ""), fontsize=9)
        _int_ticks(ax.xaxis, cols)
        _int_ticks(ax.yaxis, rows)
    ax.tick_params(labelsize=8)
    cb = fig.colorbar(im, ax=ax, pad=0.01, fraction=0.04 if not vector else 0.03)
    cb.ax.tick_params(labelsize=7.5)
    cb.set_label("|Python - MATLAB| / max|MATLAB|\n(white: equal)" if not vector else
                 "|difference| / max|MATLAB|", fontsize=8 if not vector else 7)
    fig.tight_layout()
    return _svg(fig)


def _int_ticks(axis, n):
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=10, integer=True, min_n_ticks=2))
    if n <= 12:
        axis.set_ticks(range(1, n + 1))
