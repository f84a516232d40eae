"""Trained models both ways with matlab_ref/current (the real code is the
oracle of test_train_real.py): Python save -> Python load, Python save ->
Octave load (the real code's model struct: net_config, labels, column
sizes; matlab_ref's cnn_predict gives the same predictions as ours), Octave
save -> Python load (same predictions), bad model files refused with one
line naming the file, the file written atomically."""
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from simplecnn_py.cnn_predict import cnn_predict
from simplecnn_py.cnn_train import cnn_train
from simplecnn_py.support.errors import InputError
from simplecnn_py.support.model_file import load_model, save_model

from conftest import needs_octave

CURRENT = Path(__file__).resolve().parents[2] / "matlab_ref" / "current" / "MATLAB"

CONFIG = """\
% tiny non-square net: 2 conv layers (stride 2, pool 1 then pool 2), 2 full layers
L = 4;
LC = 2;
LF = 2;
ht_input = 7;
wd_input = 5;
ch_input = [2,3,4];
wd_pad_added = [1,0];
wd_filter = [3,2];
strides = [2,1];
wd_subimage_pool = [1,2];
full_neurons = [5,3];
"""


@pytest.fixture
def setup(tmp_path):
    cfg = tmp_path / "tiny.config"
    cfg.write_text(CONFIG)
    g = np.random.default_rng(0)
    Z = g.standard_normal((40, 7 * 5 * 2))
    y = g.permutation(np.array([-1.0, 4.0, 9.0])[np.arange(40) % 3])     # labels need not be 1..nL
    return cfg, y, Z


def trained(setup, options="-s 1 -iter_max 3 -GNsize 10", seed=2):
    cfg, y, Z = setup
    model, _ = cnn_train(y, Z, None, None, str(cfg), options, seed)
    return model


def test_round_trip_in_python(setup, tmp_path, capsys):
    cfg, y, Z = setup
    for options in ("-s 1 -iter_max 3 -GNsize 10", "-s 2 -epoch_max 1 -ftype 0 -bsize 10"):
        model = trained(setup, options)
        path = tmp_path / "m.mat"
        save_model(path, model)
        back = load_model(path)
        for name in ("L", "LC", "LF", "nL", "float_type"):
            assert getattr(back, name) == getattr(model, name)
        for name in ("ch_input", "wd_pad_added", "wd_filter", "strides", "wd_subimage_pool", "full_neurons",
                     "ht_input", "wd_input", "ht_pad", "wd_pad", "ht_conv", "wd_conv"):
            assert list(getattr(back, name)) == list(getattr(model, name)), name
        for m in range(1, model.L + 1):
            np.testing.assert_array_equal(back.weight[m], model.weight[m])
            np.testing.assert_array_equal(back.bias[m], model.bias[m])
            assert back.weight[m].dtype == model.weight[m].dtype
        np.testing.assert_array_equal(back.var_ptr, model.var_ptr)
        np.testing.assert_array_equal(back.labels, [-1, 4, 9])
        a, b = cnn_predict(y, Z, model), cnn_predict(y, Z, back)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1] and set(a[0]) <= {-1.0, 4.0, 9.0}


def test_load_a_struct_saved_with_dash_struct(setup, tmp_path, capsys):
    """save('m.mat', '-struct', 'model'): the fields as top-level variables."""
    model = trained(setup)
    save_model(tmp_path / "m.mat", model)
    fields = scipy.io.loadmat(tmp_path / "m.mat", squeeze_me=False)["model"][0, 0]
    scipy.io.savemat(tmp_path / "flat.mat", {k: fields[k] for k in fields.dtype.names})
    back = load_model(tmp_path / "flat.mat")
    np.testing.assert_array_equal(back.weight[3], model.weight[3])


def test_bad_model_files(setup, tmp_path, capsys):
    model = trained(setup)
    save_model(tmp_path / "m.mat", model)
    fields = scipy.io.loadmat(tmp_path / "m.mat", squeeze_me=False)["model"][0, 0]
    good = {k: fields[k] for k in fields.dtype.names}

    def refused(change, words):
        bad = dict(good)
        bad.update(change)
        for k in [k for k, v in change.items() if v is None]:
            del bad[k]
        path = tmp_path / "bad.mat"
        scipy.io.savemat(path, {"model": bad})
        with pytest.raises(InputError) as e:
            load_model(path)
        assert e.value.where == str(path) and words in e.value.what, e.value.what
        assert "\n" not in e.value.what

    refused({"weight": None}, "no field weight")
    refused({"labels": np.array([[1.0, 2.0]])}, "labels has 2 labels for nL = 3")
    W = good["weight"].copy()
    W[2, 0] = np.zeros((4, 4))
    refused({"weight": W}, "weight{3} is 4 x 4")
    refused({"ht_conv": np.array([[9.0, 9.0]])}, "ht_conv")
    refused({"float_type": "half"}, "float_type")
    config = dict((k, fields["net_config"][0, 0][k]) for k in fields["net_config"][0, 0].dtype.names)
    config["ch_input"] = np.array([[2.0, 3.0]])
    refused({"net_config": config}, "ch_input")
    with pytest.raises(InputError):
        load_model(tmp_path / "missing.mat")


