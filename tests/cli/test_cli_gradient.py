"""``simplecnn gradient``: its contract (README, "simplecnn gradient").

Oracles: central differences of the command's own loss along a random
direction (the gradient it writes must predict the change), the port's
lossgrad_subset called directly, Octave loading the output as is, and for bad
input the one-line message / exit code 2 of a real subprocess.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from simplecnn_cli.demo import demo_path
from simplecnn_cli.main import main
from simplecnn_py.support.conventions import cell
from simplecnn_py.support.datafile import save_data, save_weights
from simplecnn_py.cnn.read_config import read_config, weight_shapes

from conftest import needs_octave
from test_port_common import rel

REPO = Path(__file__).resolve().parents[2]

CONFIG = """\
% small: 7 x 6 x 2 inputs, two conv layers (stride 2 and pooling 2), two full layers
L = 4;
LC = 2;
ht_input = 7;
wd_input = 6;
ch_input = [2,3,4];
wd_pad_added = [1,0];
wd_filter = [3,2];
strides = [2,1];
wd_subimage_pool = [1,2];
full_neurons = [5,3];
"""


@pytest.fixture()
def case(tmp_path):
    """A config, a data file (l = 9, labels 4/7/8) and a weights file."""
    cfg = tmp_path / "small.config"
    cfg.write_text(CONFIG)
    param = read_config(cfg)
    rng = np.random.default_rng(7)
    y = np.array([4, 7, 8, 4, 7, 8, 8, 7, 4.0])
    Z = rng.standard_normal((9, 7 * 6 * 2))
    save_data(tmp_path / "data.mat", y, Z)
    weight = [rng.standard_normal(s) * 0.7 for s in weight_shapes(param)]
    bias = [rng.standard_normal((s[0], 1)) * 0.3 for s in weight_shapes(param)]
    save_weights(tmp_path / "w.mat", cell(weight), cell(bias))
    return dict(dir=tmp_path, cfg=str(cfg), data=str(tmp_path / "data.mat"), w=str(tmp_path / "w.mat"),
                param=param, weight=weight, bias=bias, y=y, Z=Z)


def run_gradient(case, *extra, out="out.mat", weights=True):
    out = str(case["dir"] / out)
    argv = ["gradient", "--config", case["cfg"], "--data", case["data"], "--out", out, *extra]
    if weights:
        argv += ["--weights", case["w"]]
    assert main(argv) == 0
    return scipy.io.loadmat(out)


def test_output_layout(case, capsys):
    g = run_gradient(case)
    assert set(k for k in g if not k.startswith("__")) == {"loss", "dlossdW", "dlossdb"}
    assert g["loss"].shape == (1, 1) and g["loss"].dtype == np.float64
    assert g["dlossdW"].shape == (4, 1) and g["dlossdb"].shape == (4, 1)
    for m, (r, c) in enumerate(weight_shapes(case["param"])):
        assert g["dlossdW"][m, 0].shape == (r, c) and g["dlossdb"][m, 0].shape == (r, 1)
    assert "l = 9" in capsys.readouterr().out


def test_gradient_predicts_the_loss_change(case):
    """Central differences of the command's loss along a random direction E:
    (loss(W + tE) - loss(W - tE)) / 2t = <dlossdW, E_W> + <dlossdb, E_b>."""
    g = run_gradient(case)
    rng = np.random.default_rng(8)
    EW = [rng.standard_normal(W.shape) for W in case["weight"]]
    Eb = [rng.standard_normal(b.shape) for b in case["bias"]]
    predicted = sum(np.sum(g["dlossdW"][m, 0] * EW[m]) + np.sum(g["dlossdb"][m, 0] * Eb[m]) for m in range(4))
    t = 1e-5
    losses = []
    for sign in (1, -1):
        save_weights(case["dir"] / "wt.mat", cell([W + sign * t * E for W, E in zip(case["weight"], EW)]),
                     cell([b + sign * t * E for b, E in zip(case["bias"], Eb)]))
        out = str(case["dir"] / "ot.mat")
        assert main(["gradient", "--config", case["cfg"], "--data", case["data"], "--weights",
                     str(case["dir"] / "wt.mat"), "--out", out]) == 0
        losses.append(scipy.io.loadmat(out)["loss"][0, 0])
    fd = (losses[0] - losses[1]) / (2 * t)
    assert abs(fd - predicted) <= 1e-6 * max(1.0, abs(predicted)), (fd, predicted)
    assert abs(predicted) > 1e-3  # a direction the loss actually depends on


def test_equals_one_lossgrad_subset_call(case):
    """The written numbers are lossgrad_subset's over 1:l (and chunks sum to the same)."""
    from simplecnn_py.cnn.check_data import check_data
    from simplecnn_py.support.conventions import struct
    from simplecnn_py.cnn.init_model import init_model
    from simplecnn_py.cnn.init_net import init_net
    from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset

    param = case["param"]
    model = init_model(param, seed=0)
    model.weight, model.bias = cell(case["weight"]), cell(case["bias"])
    prob = check_data(struct(y=case["y"], Z=case["Z"]), param)
    net, loss = lossgrad_subset(prob, param, model, init_net(param, model), np.arange(1, 10), "fungrad")
    for extra in ((), ("--bsize", "4")):
        g = run_gradient(case, *extra)
        assert np.isclose(g["loss"][0, 0], loss, rtol=1e-14, atol=0)
        for m in range(1, 5):
            assert np.allclose(g["dlossdW"][m - 1, 0], net.dlossdW[m], rtol=1e-13, atol=1e-13 * abs(loss))
            assert np.allclose(g["dlossdb"][m - 1, 0], net.dlossdb[m], rtol=1e-13, atol=1e-13 * abs(loss))


