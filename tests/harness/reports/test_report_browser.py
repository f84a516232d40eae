"""The HTML reports in a real browser (Debian's chromium, headless) and the
plots' content.

Each report (compare, failing and passing; compare-train) is loaded with
``chromium --headless --dump-dom --screenshot``: no console
message (a script error, a failed load would show as one), the verdict in
the rendered page, the plots present, and the verdict's badge colour on
screen near the top.  A page with a script error checks that the console
check can fail.  Without chromium these tests skip, naming it
(``bash scripts/setup.sh --test`` installs it).

``SIMPLECNN_SCREENSHOTS=DIR`` keeps the screenshots there for a person to look at.

Without a browser: the error plot lists every stage in execution order
(forward then backward) with the first divergence marked; the heatmap is of
the first divergent stage, in its MATLAB shape; a vector is a strip;
``max_ulp`` shows ``n/a`` where a count of ULPs means nothing.
"""
from __future__ import annotations

import html.parser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY_CONFIG, needs_octave
from simplecnn_harness.judge import metrics as C
from simplecnn_harness.compare import Result
from simplecnn_harness.reports.report import heatmap_grid, html_report, terminal_table, write_html
from simplecnn_harness.judge.stages import canonical_stages
from simplecnn_py.support.conventions import cell, struct

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                    "(bash scripts/setup.sh --test installs Debian's chromium)")
FAIL_RGB, PASS_RGB = (0xcf, 0x22, 0x2e), (0x1f, 0x88, 0x3d)


# --- the browser -------------------------------------------------------------------

def chromium(page: Path, tmp_path: Path, *mode):
    profile = tmp_path / f"profile-{page.stem}"
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
            *mode, page.resolve().as_uri()]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    return proc, console


