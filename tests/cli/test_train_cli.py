"""`simplecnn train` and `simplecnn predict` end to end: the original's
progress lines on standard output, a model file that predict (and cnn_predict)
reads back, one-line errors with exit 2, and a short training on the shipped
MNIST demo files that learns something."""
import re
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from simplecnn_cli.main import main
from simplecnn_py.cnn_predict import cnn_predict
from simplecnn_py.support.datafile import save_data
from simplecnn_py.support.model_file import load_model

CONFIG = """\
L = 3;
LC = 1;
LF = 2;
ht_input = 6;
wd_input = 5;
ch_input = [2,3];
wd_pad_added = [1];
wd_filter = [3];
strides = [1];
wd_subimage_pool = [2];
full_neurons = [4,3];
"""

MNIST_SMALL = """\
% a small 28 x 28 net for a quick check on the shipped MNIST files
L = 2;
LC = 1;
LF = 1;
ht_input = 28;
wd_input = 28;
ch_input = [1,8];
wd_pad_added = [0];
wd_filter = [5];
strides = [2];
wd_subimage_pool = [2];
full_neurons = [10];
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "c.config").write_text(CONFIG)
    g = np.random.default_rng(1)
    for name, l in (("train.mat", 30), ("test.mat", 12)):
        save_data(tmp_path / name, g.permutation(np.array([2.0, 5.0, 7.0])[np.arange(l) % 3]),
                  g.standard_normal((l, 60)))
    return tmp_path


def test_train_then_predict(files, capsys):
    t = files
    rc = main(["train", "--config", str(t / "c.config"), "--data", str(t / "train.mat"),
               "--validation", str(t / "test.mat"), "--options=-s 1 -iter_max 3 -GNsize 10",
               "--seed", "4", "--model", str(t / "m.mat"), "--json", str(t / "r.json"), "--html", str(t / "r.html")])
    out, err = capsys.readouterr()
    assert rc == 0
    lines = out.strip().splitlines()
    assert re.fullmatch(r"initial f: \S+", lines[0])
    assert [re.match(r"(\d+)-iter f: .* val_acc: \S+$", x).group(1) for x in lines[1:4]] == ["1", "2", "3"]
    assert re.fullmatch(r"total_#CG: \d+", lines[4]) and len(lines) == 5
    assert "wrote" in err
    import json
    rec = json.loads((t / "r.json").read_text())
    assert rec["value"] == "f" and len(rec["values"]) == 3 and len(rec["val_acc"]) == 3
    assert rec["lines"] == lines
    page = (t / "r.html").read_text()
    assert "<svg" in page and "val_acc" in page and "http" not in page.split("<svg", 1)[0]
    best = max(rec["val_acc"])

    rc = main(["predict", "--model", str(t / "m.mat"), "--data", str(t / "test.mat"), "--out", str(t / "p.mat")])
    out, _ = capsys.readouterr()
    assert rc == 0
    acc = float(re.fullmatch(r"accuracy: (\S+) \(\d+/12 correct\)\n", out).group(1))
    assert acc == pytest.approx(best, rel=1e-14)      # the saved model is the best-validation one
    p = scipy.io.loadmat(t / "p.mat")
    d = scipy.io.loadmat(t / "test.mat")
    labels, acc2 = cnn_predict(d["y"], d["Z"], load_model(t / "m.mat"))
    np.testing.assert_array_equal(p["labels"].reshape(-1), labels)
    assert p["accuracy"][0, 0] == acc2 == pytest.approx(acc, rel=1e-14)


def test_sgd_and_adam_print_epochs(files, capsys):
    t = files
    for s in ("2", "3"):
        rc = main(["train", "--config", str(t / "c.config"), "--data", str(t / "train.mat"),
                   f"--options=-s {s} -epoch_max 2 -bsize 8", "--model", str(t / "m.mat")])
        out, _ = capsys.readouterr()
        assert rc == 0
        assert [re.fullmatch(r"(\d+)-epoch loss/batch_size: \S+", x).group(1)
                for x in out.strip().splitlines()] == ["1", "2"]


@pytest.mark.parametrize("args, words", [
    (["--options", "-s 1 -C"], "simplecnn: error: options: each option is a name and a value"),
    (["--options", "-bogus 1"], "simplecnn: error: options: -bogus is not a supported option"),
    (["--options", "-seed 1"], "simplecnn: error: options: -seed is not an option of cnn_train"),
    (["--seed", "-1"], "simplecnn: error: --seed: must be an integer"),
    (["--options", "-gpu_use 1"], "simplecnn: error: options: -gpu_use 1"),
    (["--data", "nowhere.mat"], "simplecnn: error: nowhere.mat"),
    (["--model", "/no/such/folder/m.mat"], "simplecnn: error: --model: cannot write /no/such/folder/m.mat: "
                                         "folder /no/such/folder does not exist"),
])
def test_train_errors_are_one_line(files, capsys, args, words, monkeypatch):
    t = files
    monkeypatch.chdir(t)
    base = {"--config": str(t / "c.config"), "--data": str(t / "train.mat"), "--model": str(t / "m.mat")}
    extra = dict(zip(args[0::2], args[1::2]))
    argv = ["train"] + [f"{k}={v}" for k, v in {**base, **extra}.items()]
    rc = main(argv)
    _, err = capsys.readouterr()
    assert rc == 2
    assert err.startswith(words) and err.count("\n") == 1, err
    assert not (t / "m.mat").exists()


def test_predict_errors_are_one_line(files, capsys):
    t = files
    (t / "junk.mat").write_bytes(b"not a mat file at all")
    rc = main(["predict", "--model", str(t / "junk.mat"), "--data", str(t / "test.mat")])
    _, err = capsys.readouterr()
    assert rc == 2 and err.startswith(f"simplecnn: error: {t / 'junk.mat'}") and err.count("\n") == 1


def test_options_string_through_the_console_command(files):
    """`--options '-s 2 ...'` reaches cnn_train through a real shell-like argv."""
    t = files
    proc = subprocess.run([sys.executable, "-m", "simplecnn_cli", "train", "--config", str(t / "c.config"),
                           "--data", str(t / "train.mat"), "--options=-s 2 -epoch_max 1 -bsize 10",
                           "--model", str(t / "m.mat")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("1-epoch loss/batch_size: ")
    assert proc.stderr.count("\n") == 1           # not a terminal: no progress bar


def test_nan_f_stops_training_without_a_model(files, capsys):
    t = files
    d = scipy.io.loadmat(t / "train.mat")
    scipy.io.savemat(t / "huge.mat", {"y": d["y"], "Z": d["Z"] * 1e200})
    rc = main(["train", "--config", str(t / "c.config"), "--data", str(t / "huge.mat"),
               "--options=-s 2 -epoch_max 3 -bsize 10", "--model", str(t / "m.mat")])
    _, err = capsys.readouterr()
    assert rc == 2 and "--normalize" in err and "no model written" in err and err.count("\n") == 1
    assert "Warning" not in err
    assert not (t / "m.mat").exists()


def test_predict_uses_and_checks_the_models_image_layout(files, capsys):
    t = files
    assert main(["train", "--config", str(t / "c.config"), "--data", str(t / "train.mat"), "--rowmajor",
                 "--options=-s 2 -epoch_max 1 -bsize 10", "--seed", "1", "--model", str(t / "m.mat")]) == 0
    capsys.readouterr()
    assert load_model(t / "m.mat").input_rowmajor is True
    assert main(["predict", "--model", str(t / "m.mat"), "--data", str(t / "test.mat")]) == 0
    a = capsys.readouterr().out
    assert main(["predict", "--model", str(t / "m.mat"), "--data", str(t / "test.mat"), "--rowmajor"]) == 0
    assert capsys.readouterr().out == a
    assert main(["predict", "--model", str(t / "m.mat"), "--data", str(t / "test.mat"), "--colmajor"]) == 2
    err = capsys.readouterr().err
    assert "trained on row-major" in err and err.count("\n") == 1


def test_mnist_demo_learns(shared_data, tmp_path, capsys):
    (tmp_path / "mnist.config").write_text(MNIST_SMALL)
    rc = main(["train", "--config", str(tmp_path / "mnist.config"), "--data", str(shared_data / "mnist-demo.mat"),
               "--validation", str(shared_data / "mnist-demo.t.mat"), "--rowmajor", "--normalize",
               "--options=-s 1 -iter_max 4", "--seed", "1", "--model", str(tmp_path / "m.mat")])
    out, _ = capsys.readouterr()
    assert rc == 0
    accuracy = max(float(x.split()[-1]) for x in out.strip().splitlines()[1:-1])
    assert accuracy > 0.7, out
    model = load_model(tmp_path / "m.mat")
    assert model.input_mean.shape == (1, 784) and model.input_scale == 255
    rc = main(["predict", "--model", str(tmp_path / "m.mat"), "--data", str(shared_data / "mnist-demo.t.mat")])
    out, _ = capsys.readouterr()
    assert rc == 0 and float(out.split()[1]) == accuracy