def test_seed_without_weights(case):
    a = run_gradient(case, "--seed", "3", out="a.mat", weights=False)
    b = run_gradient(case, "--seed", "3", out="b.mat", weights=False)
    c = run_gradient(case, "--seed", "4", out="c.mat", weights=False)
    assert a["loss"][0, 0] == b["loss"][0, 0] != c["loss"][0, 0]


def test_weights_replace_the_initialisation(case):
    """With --weights the He draws are skipped (rng.NoDraws): the seed plays no part,
    and the model's shapes and fields are init_model's."""
    from simplecnn_py.cnn.init_model import init_model
    from simplecnn_py.support.rng import NoDraws

    a = run_gradient(case, "--seed", "3", out="a.mat")
    b = run_gradient(case, "--seed", "4", out="b.mat")
    assert a["loss"][0, 0] == b["loss"][0, 0]
    assert all(np.array_equal(a["dlossdW"][m, 0], b["dlossdW"][m, 0]) for m in range(4))
    drawn, zeros = init_model(case["param"], seed=0), init_model(case["param"], seed=NoDraws())
    for m in range(1, 5):
        assert zeros.weight[m].shape == drawn.weight[m].shape and not zeros.weight[m].any()
        assert np.array_equal(zeros.bias[m], drawn.bias[m])
    assert np.array_equal(zeros.var_ptr, drawn.var_ptr)
    with pytest.raises(TypeError):
        NoDraws().randperm(3)


def test_single_precision_end_to_end(case):
    d = run_gradient(case, out="d.mat")
    s = run_gradient(case, "--precision", "single", out="s.mat")
    assert s["loss"].dtype == np.float32
    for m in range(4):
        assert s["dlossdW"][m, 0].dtype == np.float32 and s["dlossdb"][m, 0].dtype == np.float32
        err = np.linalg.norm(s["dlossdW"][m, 0] - d["dlossdW"][m, 0]) / np.linalg.norm(d["dlossdW"][m, 0])
        assert err < 1e-4
    assert abs(s["loss"][0, 0] - d["loss"][0, 0]) <= 1e-5 * d["loss"][0, 0]


def test_rowmajor_file_gives_the_same_gradient(case):
    """The same images stored row-major (as the shipped MNIST files) with --rowmajor."""
    a, b, d = 7, 6, 2
    Zrow = case["Z"].reshape(9, d, b, a).transpose(0, 1, 3, 2).reshape(9, -1)  # each channel image transposed
    save_data(case["dir"] / "row.mat", case["y"], Zrow)
    col = run_gradient(case, out="col.mat")
    case = dict(case, data=str(case["dir"] / "row.mat"))
    row = run_gradient(case, "--rowmajor", out="row_out.mat")
    plain = run_gradient(case, out="plain_out.mat")
    assert row["loss"][0, 0] == col["loss"][0, 0] != plain["loss"][0, 0]


def test_demo_files_run(tmp_path):
    out = tmp_path / "demo.mat"
    assert main(["gradient", "--config", str(demo_path("demo.config")), "--data",
                 str(demo_path("demo-data.t.mat")), "--out", str(out)]) == 0
    g = scipy.io.loadmat(out)
    assert g["dlossdW"][0, 0].shape == (16, 25) and g["dlossdW"][3, 0].shape == (10, 288)


