"""simplecnn export / import against the REAL simpleNN code.

Oracle: the real simpleNN repository (../shared/upstream/simpleNN.bundle),
its newest commit (``MATLAB/``, current layout) and ff2333d (the seed
layout), run unmodified under GNU Octave.  Skipped, with the reason, when
../shared, Octave, torch or onnxruntime is absent.

* a model trained by the real current ``cnn_train`` on MNIST (300 images of
  ../shared/data/mnist-demo.mat, 3 Newton iterations), exported to ONNX and
  to a torch.export program: ONNX Runtime and torch alone give the labels of
  the real ``cnn_predict`` on 200 held-out images of mnist-demo.t.mat, and
  scores within 1e-4 relative (float32) of the real ``feedforward``'s;
* a PyTorch module of the same network, trained a little in torch, saved as
  a state_dict and imported: the real ``cnn_predict`` gives the module's
  labels;
* a model of the real seed-layout ``cnn_train`` exports and verifies too.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from conftest import needs_octave
from harness_bundle import real_trees
from simplecnn_cli.main import main
from simplecnn_interop import layouts

torch = pytest.importorskip("torch", reason="the [torch] extra is not installed")
pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")

REPO = Path(__file__).resolve().parents[2]
MNIST = REPO.parent / "shared" / "data"

pytestmark = [needs_octave]


def _octave(cwd, code, timeout=300):
    import shutil

    exe = shutil.which("octave-cli") or shutil.which("octave")
    r = subprocess.run([exe, "--no-gui", "--quiet", "--no-init-file", "--eval", code], cwd=str(cwd),
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The real trees, the config, and MNIST train/test files (column-major, /255, minus the training mean)."""
    if not (MNIST / "mnist-demo.mat").exists():
        pytest.skip(f"{MNIST}/mnist-demo.mat not present")
    from simplecnn_py.support.datafile import rowmajor_to_colmajor

    out = real_trees(tmp_path_factory.mktemp("interop-real"))
    d = out["dir"]
    tr, te = scipy.io.loadmat(MNIST / "mnist-demo.mat"), scipy.io.loadmat(MNIST / "mnist-demo.t.mat")
    Ztr = rowmajor_to_colmajor(tr["Z"][:300].astype(np.float64), 28, 28, 1) / 255
    Zte = rowmajor_to_colmajor(te["Z"][:200].astype(np.float64), 28, 28, 1) / 255
    mean = Ztr.mean(axis=0)
    for name, y, Z in (("train", tr["y"][:300], Ztr - mean), ("test", te["y"][:200], Zte - mean),
                       ("train1", tr["y"][:300] + 1, Ztr - mean), ("test1", te["y"][:200] + 1, Zte - mean)):
        scipy.io.savemat(d / f"{name}.mat", {"y": np.asarray(y, np.float64), "Z": Z})
        out[name] = d / f"{name}.mat"
    return out


@pytest.fixture(scope="module")
def trained(real):
    """The real current cnn_train's model, the real cnn_predict's labels and the real feedforward's scores."""
    d = real["dir"]
    _octave(real["current"], f"""
        S = load('{real["train"]}'); T = load('{real["test"]}');
        model = cnn_train(S.y, S.Z, [], [], '{real["config"]}', '-s 1 -iter_max 3 -GNsize 40', 7);
        save('-v7', '{d}/real-model.mat', 'model');
        labels = cnn_predict(T.y, T.Z, model);
        prob = check_data(T.y, T.Z, model.net_config);
        net = init_net(model, struct('bsize', 200));
        net = feedforward(prob.data, model, net);
        scores = net.Z{{model.L+1}};
        save('-v7', '{d}/real-pred.mat', 'labels', 'scores');""")
    P = scipy.io.loadmat(d / "real-pred.mat")
    return {"model": d / "real-model.mat", "labels": P["labels"].reshape(-1), "scores": P["scores"].T}


def _test_images(real):
    Z = scipy.io.loadmat(real["test"])["Z"]
    return layouts.images_to_nchw(Z, 28, 28, 1).astype(np.float32)


