"""The benchmarks (simplecnn_bench; ``simplecnn bench``, scripts/bench.py,
scripts/bench_newton.py) run and compare the same work; no timing is
asserted.  Also: the wording of the ratios, a GEMM bound
the pass cannot beat, no silent random data, every label in a small prefix,
and the real current simpleNN code driven through its own function lines.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simplecnn_py.cnn.init_model import init_model

from conftest import needs_octave
from simplecnn_bench.common import run_process_rss
from test_port_common import make_param

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO.parent / "shared" / "upstream" / "simpleNN.bundle"
CURRENT = "96954c719ebbbd9f31f203f21f8174a1942f0679"     # the newest upstream commit ("updated vgg")


def extract_upstream(rev, dest):
    """The upstream tree at ``rev`` (from ../shared/upstream's bundle) in dest; skip when absent."""
    if not BUNDLE.exists():
        pytest.skip("../shared/upstream/simpleNN.bundle not present")
    clone = dest.parent / (dest.name + "-git")
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(BUNDLE), str(clone)], check=True)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(clone), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest
TINY = ("L = 3;\nLC = 2;\nLF = 1;\nht_input = 9;\nwd_input = 8;\nch_input = [2,3,4];\n"
        "wd_pad_added = [1,0];\nwd_filter = [3,2];\nstrides = [1,2];\nwd_subimage_pool = [2,1];\n"
        "full_neurons = [3];\n")