# --- Octave --------------------------------------------------------------------

def octave(body, tmp_path):
    exe = shutil.which("octave-cli") or shutil.which("octave")
    script = tmp_path / "h6_run.m"
    out = tmp_path / "out.mat"
    script.write_text("addpath('%s');\nout = struct();\n%s\nsave('-v7', '%s', '-struct', 'out');\n"
                      % (CURRENT, textwrap.dedent(body), out))
    proc = subprocess.run([exe, "--no-gui", "--norc", "--quiet", str(script)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.exists(), f"Octave failed:\n{proc.stdout}\n{proc.stderr}"
    return scipy.io.loadmat(out, squeeze_me=False)


@needs_octave
def test_python_model_loads_in_octave_and_predicts_the_same(setup, tmp_path, capsys, port_path):
    cfg, y, Z = setup
    for options in ("-s 1 -iter_max 3 -GNsize 10", "-s 3 -epoch_max 2 -ftype 0 -bsize 10"):
        model = trained(setup, options)
        save_model(tmp_path / "m.mat", model)
        scipy.io.savemat(tmp_path / "d.mat", {"y": y.reshape(-1, 1), "Z": Z})
        out = octave("""
            load('m.mat');  d = load('d.mat');
            [labels, acc] = cnn_predict(d.y, d.Z, model);
            out.labels = labels;  out.acc = acc;
            out.gpu_is_logical = islogical(model.gpu_use);
            out.float_type = model.float_type;
            out.class_w = class(model.weight{1});
            out.sizes = [size(model.weight), size(model.bias), size(model.var_ptr), size(model.ch_input), size(model.ht_input)];
            out.L = model.L;  out.nL = model.nL;  out.model_labels = model.labels;
            out.nc = [model.net_config.L, model.net_config.LF, model.net_config.nL];
        """, tmp_path)
        labels, acc = cnn_predict(y, Z, model)
        np.testing.assert_array_equal(out["labels"].reshape(-1), labels)
        assert out["acc"][0, 0] == acc
        assert out["gpu_is_logical"][0, 0] == 1
        assert out["float_type"][0] == model.float_type
        assert out["class_w"][0] == model.float_type
        assert out["sizes"][0].tolist() == [4, 1, 4, 1, 5, 1, 3, 1, 3, 1]      # columns, as the real model
        assert out["L"][0, 0] == 4 and out["nL"][0, 0] == 3
        assert out["model_labels"].reshape(-1).tolist() == [-1, 4, 9]
        assert out["nc"][0].tolist() == [4, 2, 3]


@needs_octave
def test_octave_model_loads_in_python_and_predicts_the_same(setup, tmp_path, capsys, port_path):
    cfg, y, Z = setup
    scipy.io.savemat(tmp_path / "d.mat", {"y": y.reshape(-1, 1), "Z": Z})
    out = octave(f"""
        d = load('d.mat');
        model = cnn_train(d.y, d.Z, [], [], '{cfg}', '-s 1 -iter_max 2 -GNsize 10', 3);
        save('-v7', 'octave_model.mat', 'model');
        [labels, acc] = cnn_predict(d.y, d.Z, model);
        out.labels = labels;  out.acc = acc;
    """, tmp_path)
    model = load_model(tmp_path / "octave_model.mat")
    labels, acc = cnn_predict(y, Z, model)
    np.testing.assert_array_equal(labels, out["labels"].reshape(-1))
    assert acc == out["acc"][0, 0]
    np.testing.assert_array_equal(model.labels, [-1, 4, 9])


def test_save_is_atomic(setup, tmp_path, capsys, monkeypatch):
    """A failing write leaves neither the target nor a temporary file."""
    import scipy.io as sio

    model = trained(setup)
    target = tmp_path / "m.mat"
    target.write_bytes(b"old")

    def boom(path, *a, **k):
        open(path, "wb").write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sio, "savemat", boom)
    with pytest.raises(InputError, match="No space left"):
        save_model(target, model)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mat", "tiny.config"]
