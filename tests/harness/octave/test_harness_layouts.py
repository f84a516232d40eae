"""Layout detection from the ``function`` lines, and refusal with a reason."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from simplecnn_harness.octave.layouts import detect_layout, parse_function_line
from simplecnn_py.support.errors import InputError

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "matlab_ref" / "seed"
CURRENT = REPO / "matlab_ref" / "current"


def test_seed_layout():
    lay = detect_layout(SEED)
    assert lay.name == "seed"
    assert lay.root == SEED
    assert lay.init_net.args == ["param", "model"]
    assert lay.task_grad == "fungrad"
    assert (lay.net_out, lay.loss_out) == (1, 2)
    assert lay.forward_files == ["feedforward"] and lay.backward_files == ["lossgrad_subset"]


@pytest.mark.parametrize("where", [CURRENT, CURRENT / "MATLAB"])
def test_current_layout(where):
    lay = detect_layout(where)
    assert lay.name == "current"
    assert lay.root == CURRENT / "MATLAB"
    assert lay.init_net.args == ["model", "param"]
    assert len(lay.lossgrad.args) == 5
    assert "JTv" in lay.backward_files          # the backward pass lives in JTv


def _tree(tmp_path, files):
    root = tmp_path / "tree"
    for rel, text in files.items():
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return root


def test_refuses_a_tree_without_lossgrad_subset(tmp_path):
    root = _tree(tmp_path, {"cnn/foo.m": "function y = foo(x)\ny = x;\nend\n"})
    with pytest.raises(InputError, match="not a simpleNN tree.*no lossgrad_subset.m"):
        detect_layout(root)


def test_refuses_an_empty_or_missing_folder(tmp_path):
    with pytest.raises(InputError, match="holds no .m files"):
        detect_layout(tmp_path)
    with pytest.raises(InputError, match="no such directory"):
        detect_layout(tmp_path / "nope")


def test_refuses_a_lossgrad_with_other_arguments(tmp_path):
    root = _tree(tmp_path, {"cnn/lossgrad_subset.m": "function [net, loss] = lossgrad_subset(prob, net, task)\n",
                            "cnn/init_net.m": "function net = init_net(param, model)\n"})
    with pytest.raises(InputError, match="takes 3 arguments"):
        detect_layout(root)


def test_argument_order_is_read_by_name_not_by_layout(tmp_path):
    # a seed-layout lossgrad_subset beside an init_net(model, param): each is
    # called with its own argument names (no fixed list of layouts)
    root = tmp_path / "mixed"
    shutil.copytree(SEED, root)
    (root / "cnn" / "init_net.m").write_text("function net = init_net(model, param)\nnet = struct();\n")
    lay = detect_layout(root)
    assert lay.calls["init_net"] == "net = init_net(model, param);"
    assert lay.calls["lossgrad_subset"] == "[outs{:}] = lossgrad_subset(prob, param, model, net, batch_idx, task__);"


@pytest.mark.parametrize("args, call", [
    ("model", "net = init_net(model);"),
    ("model, bsize", "net = init_net(model, numel(batch_idx));"),
    ("net_config, model", "net = init_net(param, model);"),
])
def test_every_init_net_of_the_history_is_called_by_its_argument_names(tmp_path, args, call):
    root = tmp_path / "t"
    shutil.copytree(CURRENT, root)
    (root / "MATLAB" / "cnn" / "init_net.m").write_text(f"function net = init_net({args})\nnet = struct();\n")
    assert detect_layout(root).calls["init_net"] == call


def test_an_unknown_argument_name_is_refused_with_the_name(tmp_path):
    root = tmp_path / "t"
    shutil.copytree(CURRENT, root)
    (root / "MATLAB" / "cnn" / "init_net.m").write_text("function net = init_net(model, zeta)\nnet = struct();\n")
    with pytest.raises(InputError, match="cannot tell what to pass as 'zeta'"):
        detect_layout(root)


def test_init_model_as_a_subfunction_is_exposed(tmp_path):
    root = tmp_path / "t"
    shutil.copytree(CURRENT, root)
    cnn = root / "MATLAB" / "cnn"
    if (cnn / "init_model.m").exists():
        text = (cnn / "init_model.m").read_text()
        (cnn / "init_model.m").unlink()
        (cnn / "train_host.m").write_text("function model = train_host(x)\nmodel = init_model(x);\n\n" + text)
    lay = detect_layout(root)
    assert "init_model" in lay.expose and lay.calls["init_model"].startswith("tree_model = init_model(")


def test_refuses_when_no_task_asks_for_the_gradient(tmp_path):
    root = tmp_path / "notask"
    shutil.copytree(SEED, root)
    f = root / "cnn" / "lossgrad_subset.m"
    f.write_text(f.read_text().replace("'fungrad'", "'everything'"))
    with pytest.raises(InputError, match="asks for the gradient"):
        detect_layout(root)


def test_reads_a_renamed_task_and_swapped_outputs(tmp_path):
    root = tmp_path / "renamed"
    shutil.copytree(SEED, root)
    f = root / "cnn" / "lossgrad_subset.m"
    text = f.read_text().replace("'fungrad'", "'gradient_too'").replace(
        "function [net, loss] = lossgrad_subset", "function [loss, net] = lossgrad_subset")
    f.write_text(text)
    lay = detect_layout(root)
    assert lay.task_grad == "gradient_too"
    assert (lay.net_out, lay.loss_out) == (2, 1)


def test_function_line_with_continuation(tmp_path):
    f = tmp_path / "g.m"
    f.write_text("% help\nfunction [a, ...\n  b] = g(x, ...\n  y)\na = x; b = y;\n")
    sig = parse_function_line(f)
    assert sig.outputs == ["a", "b"] and sig.args == ["x", "y"]