def test_bench_command_smoke(tmp_path, capsys):
    """``simplecnn bench`` on a tiny config: a table and a JSON file with the
    measurements; the GEMM bound counts the port's products' flops."""
    import json

    from simplecnn_bench.gemm import gemm_products
    from simplecnn_cli.main import main

    cfg = tmp_path / "tiny.config"
    cfg.write_text("L = 3;\nLC = 2;\nLF = 1;\nht_input = 9;\nwd_input = 8;\nch_input = [2,3,4];\n"
                   "wd_pad_added = [1,0];\nwd_filter = [3,2];\nstrides = [1,2];\nwd_subimage_pool = [2,1];\n"
                   "full_neurons = [3];\n")
    out = tmp_path / "bench.json"
    rc = main(["bench", "--config", str(cfg), "--instances", "5", "--precision", "double", "--repeats", "1",
               "--skip", "octave,torch,newton,gradient,compare", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "lossgrad_subset (fast path)" in text and "GEMM bound" in text
    doc = json.loads(out.read_text())
    (block,) = doc["blocks"]
    rows = {r["item"]: r for r in block["rows"]}
    assert {"ours", "reference", "minibatch", "memory", "gemm", "gemm_batch", "gemm_square"} <= set(rows)
    assert rows["memory"]["peak"] > 0 and rows["memory"]["kept"] > 0
    param = make_param(ht=9, wd=8, ch=[2, 3, 4], pad=[1, 0], filt=[3, 2], stride=[1, 2], pool=[2, 1], full=[3])
    model = init_model(param)
    # conv1: W 3x18, phiZ 18 x (9*8 positions * 5): forward and dW (no W'*Delta for m = 1);
    # conv2 (2x2 filter, stride 2 on the 4x4 pooled input): W 4x12, 12 x (2*2*5): three products;
    # full: W 3x16, 5 instances: three products
    flops = sum(2 * M * K * N for _, M, K, N in gemm_products(model, 5))
    assert flops == 2 * (2 * 3 * 18 * 360) + 3 * (2 * 4 * 12 * 20) + 3 * (2 * 3 * 16 * 5)
    assert rows["gemm"]["flops"] == flops and rows["gemm"]["seconds"] > 0
    assert main(["bench", "--skip", "nothing"]) == 2


# --- the Newton-iteration benchmark (simplecnn_bench/newton.py) ---------------------------

def _load_script():
    import importlib.util

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("bench_newton_script", REPO / "scripts" / "bench_newton.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@needs_octave
def test_bench_newton_does_the_same_work_on_both_sides(tmp_path, capsys, port_path):
    """simplecnn_bench/newton.py (tiny run, the MNIST shape): both sides
    run one Newton iteration on the same weights, data and subset, so #CG and
    f agree; the per-part times add up to the total.  (Speed is not asserted.)"""
    import json

    from simplecnn_bench import newton as bench_newton

    script = _load_script()                  # scripts/bench_newton.py is a thin wrapper of the module
    assert script.measure is bench_newton.measure and script.main is bench_newton.main
    rows = bench_newton.measure(instances=(40,), jacobian=(1, 0), repeats=1, timeout=300)
    assert len(rows) == 2
    for r in rows:
        py, oc = r["python"], r["octave"]
        assert "error" not in oc, oc
        assert py["port_path"] == port_path.name
        assert r["same_work"]["cg_equal"] and r["same_work"]["f_rel_err"] <= 1e-9, r["same_work"]
        assert py["GNsize"] == 2 and py["cg"] >= 1 and py["funonly_passes"] >= 1
        for side in (py, oc):
            assert abs(sum(side["parts"].values()) - side["seconds"]) <= 1e-9 + 1e-6 * side["seconds"]
            assert side["parts"]["fungrad"] > 0 and side["parts"]["CG"] > 0 and side["parts"]["funonly"] > 0
    assert rows[0]["octave"]["parts"]["Jacobian"] > 0 and rows[1]["octave"]["parts"]["Jacobian"] == 0
    bench_newton.print_table(rows)
    out = capsys.readouterr().out
    assert "ratio" in out and "#CG equal" in out
    json.dumps(rows)                                           # what --json writes


@needs_octave
def test_bench_newton_any_config_and_data_file(tmp_path, capsys):
    """Not only MNIST: a non-square two-channel config and a column-major data
    file with labels 4/7/9, through scripts/bench_newton.py's command line and
    through ``simplecnn bench``'s Newton rows (the same code): both sides do
    the same work (#CG equal, f to 1e-9) on the file's instances."""
    import json

    from conftest import TINY_CONFIG
    from simplecnn_cli.main import main
    from simplecnn_py.support.datafile import save_data

    cfg, data = tmp_path / "tiny.config", tmp_path / "tiny.mat"
    cfg.write_text(TINY_CONFIG)
    g = np.random.default_rng(3)
    y = np.array([4.0, 7.0, 9.0])[g.integers(0, 3, 30)]
    save_data(data, y, g.standard_normal((30, 7 * 6 * 2)))
    out = tmp_path / "newton.json"
    assert _load_script().main(["--config", str(cfg), "--data", str(data), "--instances", "30", "--jacobian", "1",
                                "--repeats", "1", "--timeout", "300", "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["instances"] == 30 and row["data"].startswith("tiny.mat (first 30")
    assert "error" not in row["octave"], row["octave"]
    assert row["same_work"]["cg_equal"] and row["same_work"]["f_rel_err"] <= 1e-9, row["same_work"]
    assert "#CG equal" in capsys.readouterr().out

    out = tmp_path / "bench.json"
    assert main(["bench", "--config", str(cfg), "--data", str(data), "--instances", "30", "--precision", "double",
                 "--repeats", "1", "--skip", "reference,minibatch,memory,gradient,octave,torch,gemm,compare",
                 "--json", str(out)]) == 0
    rows = {r["item"]: r for r in json.loads(out.read_text())["blocks"][0]["rows"]}
    ours, octave = rows["newton"], rows["newton_octave"]
    assert "error" not in octave, octave
    for r in (ours, octave):
        assert {"what", "seconds", "times", "cg", "f", "parts"} <= set(r)
    assert ours["GNsize"] == 30 and ours["cg"] == octave["cg"] >= 1
    assert octave["rel_err_vs_ours"] <= 1e-9
    assert "Newton iteration, ours (30 instances, GNsize 30" in capsys.readouterr().out


def test_speed_words_never_say_faster_below_one():
    from simplecnn_bench.table import speed

    assert speed(5.6) == "5.60x faster"
    assert speed(0.9) == "1.11x slower"
    assert speed(None) == "-"


def test_bound_share_never_above_100_percent():
    """The products' share of our time is at most 100%; a run in which the
    bound came out slower than the pass says it is noise."""
    from simplecnn_bench.table import _bound_words, summary

    rows = [{"item": "ours", "seconds": 1.0}, {"item": "gemm", "seconds": 4.85}]
    s = summary(rows)
    assert s["gemm_share_of_ours"] == 1.0 and s["ours_over_gemm_bound"] < 1
    assert "noise" in _bound_words(s) and "485" not in _bound_words(s)
    s = summary([{"item": "ours", "seconds": 1.0}, {"item": "gemm", "seconds": 0.7}])
    assert s["ours_over_gemm_bound"] == pytest.approx(1 / 0.7) and s["gemm_share_of_ours"] == pytest.approx(0.7)
    assert "noise" not in _bound_words(s)


def test_products_pass_is_a_bound_of_the_fused_pass():
    """The products-only pass does the fused pass's products at their chunk
    shapes (flops of the whole batch) and nothing else: on the MNIST shape
    it takes less time than the pass itself (min of 3 each, alternated)."""
    import time

    from simplecnn_bench.gemm import products_pass
    from simplecnn_py import fast
    from simplecnn_py.cnn.init_net import init_net
    from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
    from test_port_common import MNIST_SHAPE, make_prob

    param = make_param(**MNIST_SHAPE)
    model = init_model(param, seed=0)
    prob = make_prob(model, 64)
    bound = products_pass(model, 64, np.float64)

    def call():
        lossgrad_subset(prob, param, model, init_net(param, model), np.arange(1, 65), "fungrad")

    times = {"pass": [], "bound": []}
    with fast.use_reference(False):
        for _ in range(4):
            for key, fn in (("pass", call), ("bound", bound)):
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
    assert min(times["bound"][1:]) < 1.5 * min(times["pass"][1:]), times    # loose: a shared machine


def test_small_prefix_holds_every_label_of_the_file(tmp_path):
    """--instances 32 on a file whose first 32 miss a label: the first
    instance of each label comes first (labels of the whole file)."""
    from simplecnn_bench.data import bench_data
    from simplecnn_py.support.datafile import save_data

    cfg = tmp_path / "tiny.config"
    cfg.write_text(TINY)
    y = np.array([1.0] * 40 + [2.0] * 3 + [3.0] * 5)
    data = tmp_path / "d.mat"
    save_data(data, y, np.random.default_rng(0).standard_normal((48, 9 * 8 * 2)))
    yy, Z, desc = bench_data(cfg, data, need=32, smallest=32)
    assert yy.shape == (32,) and Z.shape == (32, 144) and set(yy) == {1.0, 2.0, 3.0}
    assert desc.startswith("d.mat (first 32")


def test_random_data_is_said_loudly(tmp_path, capsys):
    from simplecnn_bench.data import bench_data

    cfg = tmp_path / "tiny.config"
    cfg.write_text(TINY)
    y, Z, desc = bench_data(cfg, None, need=8)
    assert "RANDOM" in desc and "WARNING" in capsys.readouterr().err


def test_mnist_shape_without_shared_data_uses_the_shipped_demo(tmp_path, monkeypatch, capsys):
    from simplecnn_bench import data

    monkeypatch.setattr(data, "SHARED_DATA", tmp_path / "absent.mat")
    cfg = tmp_path / "mnist.config"
    cfg.write_text(data.DEFAULT_CONFIG)
    y, Z, desc = data.bench_data(cfg, None, need=20, smallest=20)
    assert desc.startswith("demo-data.mat") and len(set(y)) == 10 and Z.shape == (20, 784)
    assert "WARNING" not in capsys.readouterr().err


def test_bench_on_mnist_with_32_instances(capsys):
    """A regression: ``bench --instances 32`` on MNIST failed (a label missing
    from the first 32)."""
    from simplecnn_cli.main import main

    rc = main(["bench", "--instances", "32", "--precision", "double", "--repeats", "1",
               "--skip", "reference,minibatch,memory,gradient,octave,torch,newton,compare"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "ours/bound" in out and "faster than" not in out.replace("faster than the reference", "")


@pytest.mark.parametrize("line, call", [
    ("function net = init_net(param, model)", "init_net(param, model)"),
    ("function net = init_net(model, param)", "init_net(model, param)"),
    ("function [net, loss] = lossgrad_subset(prob, model, net, batch_idx, task)",
     "lossgrad_subset(prob, model, net, batch_idx, 'fungrad')"),
    ("function [net, loss] = lossgrad_subset(prob, param, model, net, batch_idx, task)",
     "lossgrad_subset(prob, param, model, net, batch_idx, 'fungrad')"),
])
def test_octave_calls_follow_the_trees_function_lines(tmp_path, line, call):
    from simplecnn_bench.octave import call_from_function_line

    f = tmp_path / "x.m"
    f.write_text("% a comment\n" + line + "\nend\n")
    assert call_from_function_line(f) == call


def test_octave_call_refuses_an_unknown_argument(tmp_path):
    from simplecnn_bench.octave import call_from_function_line

    f = tmp_path / "init_net.m"
    f.write_text("function net = init_net(model, opts)\n")
    with pytest.raises(ValueError, match="argument opts"):
        call_from_function_line(f)


@needs_octave
def test_bench_drives_the_real_current_simplenn(tmp_path, capsys):
    """``simplecnn bench --matlab-dir`` on the real current simpleNN tree
    (extracted from ../shared/upstream): the driver calls its init_net(model,
    param) and lossgrad_subset(prob, model, net, batch_idx, task), and its
    gradient agrees with ours."""
    from simplecnn_cli.main import main

    tree = extract_upstream(CURRENT, tmp_path / "current")

    out = tmp_path / "b.json"
    rc = main(["bench", "--matlab-dir", str(tree), "--instances", "24", "--precision", "double", "--repeats", "1",
               "--skip", "reference,minibatch,memory,gradient,torch,newton,gemm", "--json", str(out)])
    assert rc == 0
    rows = {r["item"]: r for r in json.loads(out.read_text())["blocks"][0]["rows"]}
    oc = rows["octave"]
    assert "error" not in oc, oc
    assert oc["calls"] == ["net = init_net(model, param)", "[net, loss] = lossgrad_subset(prob, model, net, batch_idx, 'fungrad')"]
    assert oc["rel_err_vs_ours"] <= 1e-12
    # the compare row: a whole simplecnn compare on the same tree and inputs, its
    # process tree's memory (Octave's included) and its time over the bare runs
    cmp = rows["compare"]
    assert "error" not in cmp, cmp
    assert cmp["verdict"] == "PASS"
    assert cmp["peak"] > oc["peak"]               # Python and Octave summed, above Octave alone
    assert cmp["over_bare"] > 1 and cmp["bare_seconds"] == pytest.approx(rows["ours"]["seconds"] + oc["seconds"])
    text = capsys.readouterr().out
    assert "Octave/ours" in text and "the bare runs" in text


@needs_octave
def test_bench_drives_a_tree_only_the_harness_adapters_call(tmp_path, capsys):
    """A version whose init_net takes (model, bsize) (47ca777, Jan 2020): the
    bench's own driver has nothing named bsize, so the row is timed through
    the harness's per-signature adapters (any tree compare drives), not
    refused."""
    from simplecnn_cli.main import main

    tree = extract_upstream("47ca777", tmp_path / "old")
    out = tmp_path / "b.json"
    rc = main(["bench", "--matlab-dir", str(tree), "--instances", "24", "--precision", "double", "--repeats", "1",
               "--skip", "reference,minibatch,memory,gradient,torch,newton,gemm,compare", "--json", str(out)])
    assert rc == 0
    oc = {r["item"]: r for r in json.loads(out.read_text())["blocks"][0]["rows"]}["octave"]
    assert "error" not in oc, oc
    assert "harness adapter" in oc["what"] and oc["seconds"] > 0


def test_bench_script_is_the_command(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "bench.py"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--matlab-dir" in r.stdout


def test_unwritable_json_is_refused_before_the_run(tmp_path, capsys):
    from simplecnn_cli.main import main

    assert main(["bench", "--json", str(tmp_path / "no" / "b.json"), "--instances", "32"]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "bench: double" not in err


def test_tree_memory_counts_the_processes_below(tmp_path):
    """The compare row's memory is the process tree's: a parent that only waits
    for a child holding 300 MiB peaks at 300 MiB or more, though its own
    resident set stays small."""
    from simplecnn_bench.compare_row import run_tree_rss

    child = "x = bytearray(300 * 2**20); import time; time.sleep(1.0)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    wall, peak, rc, _, _ = run_tree_rss([sys.executable, "-c", parent], timeout=60)
    assert rc == 0 and peak >= 300 * 2**20
    wall, own, rc, _, _ = run_process_rss([sys.executable, "-c", parent], timeout=60)
    assert own < 100 * 2**20                       # the parent alone: interpreter only
