"""Where the original itself fails, the port says so (issue 23, item 3).

The real current simpleNN stops in ``cnn/vTP.m`` (``accumarray: dimension
mismatch``) when a pooled conv layer leaves one value per instance (one
channel, 1 x 1) and the gradient is asked for two instances or more
(``simplecnn_py/support/quirks.py`` says why).  Here: configs that meet the
condition and configs that just miss it, run through the real newest code
(extracted from ``../shared/upstream``) and through ``simplecnn gradient``,
``train``, ``predict`` (one warning line; ``--strict``: exit 2) and
``compare`` (the Octave error and why).
"""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
import scipy.io

from conftest import needs_octave, octave_quote

from simplecnn_py.support.conventions import cell, struct
from simplecnn_py.support.quirks import original_vtp_failure


def config(ht=4, wd=4, ch=(1, 1), pad=(0,), filt=(3,), stride=(1,), pool=(2,), full=(3,)):
    LC = len(filt)
    v = lambda xs: "[" + ",".join(str(x) for x in xs) + "]"       # noqa: E731
    return (f"L = {LC + len(full)};\nLC = {LC};\nLF = {len(full)};\nht_input = {ht};\nwd_input = {wd};\n"
            f"ch_input = {v(ch)};\nwd_pad_added = {v(pad)};\nwd_filter = {v(filt)};\nstrides = {v(stride)};\n"
            f"wd_subimage_pool = {v(pool)};\nfull_neurons = {v(full)};\n")


# name -> (config, instances per gradient call, the layer the original stops at or None)
CASES = {
    # meet the condition
    "exact-tiling": (config(), 4, 1),                                       # 2 x 2 pooled by 2: tiles exactly
    "stride-drops": (config(ht=7, wd=7, ch=(2, 1), filt=(2,), stride=(2,)), 4, 1),   # 3 x 3 pooled by 2
    "second-layer": (config(ht=8, wd=8, ch=(1, 2, 1), pad=(1, 0), filt=(3, 3), stride=(1, 1), pool=(2, 2),
                            full=(4, 3)), 4, 2),
    # just miss it
    "two-channels": (config(ch=(1, 2)), 4, None),
    "two-columns": (config(wd=6), 4, None),                                 # pooled to 1 x 2
    "not-pooled": (config(filt=(4,), pool=(1,)), 4, None),                  # 1 x 1 x 1, no pooling
    "one-instance": (config(), 1, None),                                    # a batch of one runs
}


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    d = tmp_path_factory.mktemp("quirk-configs")
    out = {}
    for name, (text, _, _) in CASES.items():
        (d / f"{name}.config").write_text(text)
        out[name] = d / f"{name}.config"
    return out


def _param(path):
    from simplecnn_py.cnn.read_config import read_config

    return read_config(str(path))


@pytest.mark.parametrize("name", CASES)
def test_the_condition_from_the_sizes(name, configs):
    _, batch, layer = CASES[name]
    found = original_vtp_failure(_param(configs[name]), batch)
    assert (found.layer if found else None) == layer


def test_the_condition_reads_a_model_too():
    from simplecnn_py.cnn.init_model import init_model
    from simplecnn_py.support.rng import NoDraws

    p = struct(L=3, LC=1, LF=2, ht_input=10, wd_input=12, ch_input=cell([1, 1]), wd_pad_added=cell([2]),
               wd_filter=cell([2]), strides=cell([3]), wd_subimage_pool=cell([3]), full_neurons=cell([3, 2]),
               nL=2, precision="double")
    found = original_vtp_failure(init_model(p, seed=NoDraws()))
    assert found.layer == 1 and "5 x 5 pooled to 1 x 1" in found.what and "dropped" in found.what


# --- the real code ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def newest(tmp_path_factory):
    from harness_bundle import clone, extract

    base = tmp_path_factory.mktemp("quirk-real")
    return extract(clone(base), "HEAD", base / "newest") / "MATLAB"