@pytest.mark.parametrize("fmt", ["onnx", "torch"])
def test_real_cnn_train_model_exported_gives_real_cnn_predict_labels(real, trained, fmt, tmp_path, capsys):
    from simplecnn_interop.verify import read_metadata, run_onnx, run_torch

    out = tmp_path / ("m.onnx" if fmt == "onnx" else "m.pt2")
    assert main(["export", "--model", str(trained["model"]), "--format", fmt, "--out", str(out),
                 "--verify", str(real["test"])]) == 0
    printed = capsys.readouterr().out
    assert "labels agree on 200/200" in printed
    meta = read_metadata(out, fmt)
    labels = np.asarray(json.loads(meta["simplecnn.labels"]), dtype=np.float64)
    assert list(labels) == list(range(10))
    assert "full_neurons = [10];" in meta["simplecnn.config"]
    # torch alone / ONNX Runtime alone, in a fresh process: no import of this project
    script = ("import sys, numpy as np\n"
              + ("import onnxruntime as o\ns = o.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
                 "out = s.run(None, {'images': np.load(sys.argv[2])})[0]\n" if fmt == "onnx" else
                 "import torch\nm = torch.export.load(sys.argv[1]).module()\n"
                 "out = m(torch.from_numpy(np.load(sys.argv[2]))).detach().numpy()\n")
              + "np.save(sys.argv[3], out)\n")
    np.save(tmp_path / "x.npy", _test_images(real))
    subprocess.run([__import__("sys").executable, "-I", "-c", script, str(out), str(tmp_path / "x.npy"),
                    str(tmp_path / "s.npy")], check=True, cwd=tmp_path)
    scores = np.load(tmp_path / "s.npy").astype(np.float64)
    assert scores.dtype == np.float64 and scores.shape == (200, 10)
    assert np.array_equal(labels[np.argmax(scores, axis=1)], trained["labels"])
    ref = trained["scores"]
    rel = np.linalg.norm(scores - ref) / np.linalg.norm(ref)
    assert rel < 1e-4 and np.max(np.abs(scores - ref)) < 1e-4 * np.max(np.abs(ref))
    assert len(set(trained["labels"])) > 3                       # a model that tells digits apart
    # the in-process runners agree with the fresh process
    run = run_onnx if fmt == "onnx" else run_torch
    assert np.array_equal(run(out, _test_images(real)).astype(np.float64), scores)


def _torch_module(seed=0):
    """The small config's network, written in torch as a PyTorch user would."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(8 * 7 * 7, 10))
    return net


def test_imported_state_dict_predicts_in_real_cnn_predict_as_torch(real, tmp_path, capsys):
    S, T = scipy.io.loadmat(real["train"]), scipy.io.loadmat(real["test1"])
    X = torch.from_numpy(layouts.images_to_nchw(S["Z"], 28, 28, 1).astype(np.float32))
    y = torch.from_numpy(S["y"].reshape(-1).astype(np.int64))
    net = _torch_module()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(40):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        torch_labels = net(torch.from_numpy(layouts.images_to_nchw(T["Z"], 28, 28, 1).astype(np.float32))).argmax(1)
    torch_labels = torch_labels.numpy() + 1                      # labels 1..10 (test1: y + 1)
    assert len(set(torch_labels)) > 3
    torch.save(net.state_dict(), tmp_path / "sd.pt")
    model = tmp_path / "imported.mat"
    assert main(["import", "--torch", str(tmp_path / "sd.pt"), "--config", str(real["config"]),
                 "--out", str(model)]) == 0
    assert "float_type single" in capsys.readouterr().out
    _octave(real["current"], f"""
        load('{model}'); T = load('{real["test1"]}');
        labels = cnn_predict(T.y, T.Z, model);
        save('-v7', '{tmp_path}/pred.mat', 'labels');""")
    real_labels = scipy.io.loadmat(tmp_path / "pred.mat")["labels"].reshape(-1)
    assert np.array_equal(real_labels, torch_labels)


def test_real_seed_layout_model_exports_and_verifies(real, tmp_path, capsys):
    d = real["dir"]
    _octave(real["seed"], f"""
        S = load('{real["train1"]}');
        model = cnn_train(S.y(1:100), S.Z(1:100, :), '{real["config"]}', '-s 1 -iter_max 1', 3);
        save('-v7', '{d}/seed-model.mat', 'model');""", timeout=600)
    out = tmp_path / "seed.onnx"
    assert main(["export", "--model", str(d / "seed-model.mat"), "--format", "onnx", "--out", str(out),
                 "--verify", str(real["test1"])]) == 0
    printed = capsys.readouterr().out
    assert "seed-layout" in printed and "labels agree on 200/200" in printed