def load(page, tmp_path, height=1400):
    """(rendered DOM, console messages, screenshot as an RGB array) of ``page``,
    from one chromium run."""
    shot = tmp_path / f"{page.stem}.png"
    proc, console = chromium(page, tmp_path, "--virtual-time-budget=3000", f"--window-size=1300,{height}",
                             f"--screenshot={shot}", "--dump-dom")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    keep = os.environ.get("SIMPLECNN_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    from matplotlib.image import imread

    return proc.stdout, console, (imread(shot)[..., :3] * 255).round().astype(int)


def has_colour(img, rgb, rows, tol=6, least=200):
    part = img[rows[0]:rows[1]]
    close = np.all(np.abs(part - np.array(rgb)) <= tol, axis=-1)
    return int(close.sum()) >= least


def check_page(page, tmp_path, verdict_re, badge_rgb):
    dom, console, img = load(page, tmp_path)
    assert console == [], console
    text = re.sub(r"<[^>]+>", " ", dom)
    text = " ".join(text.split())
    assert re.search(verdict_re, text), text[:600]
    # the error plot, and the heatmap of the first divergence; a pass draws no map of rounding noise
    if badge_rgb == PASS_RGB:
        assert dom.count("<svg") == 1 and "what differs is rounding, so no map of it is drawn" in text
    else:
        assert dom.count("<svg") >= 2
    assert has_colour(img, badge_rgb, (0, 120)), "the verdict's badge is not on screen at the top"
    return dom, img


@needs_chromium
def test_the_console_check_catches_a_script_error(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><p>FAIL</p><script>undefinedFunction();</script></body></html>")
    dom, console, _ = load(bad, tmp_path)
    assert "FAIL" in dom and any("undefinedFunction" in c for c in console)


# --- fabricated results (no Octave needed) -------------------------------------------

def _model():
    m = struct()
    m.L, m.LC = 3, 2
    m.wd_subimage_pool = cell([2, 1])
    return m


def fabricated(first_at=None, ulp=2.0, vector_heatmap=False, precision="double"):
    """Every stage exact up to ``first_at`` (an index), then 1e-9 relative."""
    stages = []
    keys = canonical_stages(_model())
    for i, key in enumerate(keys):
        kind = C.kind_of(key[2])
        bad = first_at is not None and i >= first_at and kind != "index"
        r = C.StageResult(*key, kind=kind, compared=True, ok=not bad, rel_err=1e-9 if bad else 0.0,
                          max_abs_err=1e-9 if bad else 0.0, max_ulp=(ulp if bad else 0.0) if kind != "index"
                          else None, n_diff=5 if bad else 0, numel=10, shape_python=[2, 5],
                          shape_matlab=[2, 5], source="trace")
        stages.append(r)
    stages[2].compared, stages[2].ok, stages[2].note = False, None, "not exposed by the MATLAB code"
    first = None
    if first_at is not None:
        s = next(s for s in stages[first_at:] if not s.ok)
        first = {"layer": s.layer, "direction": s.direction, "stage": s.stage}
    res = Result(first is None, "seed", "matlab_ref/seed", "demo.config", "generated", 8, precision,
                 "propagated", 1e-13, stages, first, {}, {"total_s": 1.5}, [], {"python": 1.0, "matlab": 1.0})
    rng = np.random.default_rng(1)
    b = rng.standard_normal((10, 1) if vector_heatmap else (16, 300))
    a = b * (1 + 1e-9 * rng.standard_normal(b.shape))
    a[0] = b[0]                               # an exactly equal row / entry: drawn white
    res.heatmap = heatmap_grid(a, b, precision)
    where = first or {"layer": 1, "direction": "forward", "stage": "Z"}
    res.heatmap.update(layer=where["layer"], direction=where["direction"], stage=where["stage"], rel_err=1e-9)
    return res


class _Texts(html.parser.HTMLParser):
    """Text of the <text> elements of each <svg>, in document order."""

    def __init__(self):
        super().__init__()
        self.svgs, self._in = [], False

    def handle_starttag(self, tag, attrs):
        if tag == "svg":
            self.svgs.append([])
        self._in = tag in ("text", "tspan")

    def handle_endtag(self, tag):
        self._in = False

    def handle_data(self, data):
        if self._in and self.svgs and data.strip():
            self.svgs[-1].append(data.strip())


def svg_texts(page):
    p = _Texts()
    p.feed(page)
    return p.svgs


def test_error_plot_lists_every_stage_in_execution_order_and_marks_the_first_divergence():
    keys = canonical_stages(_model())
    first_at = next(i for i, k in enumerate(keys) if k[1] == "backward") + 2
    res = fabricated(first_at=first_at)
    plot = svg_texts(html_report(res))[0]
    labels = [t for t in plot if re.fullmatch(r"\d+ (fwd|bwd) \w+", t)]
    assert labels == [f"{m} {'fwd' if d == 'forward' else 'bwd'} {s}" for m, d, s in keys]
    fd = res.first_divergence
    assert f"first divergence: layer {fd['layer']}, {fd['direction']}, {fd['stage']}" in plot
    assert "tolerance 1e-13" in plot and "0 (exact)" in plot
    assert "within tolerance" in plot and "beyond tolerance" in plot
    # a passing run: no first-divergence mark
    assert not any(t.startswith("first divergence") for t in svg_texts(html_report(fabricated()))[0])


def test_heatmap_is_the_matlab_shape_and_a_vector_is_a_strip():
    res = fabricated(first_at=18)
    page = html_report(res)
    assert "Where the first divergent stage differs" in page
    hm = res.heatmap
    assert (hm["rows"], hm["cols"], hm["block"], hm["vector"]) == (16, 300, [1, 2], False)
    assert np.array(hm["grid"]).shape == (16, 150)
    texts = " ".join(svg_texts(page)[1])
    assert "row (1..16)" in texts and "column (1..300), blocks of 2" in texts
    grid = np.array(hm["grid"])
    assert np.all(grid[0] == 0) and np.all(grid[1:] > 0)        # the equal row is white

    vec = fabricated(first_at=18, vector_heatmap=True)
    hm = vec.heatmap
    assert (hm["rows"], hm["cols"], hm["vector"], hm["shape"]) == (1, 10, True, [10, 1])
    texts = svg_texts(html_report(vec))[1]
    assert "entry (1..10)" in texts
    assert [t for t in texts if t.isdigit()][:10] == [str(k) for k in range(1, 11)]   # every entry labelled


def test_heatmap_grid_reads_python_in_matlab_shape():
    """Python's (64, 288) and MATLAB's (576, 32) of one array: laid out as MATLAB's, column-major."""
    b = np.arange(576 * 32, dtype=float).reshape(576, 32, order="F") + 1
    a = b.reshape(64, 288, order="F").copy()
    a_flat = a.reshape(-1, order="F")
    a_flat[577] += 1.0                       # MATLAB entry (2, 2) in column-major order
    a = a_flat.reshape(64, 288, order="F")
    hm = heatmap_grid(a, b, "double", max_rows=1000, max_cols=1000)
    grid = np.array(hm["grid"])
    assert grid.shape == (576, 32) and hm["shape"] == [576, 32]
    assert np.argwhere(grid > 0).tolist() == [[1, 1]]


@pytest.mark.parametrize("ulp, precision, shown", [
    (9.2e18, "double", "n/a"), (float("inf"), "double", "n/a"), (2.0 ** 52, "double", "n/a"),
    (9007185.0, "double", "9.01e+06"), (37.0, "double", "37"), (2.0 ** 23, "single", "n/a"),
    (2.0 ** 22, "single", "4.19e+06"),
])
def test_max_ulp_shown_only_where_it_means_something(ulp, precision, shown):
    res = fabricated(first_at=18, ulp=ulp, precision=precision)
    row = next(ln for ln in terminal_table(res).splitlines() if re.match(r"\S+\s+bwd\s+dlossdW", ln)
               and "FAIL" in ln)
    assert row.split()[6] == shown, row
    assert f"<td>{shown}</td>" in html_report(res)


@needs_chromium
@pytest.mark.parametrize("case", ["fail", "pass", "vector"])
def test_fabricated_report_in_the_browser(case, tmp_path):
    res = {"fail": lambda: fabricated(first_at=18), "pass": fabricated,
           "vector": lambda: fabricated(first_at=18, vector_heatmap=True)}[case]()
    page = tmp_path / f"fabricated-{case}.html"
    write_html(res, page)
    verdict = r"FAIL: \d+ of \d+ compared stages differ; first divergence at layer" if res.first_divergence \
        else r"PASS: all \d+ compared stages agree"
    check_page(page, tmp_path, verdict, FAIL_RGB if res.first_divergence else PASS_RGB)


# --- real runs -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fault_tree(tmp_path_factory):
    """matlab_ref/seed with W'*delta of conv layer 3's backward pass off by 1e-9 relative."""
    tree = tmp_path_factory.mktemp("fault") / "seed"
    shutil.copytree(REPO / "matlab_ref" / "seed", tree)
    f = tree / "cnn" / "lossgrad_subset.m"
    text = f.read_text()
    line = "\t\t\tV = model.weight{m}'*dXidS;"
    assert line in text
    f.write_text(text.replace(line, "\t\t\tV = model.weight{m}'*dXidS*(1 + 1e-9*(m == 3));"))
    return tree


def simplecnn(*args):
    return subprocess.run([sys.executable, "-m", "simplecnn_cli", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


@needs_octave
def test_compare_report_of_a_backward_fault(fault_tree, tmp_path):
    """The first divergence (layer 3, backward, WtDelta) is marked on the plot and
    is the heatmap's stage, drawn in its MATLAB shape (576 x 1568 for 32 instances)."""
    page = tmp_path / "fault.html"
    proc = simplecnn("compare", "--matlab-dir", fault_tree, "--instances", 32, "--html", page, "--quiet")
    assert proc.returncode == 1, proc.stderr
    assert "first divergence at layer 3, backward, WtDelta" in proc.stdout
    text = page.read_text()
    assert "Where the first divergent stage differs: layer 3, backward, WtDelta" in text
    assert "WtDelta is 576 x 1568 in MATLAB" in text
    plot, heat = svg_texts(text)
    assert "first divergence: layer 3, backward, WtDelta" in plot
    assert "row (1..576), blocks of 12" in heat
    if CHROMIUM:
        check_page(page, tmp_path, r"FAIL: 16 of 45 compared stages differ; first divergence at layer 3, "
                                   r"backward, WtDelta", FAIL_RGB)


@needs_octave
@needs_chromium
def test_compare_train_report_in_the_browser(tmp_path):
    import scipy.io

    (tmp_path / "tiny.config").write_text(TINY_CONFIG)
    g = np.random.default_rng(7)
    y = np.array([4.0, 7.0, 9.0])[g.integers(0, 3, 40)]
    Z = g.standard_normal((40, 7 * 6 * 2))
    scipy.io.savemat(tmp_path / "tiny.mat", {"y": y.reshape(-1, 1), "Z": Z})
    page = tmp_path / "train.html"
    proc = simplecnn("compare-train", "--config", tmp_path / "tiny.config", "--data", tmp_path / "tiny.mat",
                     "--options=-s 1 -iter_max 2 -GNsize 20 -bsize 16", "--seed", 3, "--html", page)
    assert proc.returncode == 0, proc.stderr[-3000:]
    dom, console, _ = load(page, tmp_path, height=900)
    assert console == []
    assert "PASS" in re.sub(r"<[^>]+>", " ", dom) and "<svg" in dom
