"""matlab_ref/seed (our MATLAB/Octave reference, seed layout) run under Octave.

Oracles, all independent of the code under test:
* the formula of find_index_phiZ / find_index_padding (their docstrings),
  evaluated here in Python;
* the slides' 4x4 max-pooling example;
* a direct convolution / ReLU / max-pooling written here with explicit loops
  (catches a (wd_pad, ht_pad) swap in init_net on a non-square input);
* central finite differences of the loss (computed in Octave, compared with
  dlossdW / dlossdb);
* adjointness of the P_phi P_pad gather (padding_and_phiZ) and its scatter
  (vTP 'phi_gradient' + removal of the padding);
* one batch against many chunks in fungrad_minibatch, and f from its formula.
"""
from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from conftest import needs_octave

SEED = Path(__file__).resolve().parents[2] / "matlab_ref" / "seed"
SMALL = SEED / "config" / "small-nonsquare.config"

pytestmark = needs_octave


def run_octave(body: str, tmp_path: Path, expect_error: bool = False):
    """Run `body` in Octave with the seed tree on the path.

    The script saves what it wants to compare into `out` (a struct) and it is
    returned as a dict; with expect_error=True the Octave error message is
    returned instead.
    """
    exe = shutil.which("octave-cli") or shutil.which("octave")
    script = tmp_path / "h3_run.m"
    out_file = tmp_path / "out.mat"
    script.write_text(
        "addpath('%s', '%s', '%s');\nout = struct();\n%s\nsave('-v7', '%s', '-struct', 'out');\n"
        % (SEED / "cnn", SEED / "opt", SEED, textwrap.dedent(body), out_file)
    )
    proc = subprocess.run(
        [exe, "--no-gui", "--norc", "--quiet", str(script)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    failed = proc.returncode != 0 or not out_file.exists()
    if expect_error:
        assert failed, "Octave was expected to fail:\n" + proc.stdout
        return proc.stderr
    assert not failed, f"Octave failed:\n{proc.stdout}\n{proc.stderr}"
    return scipy.io.loadmat(out_file, squeeze_me=False)


def cellvals(c):
    """The entries of a MATLAB cell array loaded by scipy (column cell)."""
    return [c[k, 0] for k in range(c.shape[0])]


# --- index maps -----------------------------------------------------------

def phiZ_formula(a, b, d, h, s):
    """find_index_phiZ's formula, evaluated entry by entry (0-based loops, 1-based values)."""
    a_out = (a - h) // s + 1
    b_out = (b - h) // s + 1
    idx = np.zeros((h * h * d, a_out * b_out), dtype=np.int64)
    for c in range(d):
        for j in range(h):
            for i in range(h):
                for q in range(b_out):
                    for r in range(a_out):
                        idx[i + h * j + h * h * c, r + a_out * q] = (
                            1 + c + d * ((r * s + i) + a * (q * s + j)))
    return idx.reshape(-1, order="F")


PHI_CASES = [(5, 4, 2, 3, 1), (7, 6, 3, 2, 2), (12, 9, 1, 3, 2), (4, 4, 1, 2, 2),
             (9, 7, 2, 3, 3), (6, 11, 2, 1, 1), (14, 11, 2, 3, 2)]


def test_find_index_phiZ_matches_facts_formula(tmp_path):
    body = "out.idx = {};\n"
    for k, (a, b, d, h, s) in enumerate(PHI_CASES, 1):
        body += f"out.idx{{{k}}} = find_index_phiZ({a}, {b}, {d}, {h}, {s});\n"
    res = run_octave(body, tmp_path)
    got = res["idx"].reshape(-1)
    for case, idx in zip(PHI_CASES, got):
        expected = phiZ_formula(*case)
        assert idx.shape == (expected.size, 1), case
        np.testing.assert_array_equal(idx[:, 0], expected, err_msg=str(case))


def test_find_index_padding_and_init_net_indices(tmp_path):
    res = run_octave(f"""
        param = read_config('{SMALL}');
        model = init_model(param);
        net = init_net(param, model);
        out.idx_pad = net.idx_pad;
        out.idx_phiZ = net.idx_phiZ;
        out.idx_phiZ_pool = net.idx_phiZ_pool;
        out.ht_pad = model.ht_pad; out.wd_pad = model.wd_pad;
        out.ht_conv = model.ht_conv; out.wd_conv = model.wd_conv;
        out.ht_input = model.ht_input; out.wd_input = model.wd_input;
    """, tmp_path)
    # 12x9 input, pad 1, filter 3, stride 2 -> 6x5; pad 1, filter 2 -> 7x6, pool 3 -> 2x2
    np.testing.assert_array_equal(res["ht_pad"], [[14, 8]])
    np.testing.assert_array_equal(res["wd_pad"], [[11, 7]])
    np.testing.assert_array_equal(res["ht_conv"], [[6, 7]])
    np.testing.assert_array_equal(res["wd_conv"], [[5, 6]])
    np.testing.assert_array_equal(res["ht_input"], [[12, 6, 2]])
    np.testing.assert_array_equal(res["wd_input"], [[9, 5, 2]])
    idx_pad = cellvals(res["idx_pad"])
    for m, (a, b, p) in enumerate([(12, 9, 1), (6, 5, 1)]):
        expected = [1 + (p + i) + (a + 2 * p) * (p + j) for j in range(b) for i in range(a)]
        np.testing.assert_array_equal(idx_pad[m][:, 0], expected)
    idx_phiZ = cellvals(res["idx_phiZ"])
    np.testing.assert_array_equal(idx_phiZ[0][:, 0], phiZ_formula(14, 11, 2, 3, 2))
    np.testing.assert_array_equal(idx_phiZ[1][:, 0], phiZ_formula(8, 7, 3, 2, 1))
    pool = cellvals(res["idx_phiZ_pool"])
    assert pool[0].size == 0                      # layer 1 is not pooled
    np.testing.assert_array_equal(pool[1][:, 0], phiZ_formula(7, 6, 4, 3, 3))


# --- the slides' pooling example -------------------------------------------

def test_slides_pooling_example(tmp_path):
    res = run_octave("""
        model.ch_input = [1 1]; model.ht_conv = 4; model.wd_conv = 4;
        model.wd_subimage_pool = 2;
        image = [3 2 3 6; 4 5 4 9; 2 1 2 6; 3 4 3 2];
        net.num_sampled_data = 1;
        net.idx_phiZ_pool = {find_index_phiZ(4, 4, 1, 2, 2)};
        net.Z = {[], image(:)'};
        [Zout, idx_pool] = maxpooling(model, net, 1);
        out.Zout = Zout; out.idx_pool = idx_pool;
        net.idx_pool = {idx_pool};
        out.vTP = vTP(struct('nL', 2), model, net, 1, [10 20 30 40], 'pool_gradient');
        % two instances, the second with an all-zero window (a tie) and a tie of 7s
        image2 = [0 0 7 1; 0 0 2 7; 1 1 1 1; 1 1 1 1];
        net.num_sampled_data = 2;
        net.Z = {[], [image(:)' image2(:)']};
        [Zout2, idx_pool2] = maxpooling(model, net, 1);
        out.Zout2 = Zout2; out.idx_pool2 = idx_pool2;
        net.idx_pool = {idx_pool2};
        out.vTP2 = vTP(struct('nL', 2), model, net, 1, 1:8, 'pool_gradient');
        out.vTPJ = vTP(struct('nL', 2), model, net, 1, 1:16, 'pool_Jacobian');
    """, tmp_path)
    # vec([5 9; 4 6]) and the 1-based positions of 5, 4, 9, 6 in vec(image)
    np.testing.assert_array_equal(res["Zout"], [[5, 4, 9, 6]])
    np.testing.assert_array_equal(res["idx_pool"], [[6], [8], [14], [15]])
    expected = np.zeros(16)
    expected[[5, 7, 13, 14]] = [10, 20, 30, 40]
    np.testing.assert_array_equal(res["vTP"], expected[None, :])
    # first max wins: all-zero window -> position 1; 7s at (1,3) and (2,4) -> (1,3) = 9
    np.testing.assert_array_equal(res["Zout2"], [[5, 4, 9, 6, 0, 1, 7, 1]])
    np.testing.assert_array_equal(res["idx_pool2"], [[6, 1], [8, 3], [14, 9], [15, 11]])
    expected2 = np.zeros(32)
    expected2[[5, 7, 13, 14]] = [1, 2, 3, 4]
    expected2[16 + np.array([0, 2, 8, 10])] = [5, 6, 7, 8]
    np.testing.assert_array_equal(res["vTP2"], expected2[None, :])
    # Jacobian: columns class fastest, then instance; each block scatters alone
    expectedJ = np.zeros(64)
    for col, (inst, vals) in enumerate([(0, [1, 2, 3, 4]), (0, [5, 6, 7, 8]),
                                        (1, [9, 10, 11, 12]), (1, [13, 14, 15, 16])]):
        pos = [[5, 7, 13, 14], [0, 2, 8, 10]][inst]
        expectedJ[16 * col + np.array(pos)] = vals
    np.testing.assert_array_equal(res["vTPJ"], expectedJ[None, :])


# --- forward pass against a direct convolution ----------------------------

def conv_direct(Z, W, b, p, h, s):
    """sigma(S) of one instance: Z is d x a x b, W is d_out x (h*h*d) with
    columns ordered height offset, width offset, channel (as init_model's weights)."""
    d, a, bb = Z.shape
    Zp = np.zeros((d, a + 2 * p, bb + 2 * p))
    Zp[:, p:p + a, p:p + bb] = Z
    a_out = (a + 2 * p - h) // s + 1
    b_out = (bb + 2 * p - h) // s + 1
    S = np.zeros((W.shape[0], a_out, b_out))
    for r in range(a_out):
        for q in range(b_out):
            for c in range(d):
                for j in range(h):
                    for i in range(h):
                        S[:, r, q] += W[:, i + h * j + h * h * c] * Zp[c, r * s + i, q * s + j]
            S[:, r, q] += b
    return np.maximum(S, 0)


def pool_direct(X, h):
    """max over non-overlapping h x h windows (remnants dropped), with the
    1-based position within vec(X) of the first maximal entry
    (column-major order inside the window)."""
    d, a, b = X.shape
    out = np.zeros((d, a // h, b // h))
    pos = np.zeros((d, a // h, b // h), dtype=np.int64)
    for c in range(d):
        for r in range(a // h):
            for q in range(b // h):
                best = None
                for j in range(h):
                    for i in range(h):
                        v = X[c, r * h + i, q * h + j]
                        if best is None or v > best:
                            best = v
                            pos[c, r, q] = 1 + c + d * ((r * h + i) + a * (q * h + j))
                out[c, r, q] = best
    return out, pos


def test_forward_matches_direct_convolution_nonsquare(tmp_path):
    res = run_octave(f"""
        param = read_config('{SMALL}');
        randn('state', 3);
        model = init_model(param);
        for m = 1 : param.L
            model.bias{{m}} = 0.1*randn(size(model.bias{{m}}));
        end
        net = init_net(param, model);
        l = 3;
        prob.Z = randn(l, 12*9*2);
        prob.y = [1; 3; 2];
        prob = check_data(prob, param);
        net = feedforward(prob.data, param, model, net);
        out.data = prob.data; out.Z = net.Z; out.idx_pool = net.idx_pool;
        out.W = model.weight; out.b = model.bias;
    """, tmp_path)
    data = res["data"]
    Z = cellvals(res["Z"])
    W = cellvals(res["W"])
    b = [v[:, 0] for v in cellvals(res["b"])]
    idx_pool2 = cellvals(res["idx_pool"])[1]
    n = data.shape[1]
    Z2 = Z[1].reshape(3, 6, 5, n, order="F")
    Z3 = Z[2].reshape(4 * 2 * 2, n, order="F")
    for i in range(n):
        X = data[:, i].reshape(2, 12, 9, order="F")
        A1 = conv_direct(X, W[0], b[0], p=1, h=3, s=2)          # 3 x 6 x 5, no pooling
        np.testing.assert_allclose(Z2[:, :, :, i], A1, rtol=1e-12, atol=1e-12)
        A2 = conv_direct(A1, W[1], b[1], p=1, h=2, s=1)         # 4 x 7 x 6
        P2, pos = pool_direct(A2, 3)                            # 4 x 2 x 2
        np.testing.assert_allclose(Z3[:, i], P2.reshape(-1, order="F"), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(idx_pool2[:, i], pos.reshape(-1, order="F"))
        z4 = np.maximum(W[2] @ P2.reshape(-1, order="F") + b[2], 0)
        z5 = W[3] @ z4 + b[3]
        np.testing.assert_allclose(Z[4][:, i], z5, rtol=1e-12, atol=1e-12)


def test_check_data_layout_sparse_and_errors(tmp_path):
    res = run_octave("""
        param.ht_input = 3; param.wd_input = 2; param.ch_input = [2 4]; param.nL = 3;
        prob.Z = [1:12; 101:112];
        prob.y = [3; 1];
        prob = check_data(prob, param);
        out.data = prob.data; out.label_mat = prob.label_mat; out.l = prob.l;
        % a sparse Z with its trailing zero columns missing
        q.Z = sparse([1:10; 101:110]);
        q.y = [2; 2];
        q = check_data(q, param);
        out.data_short = q.data;
        msgs = {};
        bad = {struct('Z', [1:12; 101:112], 'y', [0; 1]), ...
               struct('Z', [1:12; 101:112], 'y', [1; 4]), ...
               struct('Z', [1:11; 101:111], 'y', [1; 2]), ...
               struct('Z', [1:12; NaN 102:112], 'y', [1; 2])};
        for k = 1 : numel(bad)
            try
                check_data(bad{k}, param);
                msgs{k} = 'no error';
            catch err
                msgs{k} = err.message;
            end
        end
        out.msgs = msgs;
    """, tmp_path)
    Zrows = np.array([np.arange(1, 13), np.arange(101, 113)], dtype=float)
    # row: channel blocks of a*b, each column-major (a = 3, b = 2); column of data:
    # vec of the d x a x b array
    expected = np.stack([row.reshape(3, 2, 2, order="F").transpose(2, 0, 1).reshape(-1, order="F")
                         for row in Zrows], axis=1)
    np.testing.assert_array_equal(res["data"], expected)
    np.testing.assert_array_equal(res["label_mat"], [[0, 1], [0, 0], [1, 0]])
    assert res["l"][0, 0] == 2
    Zshort = Zrows.copy()
    Zshort[:, 10:] = 0
    expected_short = np.stack([row.reshape(3, 2, 2, order="F").transpose(2, 0, 1).reshape(-1, order="F")
                               for row in Zshort], axis=1)
    np.testing.assert_array_equal(res["data_short"], expected_short)
    msgs = [str(m[0]) for m in res["msgs"].reshape(-1)]
    assert "labels must be integers in 1..nL" in msgs[0]
    assert "labels must be integers in 1..nL" in msgs[1]
    assert "Z has 11 columns, expected a*b*d = 12" in msgs[2]
    assert "NaN or Inf" in msgs[3]


# --- gradient ---------------------------------------------------------------

def test_gradient_matches_central_finite_differences(tmp_path):
    res = run_octave(f"""
        param = read_config('{SMALL}');
        randn('state', 7);
        model = init_model(param);
        for m = 1 : param.L
            model.bias{{m}} = 0.1*randn(size(model.bias{{m}}));
        end
        net = init_net(param, model);
        l = 4;
        prob.Z = randn(l, 12*9*2);
        prob.y = [1; 3; 2; 3];
        prob = check_data(prob, param);
        idx = 1 : l;
        [net, loss] = lossgrad_subset(prob, param, model, net, idx, 'fungrad');
        out.loss = loss;
        h = 1e-6;
        fdW = cell(param.L, 1);
        fdb = cell(param.L, 1);
        for m = 1 : param.L
            fdW{{m}} = zeros(size(model.weight{{m}}));
            for k = 1 : numel(fdW{{m}})
                mp = model; mp.weight{{m}}(k) = mp.weight{{m}}(k) + h;
                mm = model; mm.weight{{m}}(k) = mm.weight{{m}}(k) - h;
                [~, fp] = lossgrad_subset(prob, param, mp, net, idx, 'funonly');
                [~, fm] = lossgrad_subset(prob, param, mm, net, idx, 'funonly');
                fdW{{m}}(k) = (fp - fm)/(2*h);
            end
            fdb{{m}} = zeros(size(model.bias{{m}}));
            for k = 1 : numel(fdb{{m}})
                mp = model; mp.bias{{m}}(k) = mp.bias{{m}}(k) + h;
                mm = model; mm.bias{{m}}(k) = mm.bias{{m}}(k) - h;
                [~, fp] = lossgrad_subset(prob, param, mp, net, idx, 'funonly');
                [~, fm] = lossgrad_subset(prob, param, mm, net, idx, 'funonly');
                fdb{{m}}(k) = (fp - fm)/(2*h);
            end
        end
        out.fdW = fdW; out.fdb = fdb;
        out.dlossdW = net.dlossdW; out.dlossdb = net.dlossdb;
        out.W = model.weight;
    """, tmp_path)
    assert res["loss"][0, 0] > 0
    for name_fd, name in (("fdW", "dlossdW"), ("fdb", "dlossdb")):
        for m, (fd, g) in enumerate(zip(cellvals(res[name_fd]), cellvals(res[name])), 1):
            assert fd.shape == g.shape, (name, m)
            assert np.linalg.norm(g) > 0, (name, m)
            rel = np.linalg.norm(fd - g) / np.linalg.norm(fd)
            assert rel < 1e-6, f"{name}{{{m}}}: relative error {rel:.2e} against finite differences"
    shapes = [w.shape for w in cellvals(res["W"])]
    assert shapes == [(3, 18), (4, 12), (6, 16), (3, 6)]


def test_phi_gradient_is_the_adjoint_of_padding_and_phiZ(tmp_path):
    res = run_octave(f"""
        param = read_config('{SMALL}');
        model = init_model(param);
        net = init_net(param, model);
        randn('state', 11);
        n = 3;
        net.num_sampled_data = n;
        out.lhs = zeros(1, 2); out.rhs = zeros(1, 2); out.jac = zeros(1, 2);
        for m = 1 : 2
            d = model.ch_input(m);
            a = model.ht_pad(m); b = model.wd_pad(m);
            h = model.wd_filter(m);
            Zm = randn(d, model.ht_input(m)*model.wd_input(m)*n);
            net.Z{{m}} = Zm;
            phiZ = padding_and_phiZ(model, net, m);
            V = randn(h*h*d, model.ht_conv(m)*model.wd_conv(m)*n);
            G = reshape(vTP(param, model, net, m, V, 'phi_gradient'), d, []);
            G = G(:, net.idx_pad{{m}} + a*b*(0:n-1));
            out.lhs(m) = sum(sum(V.*phiZ));
            out.rhs(m) = sum(sum(G.*Zm));
            % Jacobian variant: nL vectors per instance, class fastest
            VJ = randn(h*h*d*model.ht_conv(m)*model.wd_conv(m), param.nL*n);
            GJ = reshape(vTP(param, model, net, m, VJ, 'phi_Jacobian'), d*a*b, param.nL, n);
            err = 0;
            for c = 1 : param.nL
                Vc = reshape(VJ(:, c : param.nL : end), h*h*d, []);
                Gc = reshape(vTP(param, model, net, m, Vc, 'phi_gradient'), d*a*b, n);
                err = max(err, max(max(abs(Gc - squeeze(GJ(:, c, :))))));
            end
            out.jac(m) = err;
        end
    """, tmp_path)
    np.testing.assert_allclose(res["lhs"], res["rhs"], rtol=1e-12)
    assert np.all(np.abs(res["lhs"]) > 1e-3)
    np.testing.assert_array_equal(res["jac"], [[0, 0]])


def test_fungrad_minibatch_chunks_equal_one_batch(tmp_path):
    res = run_octave(f"""
        param = read_config('{SMALL}');
        randn('state', 5);
        model = init_model(param);
        net = init_net(param, model);
        l = 7;
        prob.Z = randn(l, 12*9*2);
        prob.y = [1; 2; 3; 1; 2; 3; 3];
        prob = check_data(prob, param);
        param.C = 0.5;
        param.bsize = 3;
        [net, f3, g3] = fungrad_minibatch(prob, param, model, net, 'fungrad');
        param.bsize = 100;
        [net, f1, g1] = fungrad_minibatch(prob, param, model, net, 'fungrad');
        [net, loss] = lossgrad_subset(prob, param, model, net, 1:l, 'fungrad');
        reg = 0;
        for m = 1 : param.L
            reg = reg + sum(model.weight{{m}}(:).^2) + sum(model.bias{{m}}.^2);
        end
        out.f_formula = reg/(2*param.C) + loss/l;
        out.gW_formula = model.weight{{1}}/param.C + net.dlossdW{{1}}/l;
        out.f3 = f3; out.f1 = f1;
        out.g3W = g3.dfdW; out.g1W = g1.dfdW; out.g3b = g3.dfdb; out.g1b = g1.dfdb;
        [net, f0, g0] = fungrad_minibatch(prob, param, model, net, 'funonly');
        out.f0 = f0;
    """, tmp_path)
    f1, f3 = res["f1"][0, 0], res["f3"][0, 0]
    assert abs(f3 - f1) <= 1e-12 * abs(f1)
    assert abs(f1 - res["f_formula"][0, 0]) <= 1e-12 * abs(f1)
    assert abs(res["f0"][0, 0] - f1) <= 1e-12 * abs(f1)
    for key3, key1 in (("g3W", "g1W"), ("g3b", "g1b")):
        for a, b in zip(cellvals(res[key3]), cellvals(res[key1])):
            assert np.linalg.norm(a - b) <= 1e-12 * np.linalg.norm(b)
    np.testing.assert_allclose(cellvals(res["g1W"])[0], res["gW_formula"], rtol=1e-12)


# --- configs, training, prediction -----------------------------------------

def test_demo_configs_sizes(tmp_path):
    res = run_octave(f"""
        p3 = read_config('{SEED / 'config' / 'mnist-demo-layer3.config'}');
        m3 = init_model(p3);
        p4 = read_config('{SEED / 'config' / 'mnist-demo-layer4.config'}');
        m4 = init_model(p4);
        out.ht3 = m3.ht_input; out.ch3 = m3.ch_input; out.nL3 = p3.nL; out.LF3 = p3.LF;
        out.W3 = cellfun(@size, m3.weight, 'UniformOutput', false);
        out.ptr3 = m3.var_ptr;
        out.ch4 = m4.ch_input;
        out.W4 = cellfun(@size, m4.weight, 'UniformOutput', false);
        out.std4 = std(m4.weight{{2}}(:));
    """, tmp_path)
    np.testing.assert_array_equal(res["ht3"], [[28, 14, 7, 3]])
    np.testing.assert_array_equal(res["ch3"], [[1, 16, 16, 32]])
    assert res["nL3"][0, 0] == 10 and res["LF3"][0, 0] == 1
    sizes3 = [tuple(s[0]) for s in cellvals(res["W3"])]
    assert sizes3 == [(16, 25), (16, 144), (32, 144), (10, 288)]
    var_num = [16 * 25 + 16, 16 * 144 + 16, 32 * 144 + 32, 10 * 288 + 10]
    np.testing.assert_array_equal(res["ptr3"][:, 0], np.concatenate([[1], np.cumsum(var_num) + 1]))
    np.testing.assert_array_equal(res["ch4"], [[1, 32, 64, 64]])
    sizes4 = [tuple(s[0]) for s in cellvals(res["W4"])]
    assert sizes4 == [(32, 25), (64, 288), (64, 576), (10, 576)]
    # He init: standard deviation sqrt(2/fan_in) = sqrt(2/288)
    assert abs(res["std4"][0, 0] / np.sqrt(2 / 288) - 1) < 0.05


TRAIN_DATA = """
    randn('state', 1);
    l = 40;
    labels = [-1 5 20];
    y = labels(mod(0:l-1, 3) + 1)';
    Z = 0.3*randn(l, 12*9*2);
    for i = 1 : l
        k = find(labels == y(i));
        Z(i, (k-1)*30 + (1:30)) = Z(i, (k-1)*30 + (1:30)) + 1;
    end
"""


def test_cnn_train_sgd_adam_and_predict(tmp_path):
    res = run_octave(TRAIN_DATA + f"""
        cfg = '{SMALL}';
        model = cnn_train(y, Z, cfg, '-s 2 -epoch_max 2 -bsize 16 -lr 0.01 -momentum 0.9 -seed 4');
        again = cnn_train(y, Z, cfg, '-s 2 -epoch_max 2 -bsize 16 -lr 0.01 -momentum 0.9 -seed 4');
        randn('state', 4); rand('state', 4);
        init = init_model(read_config(cfg));
        [pred, acc] = cnn_predict(y, Z, model);
        out.pred = pred; out.acc = acc; out.y = y;
        out.label_enum = model.label_enum;
        out.same = isequal(model.weight, again.weight) && isequal(model.bias, again.bias);
        out.moved = norm(model.weight{{1}} - init.weight{{1}}, 'fro');
        out.W1 = model.weight{{1}};
        adam_model = cnn_train(y, Z, cfg, '-s 3 -epoch_max 2 -bsize 16 -seed 4');
        [pred_a, acc_a] = cnn_predict(y, Z, adam_model);
        out.pred_a = pred_a; out.acc_a = acc_a;
        out.moved_a = norm(adam_model.weight{{1}} - init.weight{{1}}, 'fro');
        out.W1_a = adam_model.weight{{1}};
    """, tmp_path)
    y = res["y"][:, 0]
    for pred, acc, moved in ((res["pred"], res["acc"], res["moved"]),
                             (res["pred_a"], res["acc_a"], res["moved_a"])):
        assert pred.shape == (40, 1)
        assert set(pred[:, 0]) <= {-1, 5, 20}
        assert acc[0, 0] == pytest.approx(np.mean(pred[:, 0] == y))
        assert moved[0, 0] > 1e-6            # training changed the weights
    np.testing.assert_array_equal(res["label_enum"][:, 0], [-1, 5, 20])
    assert res["same"][0, 0]                 # -seed makes runs reproducible
    assert not np.array_equal(res["W1"], res["W1_a"])


@pytest.mark.parametrize("options, message", [
    ("-s 2 -epoch_max", "odd number of tokens"),
    ("-s 2 -foo 3", "unknown option -foo"),
    ("-s 2 -GNsize 3", "unknown option -GNsize"),        # the seed's options only (Newton runs: compare-train)
    ("-s 2 -lr abc", "needs a numeric value"),
])
def test_cnn_train_rejects_bad_options(tmp_path, options, message):
    err = run_octave(TRAIN_DATA + f"""
        model = cnn_train(y, Z, '{SMALL}', '{options}');
    """, tmp_path, expect_error=True)
    assert message in err


def test_read_config_errors(tmp_path):
    bad = tmp_path / "bad.config"
    bad.write_text(SMALL.read_text().replace("ch_input = [2,3,4];", "ch_input = [2,3];"))
    err = run_octave(f"param = read_config('{bad}');", tmp_path, expect_error=True)
    assert "ch_input must have LC+1 = 3 entries" in err
    missing = tmp_path / "missing.config"
    missing.write_text(SMALL.read_text().replace("strides = [2,1];", ""))
    err = run_octave(f"param = read_config('{missing}');", tmp_path, expect_error=True)
    assert "missing key strides" in err


def test_single_precision_stays_single(tmp_path):
    res = run_octave(f"""
        param = read_config('{SMALL}');
        randn('state', 9);
        model = init_model(param);
        net = init_net(param, model);
        l = 5;
        prob.Z = randn(l, 12*9*2);
        prob.y = [1; 2; 3; 2; 1];
        prob = check_data(prob, param);
        [net, loss] = lossgrad_subset(prob, param, model, net, 1:l, 'fungrad');
        out.loss = loss; out.dW = net.dlossdW; out.db = net.dlossdb;
        smodel = model;
        for m = 1 : param.L
            smodel.weight{{m}} = single(model.weight{{m}});
            smodel.bias{{m}} = single(model.bias{{m}});
        end
        sprob = prob;
        sprob.data = single(prob.data);
        [net, sloss] = lossgrad_subset(sprob, param, smodel, net, 1:l, 'fungrad');
        out.sloss = sloss; out.sdW = net.dlossdW; out.sdb = net.dlossdb;
        classes = cellfun(@class, [net.dlossdW; net.dlossdb; net.Z], 'UniformOutput', false);
        out.all_single = all(strcmp(classes, 'single')) && strcmp(class(sloss), 'single');
    """, tmp_path)
    assert res["all_single"][0, 0]
    assert res["sloss"].dtype == np.float32
    assert abs(float(res["sloss"][0, 0]) - res["loss"][0, 0]) <= 1e-5 * res["loss"][0, 0]
    for key_s, key_d in (("sdW", "dW"), ("sdb", "db")):
        for s, d in zip(cellvals(res[key_s]), cellvals(res[key_d])):
            assert s.dtype == np.float32
            assert np.linalg.norm(s - d) <= 1e-4 * np.linalg.norm(d)
