"""``compare --python torch:FILE.py:NAME``: a PyTorch network against MATLAB.

Without Octave: the network's stages have the port's keys and shapes and
agree with the port's values (the port is the oracle there).  With Octave:
each MATLAB tree is recorded once into a trace (matlab_ref's seed layout on
a non-square net, and the real current simpleNN from ../shared/upstream),
and every network is judged against the trace offline: the right networks
(Sequential, functional, padding by F.pad) PASS with forward and backward
stages of every layer compared; each classic slip FAILs at the layer where
it acts, in the forward direction, with the slip named; networks that cannot
be the config's are refused before any run.  One live run checks the
command end to end (exit codes, the JSON's fields are today's).
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import NONSQUARE, REPO, needs_octave
from torch_nets import CRASH, SLIPS, expected_layer, network_file

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'simplecnn_py[torch]')")

from simplecnn_harness.compare import Options, prepare, python_side, run_compare  # noqa: E402
from simplecnn_harness.sources.matlab_pair import size_guide  # noqa: E402
from simplecnn_harness.sources.python_side import python_source  # noqa: E402
from simplecnn_py.support.errors import EnvironmentProblem, InputError  # noqa: E402

CURRENT_REV = "bc40417"


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nets")
    inputs = prepare(Options(config=str(NONSQUARE), instances=16))
    return network_file(inputs[1], folder), inputs


# --- no Octave: the port is the oracle ------------------------------------------------------

@pytest.mark.parametrize("name", ["sequential", "functional", "pads_itself"])
def test_stages_have_the_ports_keys_shapes_and_values(nets, name):
    path, inputs = nets
    param, model, prob = inputs[:3]
    _, loss_port, P = python_side(param, model, prob)
    src = python_source(f"torch:{path}:{name}", None, Options())
    src.check(inputs)
    with src.run(inputs, None) as run:
        assert set(run.stages) == set(P)
        exposed = {k: s.value for k, s in run.stages.items() if s.value is not None}
        assert {k[2] for k in set(P) - set(exposed)} == {"idx_pad", "idx_phiZ", "idx_pool"}
        for key, value in exposed.items():
            assert np.shape(value) == np.shape(P[key]), key
            err = np.linalg.norm(value - P[key]) / max(np.linalg.norm(P[key]), 1e-300)
            assert err < 1e-13, (key, err)
        assert abs(run.loss - float(loss_port)) <= 1e-12 * abs(float(loss_port))


def test_size_guide_is_the_ports_shapes(nets):
    param, model, prob = nets[1][:3]
    _, _, P = python_side(param, model, prob)
    guide = size_guide(param, model, int(prob.l))
    assert set(guide) == set(P)
    assert all(guide[k].shape == np.shape(P[k]) for k in P)


@pytest.mark.parametrize("name,says", [
    ("wrong_channels", "layer 1 (Conv2d '0') has 5 output channels, the config's layer 1 has 3"),
    ("no_bias", "layer 2 (Conv2d '2') has no bias"),
    ("kernel", "layer 1 (Conv2d '0') has kernel size (5, 5)"),
    ("conv_stride", "layer 1 (Conv2d '0') has stride (1, 1), the config's strides is 2"),
    ("output_width", "layer 4 (Linear '8') has 10 outputs, the output width of the config is 3"),
    ("too_few_convs", "layer 2 (Linear '3') is where the config has a convolutional layer"),
])
def test_networks_that_cannot_be_the_configs_are_refused(nets, tmp_path, name, says):
    f = tmp_path / "bad.py"
    f.write_text(BAD)
    src = python_source(f"torch:{f}:{name}", None, Options())
    with pytest.raises(InputError) as e:
        src.check(nets[1])
    assert says in str(e.value) and "\n" not in str(e.value)


BAD = '''
from torch import nn
def net(c1=3, h=3, s=2, bias=True, out=3, convs=2):
    layers = [nn.Conv2d(2, c1, h, stride=s, padding=1), nn.ReLU()]
    if convs == 2:
        layers += [nn.Conv2d(c1, 4, 2, padding=1, bias=bias), nn.ReLU(), nn.MaxPool2d(3)]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(16, 6), nn.ReLU(), nn.Linear(6, out))
wrong_channels = lambda: net(c1=5)
no_bias = lambda: net(bias=False)
kernel = lambda: net(h=5)
conv_stride = lambda: net(s=1)
output_width = lambda: net(out=10)
too_few_convs = lambda: net(convs=1)
'''


@pytest.mark.parametrize("spec,says", [
    ("torch:{d}/nope.py:net", "nope.py: no such file"),
    ("torch:{d}/f.py:missing", "defines no missing"),
    ("torch:{d}/f.py:number", "is a int, not an nn.Module"),
    ("torch:{d}/f.py:raises", "raises() raised ValueError: boom"),
    ("torch:{d}/f.py", "give torch:FILE.py:NAME"),
    ("pytorch:{d}/f.py:net", "give torch:FILE.py:NAME or routines:FILE.py"),
])
def test_bad_specs_are_one_line(tmp_path, spec, says):
    (tmp_path / "f.py").write_text("number = 3\ndef raises():\n    raise ValueError('boom')\n")
    with pytest.raises(InputError) as e:
        python_source(spec.format(d=tmp_path), None, Options())
    assert says in str(e.value)


def test_without_torch_one_line_says_how_to_install(nets, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)          # import torch raises ImportError
    with pytest.raises(EnvironmentProblem) as e:
        python_source(f"torch:{nets[0]}:functional", None, Options())
    assert "pip install 'simplecnn_py[torch]'" in str(e.value) and "\n" not in str(e.value)


# --- against MATLAB, through traces recorded once -------------------------------------------

@pytest.fixture(scope="module")
def traces(tmp_path_factory, nets):
    from simplecnn_harness.traces.record import record

    base = tmp_path_factory.mktemp("traces")
    out = {}
    path = base / "seed.mat"
    record(Options(config=str(NONSQUARE), instances=16), path)
    out["matlab_ref"] = (path, nets[0], nets[1][1])
    return out


@pytest.fixture(scope="module")
def real_trace(tmp_path_factory):
    """The real current simpleNN (../shared/upstream) on the tiny non-square net, recorded once."""
    from harness_bundle import TINY_CONFIG, clone, extract
    from simplecnn_harness.traces.record import record

    base = tmp_path_factory.mktemp("real")
    tree = extract(clone(base), CURRENT_REV, base / CURRENT_REV)
    cfg = base / "tiny.config"
    cfg.write_text(TINY_CONFIG)
    path = base / "current.mat"
    record(Options(matlab_dir=str(tree), config=str(cfg), instances=24), path)
    inputs = prepare(Options(config=str(cfg), instances=24))
    folder = base / "nets"
    folder.mkdir()
    return path, network_file(inputs[1], folder), inputs[1]


def judge_offline(trace, spec):
    from simplecnn_harness.traces.record import TraceRecords

    opts = Options(precision=None)
    src = TraceRecords(trace, opts)
    return run_compare(opts, src, python_source(spec, None, opts))


def assert_every_layer_compared(result, L):
    compared = [s for s in result.stages if s.compared]
    for direction in ("forward", "backward"):
        assert {s.layer for s in compared if s.direction == direction} == set(range(1, L + 1)), direction
    assert {"dXidS", "dlossdW", "dlossdb", "WtDelta", "activation", "pool_gradient", "phi_gradient",
            "unpad", "phiZ", "sigmaS", "Z", "loss"} <= {s.stage for s in compared}


@needs_octave
@pytest.mark.parametrize("name", ["sequential", "functional", "pads_itself"])
def test_right_networks_pass_against_matlab_ref(traces, name):
    trace, path, model = traces["matlab_ref"]
    result = judge_offline(trace, f"torch:{path}:{name}")
    assert result.ok and result.first_divergence is None, [(s.key(), s.rel_err) for s in result.stages if
                                                           s.compared and not s.ok]
    assert_every_layer_compared(result, int(model.L))
    assert result.loss["python"] == pytest.approx(result.loss["matlab"], rel=1e-13)
    assert result.notes[0].startswith("Python side: PyTorch network")


@needs_octave
@pytest.mark.parametrize("name", ["sequential", "functional"])
def test_right_networks_pass_against_the_real_current_code(real_trace, name):
    trace, path, model = real_trace
    result = judge_offline(trace, f"torch:{path}:{name}")
    assert result.ok, result.first_divergence
    assert_every_layer_compared(result, int(model.L))


def _check_slip(result, model, slip):
    where, stage, word = SLIPS[slip]
    assert not result.ok
    fd = result.first_divergence
    assert (fd["layer"], fd["direction"], fd["stage"]) == (expected_layer(where, model), "forward", stage)
    assert any(n.startswith("likely slip:") and word in n for n in result.notes), result.notes
    first = next(s for s in result.stages if s.key() == (fd["layer"], fd["direction"], fd["stage"]))
    assert word in first.note


@needs_octave
@pytest.mark.parametrize("slip", sorted(SLIPS))
def test_each_slip_fails_at_its_layer_and_is_named(traces, slip):
    trace, path, model = traces["matlab_ref"]
    spec = f"torch:{path.parent / 'nets_mean_loss.py'}:net" if slip == "loss_mean" else f"torch:{path}:{slip}"
    _check_slip(judge_offline(trace, spec), model, slip)


@needs_octave
def test_a_loss_the_network_carries_is_used(traces):
    trace, path, model = traces["matlab_ref"]
    _check_slip(judge_offline(trace, f"torch:{path.parent / 'nets_criterion.py'}:net"), model, "loss_mean")


@needs_octave
@pytest.mark.parametrize("slip", ["avg_pool", "no_relu_conv", "relu_on_output", "flatten_hwc", "ceil_mode"])
def test_slips_against_the_real_current_code(real_trace, slip):
    trace, path, model = real_trace
    _check_slip(judge_offline(trace, f"torch:{path}:{slip}"), model, slip)


# --- the command ---------------------------------------------------------------------------

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "simplecnn_cli", "compare", "--quiet", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def _main(capsys, *args):
    """The command in this process (torch is imported once for the file)."""
    from simplecnn_cli.main import main

    rc = main(["compare", "--quiet", *args])
    out, err = capsys.readouterr()
    return rc, out, err


@needs_octave
def test_command_live_and_the_json_keeps_todays_fields(nets, traces, tmp_path):
    """One live run of the command with a PyTorch network (a subprocess, as a
    user runs it); its JSON has the fields of the port's compare JSON."""
    ours = tmp_path / "torch.json"
    p = _cli("--config", str(NONSQUARE), "--instances", "16", "--python", f"torch:{nets[0]}:avg_pool",
             "--json", str(ours))
    assert p.returncode == 1, p.stderr
    assert "against PyTorch network" in p.stdout.splitlines()[0]
    assert "likely slip: average instead of max pooling" in p.stdout.splitlines()[-2]
    port = tmp_path / "port.json"
    q = _cli("--trace", str(traces["matlab_ref"][0]), "--json", str(port))
    assert q.returncode == 0, q.stderr
    a, b = json.loads(ours.read_text()), json.loads(port.read_text())
    assert set(a) == set(b)
    assert [(s["layer"], s["direction"], s["stage"]) for s in a["stages"]] == \
        [(s["layer"], s["direction"], s["stage"]) for s in b["stages"]]
    assert set(a["stages"][0]) == set(b["stages"][0])
    assert a["first_divergence"] == {"layer": 2, "direction": "forward", "stage": "Z"}
    assert any(n.startswith("likely slip: average") for n in a["notes"])


