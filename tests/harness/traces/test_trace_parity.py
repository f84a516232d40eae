"""The parity cases whose MATLAB side never changes, judged against traces.

Each case below used to run Octave once per port path (``port_path``: the
fast paths and the reference lines), the same MATLAB side both times.  Now
the MATLAB side is recorded once per test session (``simplecnn record``,
live Octave, on first use) and each port path is judged against the trace
with ``simplecnn compare --trace`` (no Octave): the verdicts are the live
ones (tests/harness/traces/test_trace_record.py, test_trace_real.py prove it), and the
Octave time goes to what must be live (tests/test_harness_*.py: errors,
timeouts, faults, the history).  Nothing derived from ../shared is kept:
traces live in the session's temporary folder.
"""
from __future__ import annotations

import html.parser
import json
import shutil

import pytest

from simplecnn_cli.main import main
from tests.conftest import CURRENT, LAYER3, NONSQUARE, SEED, TINY_CURRENT, needs_octave

pytestmark = needs_octave


def _copy(base, dest, rel, old, new):
    shutil.copytree(base, dest)
    f = dest / rel
    assert old in f.read_text(), f"{old!r} not in {rel}"
    f.write_text(f.read_text().replace(old, new))
    return dest


@pytest.fixture(scope="session")
def traces(tmp_path_factory):
    """``traces(name, *record_args)``: the trace of a case, recorded on first use."""
    base = tmp_path_factory.mktemp("parity-traces")
    made = {}

    def get(name, *args):
        if name not in made:
            out = base / f"{name}.mat"
            rc = main(["record", "--quiet", *map(str, args), "--out", str(out)])
            assert rc == 0, f"recording {name} failed"
            made[name] = out
        return made[name]

    get.base = base
    yield get
    # the MNIST-shaped traces are hundreds of MiB: not left in pytest's kept temporary folders
    shutil.rmtree(base, ignore_errors=True)