def test_demo_data_is_reproducible():
    """The bundled demo data equal what make_demo_data generates."""
    from simplecnn_cli.demo.make_demo_data import FILES, make

    for name, (l, a, b, seed) in FILES.items():
        y, Z = make(l, a, b, seed)
        raw = scipy.io.loadmat(demo_path(name))
        assert np.array_equal(raw["y"].ravel(), y) and np.array_equal(raw["Z"], Z), name
        assert sorted(set(y)) == list(range(10))


@needs_octave
def test_output_loads_in_octave(case):
    run_gradient(case, out="d.mat")
    run_gradient(case, "--precision", "single", out="s.mat")
    script = ""
    for name in ("d", "s"):
        script += (f"g = load('{case['dir'] / (name + '.mat')}'); "
                   "fprintf('%d %d %d %d %s %s %s ', iscell(g.dlossdW), iscell(g.dlossdb), size(g.dlossdW), "
                   "class(g.loss), class(g.dlossdW{1}), class(g.dlossdb{4})); "
                   "for m = 1:4, fprintf('%dx%d/%dx%d ', size(g.dlossdW{m}), size(g.dlossdb{m})); end; fprintf('\\n');")
    out = subprocess.run(["octave-cli", "--no-gui", "--quiet", "--eval", script], capture_output=True,
                         text=True, timeout=120).stdout.splitlines()
    shapes = " ".join(f"{r}x{c}/{r}x1" for r, c in weight_shapes(case["param"]))
    assert out == [f"1 1 4 1 double double double {shapes} ", f"1 1 4 1 single single single {shapes} "]


# --- bad input: one line, exit 2, no traceback (real subprocesses) ---------------

def _cli(*argv):
    env = dict(os.environ, PYTHONWARNINGS="default")
    return subprocess.run([sys.executable, "-m", "simplecnn_cli", *argv], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=env)


def _config_with(case, key, line):
    text = "\n".join(line if ln.split("=")[0].strip() == key else ln for ln in CONFIG.splitlines()) + "\n"
    p = case["dir"] / f"bad_{key}.config"
    p.write_text(text)
    return str(p)


def _bad_cases(case):
    d = case["dir"]
    Z, y = case["Z"], case["y"]
    save_data(d / "wide.mat", y, np.hstack([Z, Z[:, :1]]))
    Zn = Z.copy()
    Zn[3, 5] = np.nan
    save_data(d / "nan.mat", y, Zn)
    save_data(d / "labels.mat", np.arange(9.0), Z)
    (d / "notmat.mat").write_text("y = [1;2;3];\n")
    save_weights(d / "badw.mat", cell(case["weight"][:2] + [case["weight"][2].T, case["weight"][3]]),
                 cell(case["bias"]))
    cfg, data = case["cfg"], case["data"]
    missing = d / "missing.config"
    missing.write_text(CONFIG.replace("wd_filter = [3,2];\n", ""))
    return [
        # (argv, where, words in the message)
        ((str(missing), data), str(missing), "missing key wd_filter"),
        ((_config_with(case, "ch_input", "ch_input = [2,3];"), data), None, "key ch_input (line 6): 2 entries, LC+1 = 3 needed"),
        ((_config_with(case, "wd_filter", "wd_filter = [3,5];"), data), None, "layer 2: filter width 5"),
        ((_config_with(case, "strides", "strides = [2,x];"), data), None, "line 9: strides = '[2,x]' is not a number"),
        ((_config_with(case, "L", "L = system('touch pwned');"), data), None, "is not a number or a [...] vector"),
        ((str(d / "nope.config"), data), str(d / "nope.config"), "no such file"),
        ((cfg, str(d / "wide.mat")), str(d / "wide.mat"), "Z has 85 columns; the config's 7 x 6 x 2 images need 84"),
        ((cfg, str(d / "nan.mat")), str(d / "nan.mat"), "Z has 1 NaN/Inf entries (first Z(4,6) = nan)"),
        ((cfg, str(d / "labels.mat")), str(d / "labels.mat"), "y has 9 distinct labels"),
        ((cfg, str(d / "nope.mat")), str(d / "nope.mat"), "no such file"),
        ((cfg, str(d / "notmat.mat")), str(d / "notmat.mat"), "not a MAT file"),
        ((cfg, data, "--weights", str(d / "badw.mat")), str(d / "badw.mat"),
         "layer 3 (full): weight{3} is 4 x 5; the config needs 5 x 4"),
        ((cfg, data, "--out", str(d / "no" / "such" / "o.mat")), "--out",
         f"cannot write {d / 'no' / 'such' / 'o.mat'}: folder {d / 'no' / 'such'} does not exist"),
        ((cfg, data, "--bsize", "0"), "--bsize", "must be a positive number"),
    ]