DRIVER = """
names = {%s}; cfgs = {%s}; batches = [%s];
for i = 1:numel(cfgs)
  fid = fopen(cfgs{i}); c = struct;
  while true, s = fgetl(fid); if ~ischar(s), break; end; if ~isempty(s), eval(['c.' s]); end; end
  fclose(fid);
  nL = c.full_neurons(c.LF); n = max(4, nL);
  y = mod((0:n-1)', nL); Z = rand(n, c.ch_input(1)*c.ht_input*c.wd_input);
  try
    evalc('cnn_train(y, Z, [], [], cfgs{i}, sprintf(''-s 2 -epoch_max 1 -bsize %%d'', batches(i)), 1);');
    printf('%%s OK\\n', names{i});
  catch err
    printf('%%s ERR %%s:%%d %%s\\n', names{i}, err.stack(2).name, err.stack(2).line, err.message);
  end
end
"""


@needs_octave
def test_the_real_code_fails_exactly_where_the_port_says(newest, configs):
    names = list(CASES)
    code = DRIVER % (", ".join(f"'{n}'" for n in names),
                     ", ".join(f"'{octave_quote(configs[n])}'" for n in names),
                     " ".join(str(CASES[n][1]) for n in names))
    octave = subprocess.run(["octave-cli", "--no-gui", "--quiet", "--no-init-file", "--eval", code],
                            cwd=str(newest), capture_output=True, text=True, timeout=300)
    seen = dict(line.split(" ", 1) for line in octave.stdout.splitlines() if line.split(" ", 1)[0] in CASES)
    assert set(seen) == set(CASES), octave.stdout + octave.stderr[-2000:]
    for name, (_, _, layer) in CASES.items():
        if layer is None:
            assert seen[name] == "OK", (name, seen[name])
        else:
            assert seen[name] == "ERR vTP:42 accumarray: dimension mismatch", (name, seen[name])


# --- the commands -------------------------------------------------------------------------

class _Run:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def _cli(capsys):
    """``simplecnn ARGS`` in this process (no interpreter start-up): its exit
    code and what it wrote (tests/cli/test_no_leaks.py runs real processes)."""
    from simplecnn_cli.main import main

    def run(*args):
        capsys.readouterr()
        rc = main([str(a) for a in args])
        out = capsys.readouterr()
        return _Run(rc, out.out, out.err)
    return run


def _data(path, name, n=6):
    (path.parent / f"{name}.config").write_text(CASES[name][0])
    p = _param(path.parent / f"{name}.config")
    rng = np.random.default_rng(1)
    nL = p.nL
    scipy.io.savemat(path, {"Z": rng.random((n, p.ch_input[1] * p.ht_input * p.wd_input)),
                            "y": (np.arange(n) % nL + 1.0).reshape(-1, 1)})
    return path


def _warnings(stderr):
    return [line for line in stderr.splitlines() if line.startswith("simplecnn: warning:")]


def test_gradient_warns_once_strict_refuses(configs, tmp_path, _cli):
    data, out = _data(tmp_path / "d.mat", "exact-tiling"), tmp_path / "g.mat"
    r = _cli("gradient", "--config", configs["exact-tiling"], "--data", data, "--out", out)
    assert r.returncode == 0 and out.exists(), r.stderr
    assert r.stderr.count("\n") == 1 and len(_warnings(r.stderr)) == 1, r.stderr
    assert r.stderr.startswith("simplecnn: warning: layer 1: 2 x 2 max pooling leaves one value per instance")
    assert "cnn/vTP.m" in r.stderr and "'accumarray: dimension mismatch'" in r.stderr
    assert "mathematically right" in r.stderr
    out.unlink()
    s = _cli("gradient", "--config", configs["exact-tiling"], "--data", data, "--out", out, "--strict")
    assert s.returncode == 2 and not out.exists()
    assert s.stderr.count("\n") == 1 and s.stderr.startswith(f"simplecnn: error: {configs['exact-tiling']}: layer 1")
    # a batch of one runs in the original: nothing to say
    b = _cli("gradient", "--config", configs["exact-tiling"], "--data", data, "--out", out, "--bsize", "1",
             "--strict")
    assert b.returncode == 0 and b.stderr == "", b.stderr


