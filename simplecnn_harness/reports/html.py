"""The one page template and stylesheet of every HTML report.

Each report (``compare``, ``compare-train``, ``train``, ``sweep``, the
``compare_report`` summary) builds its body and hands it to :func:`page`,
which wraps it in the same self-contained document: no external resources,
no scripts, the stylesheet :data:`CSS` inline, a heading with an optional
PASS/FAIL badge, and, when the report has one, the command that reproduces
it as its last line (:func:`reproduce`).  A new report uses the classes
below rather than a stylesheet of its own.

Classes: ``badge pass|fail`` (the verdict in the heading), ``verdict
pass|fail`` (the verdict's sentence), ``meta`` (settings), ``small`` (notes),
``card`` (a framed figure), ``note`` (a wrapped table cell), ``l`` (a
left-aligned cell), ``num`` (a right-aligned number), rows ``bad``/``skip``/
``expl``/``first`` (a stage beyond tolerance / not compared / explained /
the first divergence) and ``PASS``/``FAIL``/``ERROR`` (a summary row).
"""
from __future__ import annotations

import html

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#1d2329;background:#fafbfc}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.meta{color:#555;font-size:13px;line-height:1.6}
.badge{display:inline-block;padding:6px 14px;border-radius:6px;font-weight:700;font-size:18px;color:#fff}
.pass{background:#1f883d}.fail{background:#cf222e}
table{border-collapse:collapse;font-size:12.5px;background:#fff}
th,td{padding:3px 8px;border-bottom:1px solid #e3e6ea;text-align:right;white-space:nowrap}
th{background:#f0f2f5;position:sticky;top:0} td.l{text-align:left} td.num{font-variant-numeric:tabular-nums}
tr.bad td{background:#ffebe9} tr.skip td{color:#8a8f98} tr.expl td{background:#fff8c5}
tr.first td{font-weight:700}
tr.PASS td{background:#e3f6e3} tr.FAIL td{background:#fde2e2} tr.ERROR td{background:#fff3cd}
.note{white-space:normal;text-align:left;color:#444;max-width:520px}
.card{background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:12px;display:inline-block;margin-right:16px;vertical-align:top}
.small,small{font-size:12px;color:#666}
.verdict{font-size:16px;font-weight:600;margin:10px 0}.verdict.pass{color:#1f883d;background:none}
.verdict.fail{color:#cf222e;background:none}
.card svg{display:block}
pre{background:#f6f8fa;border:1px solid #e3e6ea;border-radius:6px;padding:8px;font-size:12px}
"""


def esc(x) -> str:
    return html.escape(str(x))


def badge(ok) -> str:
    """``<span class="badge pass">PASS</span>`` (or FAIL)."""
    return '<span class="badge pass">PASS</span>' if ok else '<span class="badge fail">FAIL</span>'


def reproduce(command) -> str:
    """The report's last line: the shell command that gives it again (empty
    when there is none)."""
    return f'<p class="small">reproduce: <code>{esc(command)}</code></p>\n' if command else ""


def page(title, body, *, heading=None, ok=None, command="") -> str:
    """The whole document: ``title`` in the tab, ``heading`` (default the
    title) as the h1 with a PASS/FAIL badge when ``ok`` is True/False,
    ``body`` (HTML) and the reproduce line of ``command``."""
    h1 = esc(title if heading is None else heading) + ("" if ok is None else " " + badge(ok))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n<title>{esc(title)}</title>\n'
            f"<style>{CSS}</style></head><body>\n<h1>{h1}</h1>\n{body}\n{reproduce(command)}</body></html>\n")