def compare(capsys, trace, *args):
    rc = main(["compare", "--quiet", "--trace", str(trace), *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_default_compare(capsys, tmp_path, traces, port_path):
    j, h = tmp_path / "c.json", tmp_path / "c.html"
    rc, out, err = compare(capsys, traces("default"), "--json", j, "--html", h)
    assert rc == 0, out + err
    assert "PASS" in out
    d = json.loads(j.read_text())
    port_path.reported(d["port_path"])
    assert d["pass"] is True and d["layout"] == "seed" and d["first_divergence"] is None
    assert d["instances"] == 64
    L, LC = 4, 3
    compared = {(s["layer"], s["direction"]) for s in d["stages"] if s["ok"] is not None}
    assert {(m, "backward") for m in range(1, L + 1)} <= compared
    assert {(m, "forward") for m in range(1, LC + 1)} <= compared
    for s in d["stages"]:
        if s["ok"] is not None and s["stage"] not in ("idx_pad", "idx_phiZ", "idx_pool"):
            assert s["rel_err"] <= 1e-13
    page = h.read_text()
    html.parser.HTMLParser().feed(page)
    # a pass: the error plot, and no heatmap of rounding noise (said instead)
    assert page.count("<svg") == 1 and "://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "what differs is rounding, so no map of it is drawn" in page


def test_current_layout_single_precision(capsys, tmp_path, traces, port_path):
    j = tmp_path / "c.json"
    trace = traces("current-single", "--matlab-dir", CURRENT, "--config", TINY_CURRENT, "--instances", 12,
                   "--precision", "single")
    rc, out, err = compare(capsys, trace, "--json", j)
    assert rc == 0, out + err
    d = json.loads(j.read_text())
    port_path.reported(d["port_path"])
    assert d["layout"] == "current" and d["precision"] == "single" and d["rtol"] == 1e-4
    idx_pad = [s for s in d["stages"] if s["stage"] == "idx_pad"]
    assert idx_pad and all(s["ok"] is None and "idx_pad" in s["note"] for s in idx_pad)
    assert any(s["stage"] == "unpad" and s["ok"] for s in d["stages"])   # found by size in JTv


def test_single_precision_mnist_shape(capsys, tmp_path, traces, port_path):
    j = tmp_path / "c.json"
    rc, out, err = compare(capsys, traces("single-16", "--instances", 16, "--precision", "single"), "--json", j)
    assert rc == 0, out + err
    d = json.loads(j.read_text())
    port_path.reported(d["port_path"])
    assert all(s["rel_err"] <= 1e-4 for s in d["stages"] if s["ok"] and s["rel_err"] is not None)
    assert any(s["rel_err"] and s["rel_err"] > 0 for s in d["stages"])   # single really differs a little


def test_isolated_mode_localises_the_defect(capsys, tmp_path, traces, port_path):
    rc, out, err = compare(capsys, traces("nonsquare-5", "--config", NONSQUARE, "--instances", 5),
                           "--mode", "isolated")
    assert rc == 0, out + err
    bad = traces.base / "defect-tree"
    if not bad.exists():
        _copy(SEED, bad, "cnn/init_net.m", "find_index_phiZ(model.ht_pad(m), model.wd_pad(m),",
              "find_index_phiZ(model.wd_pad(m), model.ht_pad(m),")
    j = tmp_path / "iso.json"
    trace = traces("defect-5", "--matlab-dir", bad, "--config", NONSQUARE, "--instances", 5)
    rc, out, err = compare(capsys, trace, "--mode", "isolated", "--json", j)
    assert rc == 1
    d = json.loads(j.read_text())
    port_path.reported(d["port_path"])
    failing = {(s["layer"], s["direction"], s["stage"]) for s in d["stages"] if s["ok"] is False}
    # in isolation only the stages that use the wrong idx_phiZ differ
    assert failing == {(1, "forward", "idx_phiZ"), (1, "forward", "phiZ"), (2, "forward", "idx_phiZ"),
                       (2, "forward", "phiZ"), (2, "backward", "phi_gradient")}


def test_tie_rule_pooling_flips_are_a_divergence(capsys, tmp_path, traces, port_path):
    """A maxpooling that lets the last maximal entry win: in windows of ReLU
    zeros the values are exactly equal on both sides, so the other winner is
    a tie-rule difference: a divergence of idx_pool, not a near-tie."""
    flip = traces.base / "lastmax-tree"
    if not flip.exists():
        _copy(SEED, flip, "cnn/maxpooling.m", "[Zout, I] = max(reshape(Z, h*h, []), [], 1);",
              "[Zout, I] = max(flipud(reshape(Z, h*h, [])), [], 1);\nI = h*h + 1 - I;")
    j = tmp_path / "f.json"
    rc, out, err = compare(capsys, traces("lastmax", "--matlab-dir", flip, "--config", LAYER3, "--instances", 10),
                           "--json", j)
    assert rc == 1, out + err
    d = json.loads(j.read_text())
    port_path.reported(d["port_path"])
    assert d["first_divergence"] == {"layer": 1, "direction": "forward", "stage": "idx_pool"}
    flips = d["pooling_flips"]
    assert flips["1"]["count"] > 0 and flips["1"]["tie_rule"] == flips["1"]["count"] and flips["1"]["near_ties"] == 0
    assert any("tie-rule" in s["note"] for s in d["stages"] if s["stage"] == "idx_pool")
    # a pooling that takes the minimum is a real divergence
    wrong = traces.base / "min-tree"
    if not wrong.exists():
        _copy(SEED, wrong, "cnn/maxpooling.m", "[Zout, I] = max(reshape(Z, h*h, []), [], 1);",
              "[Zout, I] = min(reshape(Z, h*h, []), [], 1);")
    rc, out, err = compare(capsys, traces("min", "--matlab-dir", wrong, "--config", LAYER3, "--instances", 10),
                           "--json", j)
    assert rc == 1
    assert json.loads(j.read_text())["first_divergence"] == {"layer": 1, "direction": "forward", "stage": "Z"}


def test_mnist_demo_data(capsys, tmp_path, traces, shared_data, port_path):
    j = tmp_path / "m.json"
    data = shared_data / "mnist-demo.mat"
    trace = traces("mnist-demo-64", "--data", data, "--instances", 64)
    rc, out, err = compare(capsys, trace, "--data", data, "--json", j)
    assert rc == 0, out + err
    d = json.loads(j.read_text())
    port_path.reported(d["port_path"])
    assert d["instances"] == 64 and d["pass"]