@needs_octave
def test_command_exit_codes(nets, traces, capsys):
    trace = str(traces["matlab_ref"][0])
    rc, out, err = _main(capsys, "--trace", trace, "--python", f"torch:{nets[0]}:sequential")
    assert rc == 0 and "PASS" in out and not err
    rc, out, err = _main(capsys, "--trace", trace, "--python", f"torch:{nets[0]}:flatten_hwc")
    assert rc == 1 and "likely slip: flatten order" in out
    rc, out, err = _main(capsys, "--trace", trace, "--python", f"torch:{nets[0]}:nosuch")
    assert rc == 2 and err.startswith("simplecnn: error: --python:") and len(err.strip().splitlines()) == 1
    rc, out, err = _main(capsys, "--trace", trace, "--python", f"torch:{nets[0]}:sequential", "--mode", "isolated")
    assert rc == 0 and "PASS" in out and not err          # isolated mode: test_source_torch_isolated.py
    rc, out, err = _main(capsys, "--trace", trace, "--python", f"torch:{nets[0]}:flatten_hwc", "--mode", "isolated")
    assert rc == 1 and "likely slip: flatten order" in out and not err
    rc, out, err = _main(capsys, "--trace", trace, "--python", f"torch:{nets[0]}:sequential",
                         "--against", "matlab:matlab_ref/seed")
    assert rc == 2 and "not both" in err