@pytest.mark.parametrize("name", ["two-channels", "two-columns", "not-pooled"])
def test_gradient_says_nothing_when_the_original_runs(name, configs, tmp_path, _cli):
    data, out = _data(tmp_path / "d.mat", name), tmp_path / "g.mat"
    r = _cli("gradient", "--config", configs[name], "--data", data, "--out", out, "--strict")
    assert r.returncode == 0 and r.stderr == "" and out.exists(), r.stderr


def test_train_and_predict_warn_strict_refuses(configs, tmp_path, _cli):
    cfg = configs["second-layer"]
    data, model = _data(tmp_path / "d.mat", "second-layer"), tmp_path / "m.mat"
    train = ["train", "--config", cfg, "--data", data, "--options=-s 2 -epoch_max 1 -bsize 4", "--seed", "1",
             "--quiet", "--model", model]
    r = _cli(*train)
    assert r.returncode == 0 and model.exists(), r.stderr
    warned = _warnings(r.stderr)
    assert len(warned) == 1 and warned[0].startswith("simplecnn: warning: layer 2: ") and "vTP.m" in warned[0]
    p = _cli("predict", "--model", model, "--data", data)
    assert p.returncode == 0 and p.stdout.startswith("accuracy: ")
    assert len(_warnings(p.stderr)) == 1 and "cannot train this network" in p.stderr
    assert "cnn_predict runs on this model" in p.stderr
    ps = _cli("predict", "--model", model, "--data", data, "--strict")
    assert ps.returncode == 2 and ps.stdout == "" and ps.stderr.count("\n") == 1
    other = tmp_path / "m2.mat"
    t = _cli(*train[:-1], other, "--strict")
    assert t.returncode == 2 and not other.exists() and t.stderr.count("\n") == 1
    assert t.stderr.startswith(f"simplecnn: error: {cfg}: layer 2:")
    # SGD on batches of one: the original trains it, nothing is said
    one = _cli("train", "--config", cfg, "--data", data, "--options=-s 2 -epoch_max 1 -bsize 1", "--seed", "1",
               "--quiet", "--strict", "--model", other)
    assert one.returncode == 0 and not _warnings(one.stderr), one.stderr


@needs_octave
def test_compare_says_the_original_fails_and_why(newest, configs, tmp_path, _cli):
    r = _cli("compare", "--matlab-dir", newest, "--config", configs["stride-drops"], "--instances", "4", "--quiet")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert f"Octave error in {newest}/cnn/vTP.m line 42 (vTP): accumarray: dimension mismatch" in r.stderr
    assert "the original simpleNN itself fails on this config: layer 1: 2 x 2 max pooling" in r.stderr
    assert "(rows/columns beyond 2 x 2 dropped)" in r.stderr
    # just missing it: the real code runs and agrees with the port
    ok = _cli("compare", "--matlab-dir", newest, "--config", configs["two-channels"], "--instances", "4", "--quiet")
    assert ok.returncode == 0, ok.stdout + ok.stderr


@needs_octave
def test_compare_train_says_why_the_original_fails(newest, configs, tmp_path, _cli):
    data = _data(tmp_path / "d.mat", "exact-tiling", n=8)
    r = _cli("compare-train", "--matlab-dir", newest, "--config", configs["exact-tiling"], "--data", data,
             "--options=-s 2 -epoch_max 1 -bsize 4", "--seed", "1", "--quiet")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "accumarray: dimension mismatch" in r.stderr and "cnn/vTP.m, line 42" in r.stderr
    assert "the original simpleNN itself fails on this config: layer 1" in r.stderr
