"""``simplecnn export`` and ``simplecnn import``, without Octave.

Models of ``simplecnn train`` on the shipped demo files: both formats with
``--verify``, float64, the metadata, a row-major + normalised model (the
graph takes raw upright images), export -> import round trips (torch.export
program, TorchScript), a verify that finds differing labels (exit 1), and
bad input: one line, exit 2, no file left behind (not a model, unwritable
output, a config that does not fit, a missing extra).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from simplecnn_cli.main import main
from simplecnn_interop import layouts

torch = pytest.importorskip("torch", reason="the [torch] extra is not installed")
pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "simplecnn_cli" / "demo"
CFG = DEMO / "demo-nonsquare.config"              # 20 x 28 x 1 -> 8 -> 16 channels, 10 classes
DATA = DEMO / "demo-nonsquare.mat"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("interop-cli")
    for name, flags in (("plain", []), ("rownorm", ["--rowmajor", "--normalize"])):
        assert main(["train", "--config", str(CFG), "--data", str(DATA), "--options=-s 2 -epoch_max 2 -bsize 16",
                     "--seed", "2", "--model", str(d / f"{name}.mat"), "--quiet", *flags]) == 0
    return d


def _export(model, fmt, out, *more):
    return main(["export", "--model", str(model), "--format", fmt, "--out", str(out), *more])


def _one_error_line(capsys, *words):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("simplecnn: error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.mark.parametrize("fmt,precision", [("onnx", "single"), ("onnx", "double"), ("torch", "single")])
def test_export_verify_both_formats(models, tmp_path, capsys, fmt, precision):
    from simplecnn_interop.verify import read_metadata

    out = tmp_path / f"m.{fmt}"
    assert _export(models / "plain.mat", fmt, out, "--precision", precision, "--verify", str(DATA)) == 0
    printed = capsys.readouterr().out
    assert "labels agree on 64/64" in printed
    diff = float(printed.split("largest score difference ")[1].split()[0])
    assert diff < (1e-12 if precision == "double" else 1e-5)
    meta = read_metadata(out, fmt)
    if precision == "double":
        assert "Pad + Gather + MatMul" in printed and "no float64 Conv" in printed
        assert "no float64 Conv" in meta["simplecnn.graph"]
    assert json.loads(meta["simplecnn.labels"]) == list(range(10))
    assert "ht_input = 20;" in meta["simplecnn.config"] and "wd_input = 28;" in meta["simplecnn.config"]
    assert "column-major" in meta["simplecnn.input_layout"] and meta["simplecnn.normalisation"].startswith("none")
    assert meta["simplecnn.precision"] == ("float64" if precision == "double" else "float32")
    from simplecnn_interop.verify import run_onnx, run_torch

    one = np.zeros((1, 1, 20, 28))                                 # the batch size is free: one image
    assert (run_onnx if fmt == "onnx" else run_torch)(out, one).shape == (1, 10)


def test_rowmajor_normalised_model_takes_raw_upright_images(models, tmp_path, capsys):
    """A model of ``simplecnn train --rowmajor --normalize``: the output and
    the metadata say so, and the graph fed the file's raw rows reshaped
    (N, C, H, W) predicts what ``simplecnn predict`` predicts."""
    from simplecnn_interop.verify import read_metadata, run_onnx

    out = tmp_path / "rn.onnx"
    assert _export(models / "rownorm.mat", "onnx", out, "--verify", str(DATA)) == 0
    printed = capsys.readouterr().out
    assert "row-major" in printed and "built in" in printed and "labels agree on 64/64" in printed
    meta = read_metadata(out, "onnx")
    assert "Z.reshape(N, 1, 20, 28)" in meta["simplecnn.input_layout"]
    assert "raw pixel values" in meta["simplecnn.normalisation"]
    assert main(["predict", "--model", str(models / "rownorm.mat"), "--data", str(DATA),
                 "--out", str(tmp_path / "p.mat")]) == 0
    want = scipy.io.loadmat(tmp_path / "p.mat")["labels"].reshape(-1)
    Z = scipy.io.loadmat(DATA)["Z"]
    scores = run_onnx(out, np.asarray(Z, np.float32).reshape(-1, 1, 20, 28))
    assert np.array_equal(np.argmax(scores, axis=1).astype(float), want)        # labels 0..9


def test_verify_exits_1_when_a_label_differs(models, tmp_path, capsys, monkeypatch):
    real = layouts.full_weight_to_torch
    monkeypatch.setattr(layouts, "full_weight_to_torch", lambda W, d, a, b: real(W, d, a, b)[:, ::-1].copy())
    assert _export(models / "plain.mat", "onnx", tmp_path / "bad.onnx", "--verify", str(DATA)) == 1
    assert "FAIL:" in capsys.readouterr().out


def test_torch_program_imports_back_to_the_same_model(models, tmp_path, capsys):
    from simplecnn_py.support.model_file import load_model

    pt2 = tmp_path / "m.pt2"
    assert _export(models / "plain.mat", "torch", pt2, "--precision", "double") == 0
    assert main(["import", "--torch", str(pt2), "--config", str(CFG), "--out", str(tmp_path / "back.mat")]) == 0
    assert "float_type double" in capsys.readouterr().out
    a, b = load_model(models / "plain.mat"), load_model(tmp_path / "back.mat")
    for m in range(1, a.L + 1):
        assert np.array_equal(a.weight[m], b.weight[m]) and np.array_equal(a.bias[m], b.bias[m])
    assert np.array_equal(a.labels, b.labels)                     # from the program's metadata


@pytest.mark.filterwarnings("ignore::DeprecationWarning")            # torch.jit is deprecated, still read
def test_torchscript_and_state_dict_import_alike(models, tmp_path):
    from simplecnn_interop.torch_net import build_module
    from simplecnn_py.support.model_file import load_model

    model = load_model(models / "plain.mat")
    module = build_module(layouts.torch_layers(model), (1, 20, 28))
    torch.jit.save(torch.jit.trace(module, torch.zeros(2, 1, 20, 28)), str(tmp_path / "ts.pt"))
    torch.save(module.state_dict(), tmp_path / "sd.pt")
    got = []
    for name in ("ts.pt", "sd.pt"):
        assert main(["import", "--torch", str(tmp_path / name), "--config", str(CFG), "--labels", "0,1,2,3,4,5,6,7,8,9",
                     "--out", str(tmp_path / f"{name}.mat")]) == 0
        got.append(load_model(tmp_path / f"{name}.mat"))
    for m in range(1, model.L + 1):
        assert got[0].weight[m].dtype == np.float32
        assert np.array_equal(got[0].weight[m], got[1].weight[m])
        assert np.array_equal(got[0].weight[m], model.weight[m].astype(np.float32))
    assert list(got[1].labels) == list(range(10))


# --- bad input: one line, exit 2, nothing written -------------------------------------------

def test_export_bad_inputs(models, tmp_path, capsys):
    out = tmp_path / "x.onnx"
    assert _export(DATA, "onnx", out) == 2                              # a data file, not a model
    _one_error_line(capsys, "not a simpleNN model")
    assert _export(models / "plain.mat", "onnx", tmp_path / "no" / "x.onnx") == 2
    _one_error_line(capsys, "cannot write")
    assert _export(models / "plain.mat", "torch", tmp_path) == 2          # a directory
    _one_error_line(capsys, "is a directory")
    assert _export(models / "plain.mat", "onnx", out, "--verify", str(DEMO / "demo-data.mat")) == 2
    _one_error_line(capsys, "demo-data.mat")                            # 28 x 28 images for a 20 x 28 model
    assert list(tmp_path.iterdir()) == []                               # no file, no temporary left
    broken = tmp_path.parent / f"{tmp_path.name}-broken.mat"             # weights that do not fit its config
    S = scipy.io.loadmat(models / "plain.mat")
    S["model"][0, 0]["weight"][1, 0] = S["model"][0, 0]["weight"][1, 0][:, :-1]
    scipy.io.savemat(broken, {"model": S["model"]})
    assert _export(broken, "torch", out) == 2
    _one_error_line(capsys, "weight{2} is 16 x 71", "16 x 72")
    assert list(tmp_path.iterdir()) == []


def test_import_bad_inputs(models, tmp_path, capsys):
    out = tmp_path / "m.mat"
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.Conv2d(4, 16, 3, padding=1),
                              torch.nn.Linear(1680, 10))
    torch.save(net.state_dict(), tmp_path / "wrong.pt")
    args = ["--config", str(CFG), "--out", str(out)]
    assert main(["import", "--torch", str(tmp_path / "wrong.pt"), *args]) == 2
    _one_error_line(capsys, "layer 2 ('1.weight') is 16 x 4 x 3 x 3", "needs 16 x 8 x 3 x 3")
    short = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1))
    torch.save(short.state_dict(), tmp_path / "short.pt")
    assert main(["import", "--torch", str(tmp_path / "short.pt"), *args]) == 2
    _one_error_line(capsys, "1 layers, the config has L = 3: no layer 2")
    assert main(["import", "--torch", str(DATA), *args]) == 2              # a MAT file
    _one_error_line(capsys, "not a PyTorch state_dict")
    torch.save(torch.nn.Linear(2, 2), tmp_path / "whole.pt")                # a module pickled whole
    assert main(["import", "--torch", str(tmp_path / "whole.pt"), *args]) == 2
    _one_error_line(capsys, "save module.state_dict()")
    assert main(["import", "--torch", str(tmp_path / "wrong.pt"), "--config", str(DATA), "--out", str(out)]) == 2
    _one_error_line(capsys)
    assert main(["import", "--torch", str(tmp_path / "sd.pt"), *args]) == 2
    _one_error_line(capsys, "no such file")
    assert not out.exists()


def test_a_missing_extra_is_one_line(models, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)                   # import torch -> ImportError
    assert _export(models / "plain.mat", "onnx", tmp_path / "ok.onnx", "--verify", str(DATA)) == 0   # no torch needed
    (tmp_path / "ok.onnx").unlink()
    capsys.readouterr()
    assert _export(models / "plain.mat", "torch", tmp_path / "x.pt2") == 2
    _one_error_line(capsys, "[torch]", "pip install")
    assert main(["import", "--torch", str(tmp_path / "x.pt"), "--config", str(CFG), "--out", str(tmp_path / "m.mat")]) == 2
    _one_error_line(capsys, "[torch]")
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert _export(models / "plain.mat", "onnx", tmp_path / "x.onnx") == 2
    _one_error_line(capsys, "[onnx]")
    assert list(tmp_path.iterdir()) == []


def test_console_command_prints_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "simplecnn_cli", "export", "--model", str(DATA), "--format", "onnx",
                        "--out", str(tmp_path / "x.onnx")], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("simplecnn: error: ") and "Traceback" not in r.stderr
