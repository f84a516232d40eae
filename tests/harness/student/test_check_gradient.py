"""``check_gradient`` / ``simplecnn check-gradient`` against a student's gradient.

The student here is independent of the port: instance by instance, with the
slides' P matrices (simplecnn_harness.student.pmatrices, dense) and Kronecker forms,
and numpy's own reshapes.  Done right, it must match the port (exit 0); each
classic mistake is made on purpose in it, saved as MINE.mat, and the
diagnosis must name the mistake (exit 1), from the gradients alone and from
the gradients with per-stage deltas (then the first differing stage is
named too).  Bad files exit 2 with one line.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from simplecnn_harness.student.check_gradient import (CAUSES, check_gradient, check_gradient_files, load_mine,
                                              save_mine)
from simplecnn_harness.student.pmatrices import P_pad, P_phi, P_pool, P_window
from simplecnn_py.support.conventions import reshape, vec
from simplecnn_py.support.datafile import save_data, save_weights
from simplecnn_py.cnn.init_model import init_model

from test_port_common import make_param, make_prob, perturb_biases

# two conv layers (non-square, the second with a leftover column at pooling),
# then two full layers, the last 3 x 3 (square: W for W' fits)
NET = dict(ht=8, wd=6, ch=[1, 2, 3], pad=[1, 1], filt=[3, 3], stride=[1, 1], pool=[2, 2], full=[3, 3])
N = 4


@pytest.fixture(scope="module")
def case():
    param = make_param(**NET)
    model = perturb_biases(init_model(param, seed=3), seed=4, scale=0.2)
    prob = make_prob(model, N, seed=6, labels=[1, 2, 3, 1])
    return param, model, prob


# --- the student -------------------------------------------------------------------

def student(param, model, prob, mistake=None):
    """dlossdW, dlossdb (0-based lists) and per-stage deltas (dict stage -> list
    over layers), computed instance by instance with P matrices."""
    L, LC, n = model.L, model.LC, prob.l
    dW = [np.zeros(model.weight[m].shape) for m in range(1, L + 1)]
    db = [np.zeros(model.bias[m].shape) for m in range(1, L + 1)]
    stages = {s: [[] for _ in range(L)] for s in ("dXidS", "pool_gradient", "WtDelta", "phi_gradient",
                                                 "unpad", "activation")}
    W = [model.weight[m] for m in range(1, L + 1)]
    b = [model.bias[m][:, 0] for m in range(1, L + 1)]
    for i in range(n):
        z = {1: prob.data[:, i]}
        phi, pools, Pmats = {}, {}, {}
        for m in range(1, LC + 1):
            d, a, bb, p = model.ch_input[m], model.ht_input[m], model.wd_input[m], model.wd_pad_added[m]
            h, s, q = model.wd_filter[m], model.strides[m], model.wd_subimage_pool[m]
            Pmats[m] = (P_phi(d, a + 2 * p, bb + 2 * p, h, s).toarray(), P_pad(d, a, bb, p).toarray())
            phi[m] = reshape(Pmats[m][0] @ Pmats[m][1] @ z[m], h * h * d, -1)
            sig = np.maximum(W[m - 1] @ phi[m] + b[m - 1][:, None], 0)
            if q > 1:
                pools[m] = P_pool(vec(sig), model.ch_input[m + 1], model.ht_conv[m], model.wd_conv[m], q).toarray()
                z[m + 1] = pools[m] @ vec(sig)
            else:
                z[m + 1] = vec(sig)
        for m in range(LC + 1, L + 1):
            out = W[m - 1] @ z[m] + b[m - 1]
            z[m + 1] = out if m == L else np.maximum(out, 0)
        delta = 2 * (z[L + 1] - prob.label_mat[:, i])
        if mistake == "half":
            delta = delta / 2
        if mistake == "mean":
            delta = delta / n
        for m in range(L, LC, -1):
            stages["dXidS"][m - 1].append(delta[:, None])
            dW[m - 1] += np.outer(delta, z[m])
            db[m - 1][:, 0] += delta
            delta = (W[m - 1] if mistake == "W_not_Wt" and m == L else W[m - 1].T) @ delta
            stages["WtDelta"][m - 1].append(delta[:, None])
            if mistake != "no_mask":
                delta = delta * (z[m] > 0)
            stages["activation"][m - 1].append(delta[:, None])
        d_next = model.ch_input[LC + 1]
        D = np.reshape(delta, (d_next, -1), order="C" if mistake == "rowmajor" else "F")
        for m in range(LC, 0, -1):
            d, d_next = model.ch_input[m], model.ch_input[m + 1]
            a, bb, q = model.ht_input[m], model.wd_input[m], model.wd_subimage_pool[m]
            stages["dXidS"][m - 1].append(D)
            if q > 1:
                P = pools[m]
                if mistake == "pool_every":
                    P = P_window(d_next, model.ht_conv[m], model.wd_conv[m], q).toarray()
                if mistake == "index_slip":          # idx_pool used as 0-based: every winner one later
                    P = P @ np.eye(P.shape[1], k=1)
                D = reshape(vec(D) @ P, d_next, -1)                              # eq. (26)
                stages["pool_gradient"][m - 1].append(D)
            dW[m - 1] += reshape(vec(D) @ np.kron(phi[m].T, np.eye(d_next)), *W[m - 1].shape)   # eq. (12)
            db[m - 1][:, 0] += vec(D) @ np.kron(np.ones((D.shape[1], 1)), np.eye(d_next))   # eq. (14)
            if m > 1:
                V = W[m - 1].T @ D
                stages["WtDelta"][m - 1].append(V)
                g = vec(V) @ Pmats[m][0]
                stages["phi_gradient"][m - 1].append(reshape(g, d, -1))
                g = g @ Pmats[m][1]                                             # eq. (28)
                stages["unpad"][m - 1].append(reshape(g, d, -1))
                if mistake != "no_mask":
                    g = g * (z[m] > 0)
                D = reshape(g, d, -1)
                stages["activation"][m - 1].append(D)
    if mistake == "transposed":
        dW[0] = dW[0].T
    if mistake == "rowmajor_filter":             # dW kept as filters (d', h, h, d), flattened by numpy
        d_next, h, d = model.ch_input[2], model.wd_filter[1], model.ch_input[1]
        dW[0] = np.reshape(reshape(dW[0], d_next, h, h, d), (d_next, -1), order="C")
    joined = {s: [np.hstack(v) if v else None for v in per_layer] for s, per_layer in stages.items()}
    return dW, db, joined


def as_mine(dW, db, stages=None):
    mine = {}
    for m, (A, B) in enumerate(zip(dW, db), start=1):
        mine[(m, "dlossdW")], mine[(m, "dlossdb")] = A, B
    for s, per_layer in (stages or {}).items():
        for m, A in enumerate(per_layer, start=1):
            if A is not None:
                mine[(m, s)] = A
    return mine


# --- right ---------------------------------------------------------------------------

def test_right_gradient_matches(case):
    param, model, prob = case
    dW, db, stages = student(param, model, prob)
    verdict = check_gradient(prob, param, model, as_mine(dW, db))
    assert verdict.ok, "\n".join(verdict.lines())
    verdict = check_gradient(prob, param, model, as_mine(dW, db, stages))
    assert verdict.ok, "\n".join(verdict.lines())
    assert len(verdict.rows) == 2 * model.L + sum(A is not None for v in stages.values() for A in v)
    assert all(r.rel < 1e-12 for r in verdict.rows)


# --- each classic mistake, made on purpose ------------------------------------------

MISTAKES = {
    # name: (cause, first differing stage with deltas, first differing stage from gradients only)
    "rowmajor": ("rowmajor", (2, "dXidS"), (2, "dlossdW")),
    "rowmajor_filter": ("rowmajor", (1, "dlossdW"), (1, "dlossdW")),
    "transposed": ("transposed_W", (1, "dlossdW"), (1, "dlossdW")),
    "W_not_Wt": ("transposed_W", (4, "WtDelta"), (3, "dlossdW")),
    "no_mask": ("no_mask", (4, "activation"), (3, "dlossdW")),
    "pool_every": ("pool_every", (2, "pool_gradient"), (2, "dlossdW")),
    "index_slip": ("index_slip", (2, "pool_gradient"), (2, "dlossdW")),
    "half": ("loss_convention", (4, "dXidS"), (4, "dlossdW")),
    "mean": ("loss_convention", (4, "dXidS"), (4, "dlossdW")),
}


@pytest.mark.parametrize("with_deltas", [True, False], ids=["with-deltas", "gradients-only"])
@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_classic_mistake_is_named(case, files, name, with_deltas):
    """The wrong gradient, saved as MINE.mat, read back and diagnosed."""
    param, model, prob = case
    tmp, cfg = files
    cause, first_with, first_without = MISTAKES[name]
    dW, db, stages = student(param, model, prob, mistake=name)
    mine = tmp / f"{name}-{with_deltas}.mat"
    save_mine(mine, dW, db, **(stages if with_deltas else {}))
    verdict = check_gradient_files(cfg, tmp / "data.mat", tmp / "w.mat", mine)
    text = "\n".join(verdict.lines())
    assert not verdict.ok, text
    assert verdict.first == (first_with if with_deltas else first_without), text
    assert verdict.cause == cause, text
    assert CAUSES[cause] in verdict.message


def test_a_mistake_the_checker_does_not_know_is_not_named(case):
    param, model, prob = case
    dW, db, _ = student(param, model, prob)
    dW[1] = dW[1] + np.random.default_rng(0).standard_normal(dW[1].shape)
    verdict = check_gradient(prob, param, model, as_mine(dW, db))
    assert not verdict.ok and verdict.first == (2, "dlossdW") and verdict.cause is None
    assert "no classic mistake recognised" in verdict.message


# --- the command line -------------------------------------------------------------------

@pytest.fixture(scope="module")
def files(case, tmp_path_factory):
    param, model, prob = case
    tmp = tmp_path_factory.mktemp("checkgrad")
    cfg = tmp / "net.config"
    cfg.write_text("L = 4;\nLC = 2;\nht_input = 8;\nwd_input = 6;\nch_input = [1,2,3];\nwd_pad_added = [1,1];\n"
                   "wd_filter = [3,3];\nstrides = [1,1];\nwd_subimage_pool = [2,2];\nfull_neurons = [3,3];\n")
    save_data(tmp / "data.mat", prob.y, prob.data.T)
    save_weights(tmp / "w.mat", list(model.weight), list(model.bias))
    return tmp, cfg


def cli(*args):
    return subprocess.run([sys.executable, "-m", "simplecnn_cli", "check-gradient", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_cli_exit_codes(case, files):
    param, model, prob = case
    tmp, cfg = files
    common = ("--config", cfg, "--data", tmp / "data.mat", "--weights", tmp / "w.mat", "--mine")
    dW, db, stages = student(param, model, prob)
    save_mine(tmp / "right.mat", dW, db, **stages)
    proc = cli(*common, tmp / "right.mat")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "matches" in proc.stdout and "sum of squared errors" in proc.stdout

    dW, db, stages = student(param, model, prob, mistake="no_mask")
    save_mine(tmp / "no_mask.mat", dW, db, **stages)
    proc = cli(*common, tmp / "no_mask.mat")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "first difference: layer 4, stage activation" in proc.stdout
    assert "missing ReLU mask" in proc.stdout

    dW[1] = np.zeros((5, 5))
    save_mine(tmp / "shape.mat", dW, db)
    proc = cli(*common, tmp / "shape.mat")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"simplecnn: error: {tmp / 'shape.mat'}: dlossdW{{2}} is 5 x 5; MATLAB's shape is 3 x 18"]

    proc = cli(*common, tmp / "absent.mat")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_load_mine_rejects_bad_files(tmp_path, case):
    import scipy.io

    from simplecnn_py.support.errors import InputError

    scipy.io.savemat(tmp_path / "a.mat", {"dlossdW": np.zeros((2, 2))})
    with pytest.raises(InputError, match="no variable dlossdb"):
        load_mine(tmp_path / "a.mat", 4)
    save_mine(tmp_path / "b.mat", [np.zeros((1, 1))] * 3, [np.zeros((1, 1))] * 3)
    with pytest.raises(InputError, match="has 3 cells; the config has L = 4"):
        load_mine(tmp_path / "b.mat", 4)
    save_mine(tmp_path / "c.mat", [np.full((1, 1), np.nan)] * 4, [np.zeros((1, 1))] * 4)
    with pytest.raises(InputError, match=r"dlossdW\{1\} has NaN"):
        load_mine(tmp_path / "c.mat", 4)


def test_a_stage_the_layer_does_not_have_is_bad_input(case, tmp_path):
    param, model, prob = case
    dW, db, stages = student(param, model, prob)
    mine = as_mine(dW, db)
    mine[(1, "phi_gradient")] = np.zeros((1, 80))
    from simplecnn_py.support.errors import InputError
    with pytest.raises(InputError, match=r"phi_gradient\{1\}: layer 1 has no stage phi_gradient"):
        check_gradient(prob, param, model, mine)


def test_files_api_on_the_shipped_demo(tmp_path):
    from simplecnn_cli.demo import demo_path
    from simplecnn_py.cnn.init_net import init_net
    from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
    from simplecnn_py.cnn.check_data import check_data
    from simplecnn_py.support.datafile import load_data, load_weights
    from simplecnn_py.cnn.read_config import read_config

    cfg, data, w = (demo_path(f) for f in ("check-gradient.config", "check-gradient-data.mat",
                                           "check-gradient-weights.mat"))
    param = read_config(cfg)
    model = init_model(param, seed=0)
    model.weight, model.bias = load_weights(w, param)
    prob = check_data(load_data(data, param), param)
    net, loss = lossgrad_subset(prob, param, model, init_net(param, model), np.arange(1, prob.l + 1), "fungrad")
    dW, db = net.dlossdW, net.dlossdb
    save_mine(tmp_path / "mine.mat", dW, db, loss=loss)
    assert check_gradient_files(cfg, data, w, tmp_path / "mine.mat").ok
    save_mine(tmp_path / "mean.mat", [A / prob.l for A in dW], [B / prob.l for B in db], loss=loss / prob.l)
    verdict = check_gradient_files(cfg, data, w, tmp_path / "mean.mat")
    assert not verdict.ok and verdict.first == (0, "loss") and verdict.cause == "loss_convention"
    assert "1/l" in verdict.message


def test_mistake_free_backward_is_the_ports_and_each_mistake_changes_its_first_stage(case):
    """gradient_mistakes.backward without a mistake gives the port's traced
    stages bit for bit; each mistake changes the stage it names first and none
    before it (what the diagnosis relies on to skip candidates)."""
    from simplecnn_harness.student.check_gradient import port_backward, stage_order
    from simplecnn_harness.student.mistakes import backward, mistakes

    param, model, prob = case
    net, loss, port = port_backward(prob, param, model)
    v = port[(model.L, "dXidS")]
    _, _, rec = backward(model, net, v)
    assert rec.keys() == port.keys() == set(stage_order(model))
    for key in rec:
        np.testing.assert_array_equal(rec[key], port[key], err_msg=str(key))
    order = stage_order(model)
    for mk in mistakes(model):
        _, _, rec = backward(model, net, v, mk)
        first = next(k for k in order if not np.array_equal(rec[k], port[k]))
        assert first == mk.first_stage(model), (mk, first)