def test_bad_input_one_line_exit_2(case):
    for args, where, words in _bad_cases(case):
        cfg, data, *rest = args
        argv = ["gradient", "--config", cfg, "--data", data, *rest]
        if "--out" not in rest:
            argv += ["--out", str(case["dir"] / "never.mat")]
        r = _cli(*argv)
        where = where or cfg
        assert r.returncode == 2, (argv, r.stderr)
        assert r.stdout == "", r.stdout
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert lines[0].startswith(f"simplecnn: error: {where}: "), lines[0]
        assert words in lines[0], lines[0]
        assert not (case["dir"] / "never.mat").exists()
    assert not (REPO / "pwned").exists()


def test_missing_option_and_unknown_key_warning(case):
    r = _cli("gradient", "--config", case["cfg"], "--data", case["data"])
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "--out" in r.stderr
    cfg = case["dir"] / "extra.config"
    cfg.write_text(CONFIG + "bsize = 4;\n")
    r = _cli("gradient", "--config", str(cfg), "--data", case["data"], "--out", str(case["dir"] / "o.mat"))
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [f"simplecnn: warning: {cfg}: line 12: unknown key bsize kept as param.bsize"]


MATLAB_REF = REPO / "matlab_ref" / "seed"


@needs_octave
@pytest.mark.skipif(not (MATLAB_REF / "cnn" / "lossgrad_subset.m").exists(), reason="matlab_ref/seed not present")
@pytest.mark.parametrize("config", ["small", "demo"])
def test_parity_with_matlab_ref_under_octave(case, config, port_path):
    """The command's OUT.mat equals matlab_ref's lossgrad_subset over 1:l, run
    under Octave on the same config, data and weights (normwise <= 1e-13)."""
    d = case["dir"]
    if config == "demo":
        cfg = str(demo_path("demo.config"))
        param = read_config(cfg)
        raw = scipy.io.loadmat(demo_path("demo-data.t.mat"))
        y, Z = raw["y"].ravel()[:40] + 1, raw["Z"][:40]   # the seed layout wants labels 1..nL
        rng = np.random.default_rng(9)
        save_weights(d / "wd.mat", cell([rng.standard_normal(s) * np.sqrt(2 / s[1]) for s in weight_shapes(param)]),
                     cell([rng.standard_normal((s[0], 1)) * 0.1 for s in weight_shapes(param)]))
        weights = str(d / "wd.mat")
    else:
        cfg, y, Z, weights = case["cfg"], np.array([1, 2, 3, 1, 2, 3, 3, 2, 1.0]), case["Z"], case["w"]
    save_data(d / "p.mat", y, Z)
    assert main(["gradient", "--config", cfg, "--data", str(d / "p.mat"), "--weights", weights,
                 "--out", str(d / "py.mat")]) == 0
    script = (f"addpath('{MATLAB_REF / 'cnn'}'); addpath('{MATLAB_REF / 'opt'}'); "
              f"param = read_config('{cfg}'); model = init_model(param); W = load('{weights}'); "
              "model.weight = W.weight; model.bias = W.bias; "
              f"D = load('{d / 'p.mat'}'); prob = struct('y', D.y, 'Z', D.Z); prob = check_data(prob, param); "
              "net = init_net(param, model); "
              "[net, loss] = lossgrad_subset(prob, param, model, net, 1:prob.l, 'fungrad'); "
              "dlossdW = net.dlossdW; dlossdb = net.dlossdb; "
              f"save('-v7', '{d / 'oct.mat'}', 'loss', 'dlossdW', 'dlossdb');")
    r = subprocess.run(["octave-cli", "--no-gui", "--quiet", "--eval", script], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    py, oc = scipy.io.loadmat(d / "py.mat"), scipy.io.loadmat(d / "oct.mat")

    assert rel(py["loss"], oc["loss"]) <= 1e-13
    L = oc["dlossdW"].shape[0]
    for m in range(L):
        assert py["dlossdW"][m, 0].shape == oc["dlossdW"][m, 0].shape
        assert rel(py["dlossdW"][m, 0], oc["dlossdW"][m, 0]) <= 1e-13, m + 1
        assert rel(py["dlossdb"][m, 0], oc["dlossdb"][m, 0]) <= 1e-13, m + 1