@needs_octave
def test_a_slip_that_makes_the_network_fail_is_still_judged(traces, tmp_path):
    """A network torch cannot run to the end (the slip changed a size the
    next Linear does not take): what the layers got before the failure is
    judged, so the FAIL is at the slip's layer; a failure with nothing
    differing before it is one line (exit 2)."""
    trace, path, model = traces["matlab_ref"]
    width = int(model.ch_input[3]) * int(model.ht_input[3]) * int(model.wd_input[3])
    f = tmp_path / "crash.py"
    f.write_text(CRASH.format(folder=str(path.parent), width=width))
    result = judge_offline(trace, f"torch:{f}:ceil_mode_config_width")
    _check_slip(result, model, "ceil_mode")
    assert any(n.startswith("the network then failed") and "RuntimeError" in n for n in result.notes)
    assert all(not s.compared for s in result.stages if s.direction == "backward")
    with pytest.raises(InputError) as e:
        judge_offline(trace, f"torch:{f}:raises_late")
    assert "RuntimeError: late" in str(e.value)


def test_a_pooling_gradient_moved_by_a_tie_is_explained_and_nothing_else():
    """tie_explained on a hand-made 1-channel 4 x 4 map, 2 x 2 pooling, 1
    instance: the window (0, 0) holds two equal maxima; a gradient moved
    between them is explained, one moved to a smaller entry is not."""
    from simplecnn_harness.sources.torch_ties import tie_explained
    from simplecnn_py.support.conventions import cell, struct

    model = struct(ch_input=cell([1, 1]), wd_subimage_pool=cell([2]), ht_conv=cell([4]), wd_conv=cell([4]))
    S = np.array([[5., 5., 1., 2.], [0., 1., 3., 0.], [1., 2., 0., 0.], [0., 4., 0., 1.]])
    M = np.zeros((4, 4))
    M[0, 0], M[0, 3], M[3, 1] = 2.0, 1.5, -1.0         # MATLAB: the first maximum column by column is (0, 0)
    P = M.copy()
    P[0, 0], P[0, 1] = 0.0, 2.0                        # PyTorch's first row by row is (0, 1) when they tie
    flat = lambda A: A.reshape(1, -1, order="F")      # noqa: E731  d x (a*b*n), column-major
    assert tie_explained(model, 1, 1, flat(P), flat(M), flat(S), 1e-13) == (True, 1, 4)
    S2 = S.copy()
    S2[0, 1] = 4.0                                     # no tie: the move is a real difference
    assert tie_explained(model, 1, 1, flat(P), flat(M), flat(S2), 1e-13)[0] is False
    P3 = P.copy()
    P3[0, 1] = 2.5                                     # a tie, but the window's gradient is not the same
    assert tie_explained(model, 1, 1, flat(P3), flat(M), flat(S), 1e-13)[0] is False


@needs_octave
def test_right_network_passes_on_mnist_with_pooling_ties(shared_data, tmp_path):
    """The demo MNIST images (saturated strokes: identical patches, tied
    maxima) on the default 4-layer config: PASS, the tie-moved gradients
    accepted (ok*) and said so."""
    from simplecnn_harness.compare import default_config
    from torch_nets import network_file

    opts = Options(data=str(shared_data / "mnist-demo.mat"), instances=32)
    inputs = prepare(Options(config=str(default_config()), instances=10))
    path = network_file(inputs[1], tmp_path)
    result = run_compare(opts, None, python_source(f"torch:{path}:sequential", None, opts))
    assert result.ok, result.first_divergence
    moved = [s for s in result.stages if s.explained]
    assert moved and all(s.stage == "pool_gradient" for s in moved)
    assert "equal maxima" in moved[0].note


def test_torch_is_imported_only_for_a_torch_side():
    """compare's help, and a comparison without --python torch:, never import torch."""
    code = ("import sys\nfrom simplecnn_cli.main import main\n"
            "from simplecnn_harness.sources.python_side import python_source\n"
            "try:\n    main(['compare', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "--python KIND:SPEC" in p.stdout and "--against matlab:DIR" in p.stdout
