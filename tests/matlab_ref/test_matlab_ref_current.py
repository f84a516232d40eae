"""matlab_ref/current/MATLAB, our MATLAB/Octave reference in the current layout,
checked under Octave against independent oracles:

* central finite differences of the loss (gradient) and of the network
  output (Jv), on small non-square networks;
* the adjoint identity <u, J v> = <J' u, v>;
* the Gauss-Newton products JTBJv (stored Jacobian) and R_JTBJv (R-operator)
  against an explicit J'BJ whose J is built column by column (by finite
  differences and by Jv of unit vectors);
* the slides' 4x4 pooling example, and find_index_phiZ / check_data against
  loops written from their definitions;
* Newton (both Gauss-Newton products), SGD and Adam through cnn_train:
  printed lines, monotone f, the LM rule, one SGD step = gradient descent,
  Adam's bias correction with the epoch counter;
* cnn_predict's label mapping, the option parser's defaults and errors.

Each Octave run prints ``VAL name number`` lines that the tests read.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import needs_octave

REPO = Path(__file__).resolve().parents[2]
TREE = REPO / "matlab_ref" / "current" / "MATLAB"
TINY = TREE / "config" / "tiny-nonsquare.config"
DEMO = TREE / "config" / "mnist-demo-layer4.config"

pytestmark = needs_octave

PRELUDE = f"""
addpath('{TREE}'); addpath('{TREE / 'cnn'}'); addpath('{TREE / 'opt'}');
global gpu_use float_type
gpu_use = false; float_type = 'double';
"""

# A tiny network with random biases (so that no bias sits at 0) on l
# random instances of the tiny non-square config, and the flat vector theta.
TINY_NET = f"""
randn('state', 3); rand('state', 3);
model = init_model(read_config('{TINY}'));
for m = 1 : model.L
    model.bias{{m}} = 0.1*randn(size(model.bias{{m}}));
end
l = 4;
y = [1; 2; 3; 2];
Z = randn(l, 7*6*2);
prob = check_data(y, Z, model);
param.bsize = 3;
param.C = 0.01*l;
net = init_net(model, param);
theta = cells_to_vec(model.weight, model.bias);
n = numel(theta);
"""


def octave(body: str, tmp_path: Path, timeout: int = 120) -> str:
    """Run PRELUDE + body in octave-cli; return stdout (fail on an error)."""
    script = tmp_path / "h4_run.m"
    script.write_text(PRELUDE + body)
    proc = subprocess.run(["octave-cli", "--norc", "--no-history", "--quiet", str(script)],
                          capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    if proc.returncode != 0:
        pytest.fail(f"octave failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def values(out: str) -> dict[str, float]:
    """The numeric ``VAL name number`` lines of an Octave run."""
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^VAL (\S+) ([-+0-9.eEinfaINF]+)$", out, flags=re.M)}


def octave_error(body: str, tmp_path: Path) -> str:
    """Run body expecting an error; return the error message."""
    out = octave(f"try\n{body}\nfprintf('NOERROR\\n');\ncatch e\nfprintf('ERR %s\\n', e.message);\nend\n",
                 tmp_path)
    assert "NOERROR" not in out, f"no error raised by: {body}"
    return out.split("ERR ", 1)[1].strip()


# --- gradient path ---------------------------------------------------------

FD_LOSS = """
[net, loss] = lossgrad_subset(prob, model, net, 1:l, 'fungrad');
g = cells_to_vec(net.dlossdW, net.dlossdb);
h = 1e-6;
gfd = zeros(n, 1);
for j = 1 : n
    mo = model;
    t = theta; t(j) = t(j) + h; [mo.weight, mo.bias] = vec_to_cells(t, model);
    [~, lp] = lossgrad_subset(prob, mo, net, 1:l, 'funonly');
    t = theta; t(j) = t(j) - h; [mo.weight, mo.bias] = vec_to_cells(t, model);
    [~, lm] = lossgrad_subset(prob, mo, net, 1:l, 'funonly');
    gfd(j) = (lp - lm)/(2*h);
end
fprintf('VAL relerr %.17g\\nVAL gnorm %.17g\\nVAL loss %.17g\\n', norm(g - gfd)/norm(g), norm(g), loss);
for m = 1 : model.L
    fprintf('VAL sizeW%d %d\\nVAL sizeb%d %d\\n', m, isequal(size(net.dlossdW{m}), size(model.weight{m})), m, isequal(size(net.dlossdb{m}), size(model.bias{m})));
end
"""


def test_gradient_matches_finite_differences_nonsquare(tmp_path):
    v = values(octave(TINY_NET + FD_LOSS, tmp_path))
    assert v["gnorm"] > 1.0
    assert v["relerr"] < 1e-7
    assert all(v[f"size{w}{m}"] == 1 for m in range(1, 5) for w in "Wb")


def test_gradient_one_conv_layer_pool3_several_channels(tmp_path):
    cfg = tmp_path / "one-conv.config"
    cfg.write_text("L = 3;\nLC = 1;\nLF = 2;\nht_input = 9;\nwd_input = 7;\nch_input = [3,2];\n"
                   "wd_pad_added = [0];\nwd_filter = [2];\nstrides = [1];\nwd_subimage_pool = [3];\n"
                   "full_neurons = [4,2];\n")
    body = f"""
randn('state', 5); rand('state', 5);
model = init_model(read_config('{cfg}'));
for m = 1 : model.L
    model.bias{{m}} = 0.1*randn(size(model.bias{{m}}));
end
l = 3; y = [4; 9; 4]; Z = randn(l, 9*7*3);
prob = check_data(y, Z, model);
param.bsize = 2; param.C = 1;
net = init_net(model, param);
theta = cells_to_vec(model.weight, model.bias);
n = numel(theta);
fprintf('VAL ht2 %d\\nVAL wd2 %d\\n', model.ht_input(2), model.wd_input(2));
""" + FD_LOSS
    v = values(octave(body, tmp_path))
    assert (v["ht2"], v["wd2"]) == (2, 2)      # 9-2+1 = 8 -> floor(8/3) = 2; 7-2+1 = 6 -> 2
    assert v["relerr"] < 1e-7


def test_fungrad_minibatch_is_regularised_average(tmp_path):
    body = TINY_NET + """
[net, f, grad] = fungrad_minibatch(prob, param, model, net, 'fungrad');
[net, loss] = lossgrad_subset(prob, model, net, 1:l, 'fungrad');
reg = sum(theta.^2);
g_all = cells_to_vec(net.dlossdW, net.dlossdb);
fprintf('VAL ferr %.17g\\n', abs(f - (reg/(2*param.C) + loss/l))/f);
fprintf('VAL gerr %.17g\\n', norm(cells_to_vec(grad.dfdW, grad.dfdb) - (theta/param.C + g_all/l))/norm(g_all));
[net, f2] = fungrad_minibatch(prob, param, model, net, 'funonly');
fprintf('VAL f2err %.17g\\n', abs(f2 - f)/f);
"""
    v = values(octave(body, tmp_path))
    assert v["ferr"] < 1e-14 and v["gerr"] < 1e-13 and v["f2err"] == 0.0


# --- Jv, JTv, Gauss-Newton products -----------------------------------------

def test_adjoint_and_Jv_finite_differences(tmp_path):
    body = TINY_NET + """
net = feedforward(prob.data, model, net);
randn('state', 11);
v = randn(n, 1);
u = randn(model.nL, l);
Jv_ = Jv(model, net, v);
[dW, db] = JTv(model, net, u);
JTu = cells_to_vec(dW, db);
fprintf('VAL uJv %.17g\\nVAL JTuv %.17g\\n', sum(sum(u.*Jv_)), JTu'*v);
h = 1e-6;
mo = model;
[mo.weight, mo.bias] = vec_to_cells(theta + h*v, model);
np_ = feedforward(prob.data, mo, net);
[mo.weight, mo.bias] = vec_to_cells(theta - h*v, model);
nm_ = feedforward(prob.data, mo, net);
fd = (np_.Z{model.L+1} - nm_.Z{model.L+1})/(2*h);
fprintf('VAL jvfd %.17g\\nVAL jvnorm %.17g\\n', norm(fd - Jv_, 'fro')/norm(Jv_, 'fro'), norm(Jv_, 'fro'));
fprintf('VAL shape %d\\n', isequal(size(Jv_), [model.nL, l]));
"""
    v = values(octave(body, tmp_path))
    assert v["shape"] == 1
    assert abs(v["uJv"] - v["JTuv"]) <= 1e-12 * max(1.0, abs(v["uJv"]))
    assert v["jvnorm"] > 1e-3 and v["jvfd"] < 1e-7


def test_gauss_newton_products_equal_explicit_JtBJ(tmp_path):
    body = TINY_NET + """
net = feedforward(prob.data, model, net);
nz = model.nL*l;
J_fd = zeros(nz, n);
J_jv = zeros(nz, n);
h = 1e-6;
mo = model;
for j = 1 : n
    e = zeros(n, 1); e(j) = 1;
    t = Jv(model, net, e); J_jv(:, j) = t(:);
    [mo.weight, mo.bias] = vec_to_cells(theta + h*e, model); np_ = feedforward(prob.data, mo, net);
    [mo.weight, mo.bias] = vec_to_cells(theta - h*e, model); nm_ = feedforward(prob.data, mo, net);
    t = (np_.Z{model.L+1} - nm_.Z{model.L+1})/(2*h); J_fd(:, j) = t(:);
end
G = J_jv'*(2*eye(nz))*J_jv;
G_fd = J_fd'*(2*eye(nz))*J_fd;
netJ = Jacobian(model, net);
randn('state', 12);
worst_R = 0; worst_J = 0; worst_fd = 0;
for trial = 1 : 3
    v = randn(n, 1);
    a = JTBJv(model, netJ, v);
    b = R_JTBJv(model, net, v);
    worst_R = max(worst_R, norm(a - b)/norm(a));
    worst_J = max(worst_J, norm(a - G*v)/norm(a));
    worst_fd = max(worst_fd, norm(a - G_fd*v)/norm(a));
end
fprintf('VAL R %.17g\\nVAL explicit %.17g\\nVAL fd %.17g\\nVAL Jfd %.17g\\n', worst_R, worst_J, worst_fd, norm(J_fd - J_jv, 'fro')/norm(J_jv, 'fro'));
fprintf('VAL dzdS_L %d\\n', isequal(size(netJ.dzdS{model.L}), [model.nL, model.nL*l]));
fprintf('VAL dzdS_1 %d\\n', isequal(size(netJ.dzdS{1}), [model.ch_input(2), model.ht_conv(1)*model.wd_conv(1)*model.nL*l]));
"""
    v = values(octave(body, tmp_path))
    assert v["Jfd"] < 1e-7                      # J column by column: Jv(e_j) == finite differences
    assert v["R"] < 1e-13                       # stored Jacobian == R-operator
    assert v["explicit"] < 1e-13                # == explicit J'BJ
    assert v["fd"] < 1e-6
    assert v["dzdS_L"] == 1 and v["dzdS_1"] == 1


# --- index maps, pooling, data layout ------------------------------------------

def test_slides_pooling_example_and_ties(tmp_path):
    body = """
model.ch_input = [1, 1]; model.ht_conv = 4; model.wd_conv = 4; model.wd_subimage_pool = 2;
model.nL = 1;
net.idx_phiZ_pool{1} = find_index_phiZ(4, 4, 1, 2, 2);
B = [3 2 3 6; 4 5 4 9; 2 1 2 6; 3 4 3 2];
[Zp, idx_pool, R_Z] = maxpooling(model, net, reshape(B, 1, []), 1, reshape(101:116, 1, []));
fprintf('VAL Z %s\\n', sprintf('%g,', Zp));
fprintf('VAL idx %s\\n', sprintf('%g,', idx_pool));
fprintf('VAL RZ %s\\n', sprintf('%g,', R_Z));
net.idx_pool{1} = idx_pool;
back = vTP(model, net, 1, 1, [10 20 30 40], 'pool_gradient');
fprintf('VAL back %s\\n', sprintf('%g,', back));
T = zeros(4, 4);
[~, idx_tie] = maxpooling(model, net, reshape(T, 1, []), 1);
fprintf('VAL tie %s\\n', sprintf('%g,', idx_tie));
"""
    out = octave(body, tmp_path)
    got = {m.group(1): m.group(2) for m in re.finditer(r"^VAL (\S+) (\S+)$", out, flags=re.M)}
    parse = lambda s: [float(x) for x in s.strip(",").split(",")]    # noqa: E731
    assert parse(got["Z"]) == [5, 4, 9, 6]              # vec([5 9; 4 6])
    assert parse(got["idx"]) == [6, 8, 14, 15]          # winners, column-major in the 4x4 image
    assert parse(got["RZ"]) == [106, 108, 114, 115]
    expected = [0.0] * 16
    for pos, val in zip([6, 8, 14, 15], [10, 20, 30, 40]):
        expected[pos - 1] = val
    assert parse(got["back"]) == expected
    assert parse(got["tie"]) == [1, 3, 9, 11]           # all-zero windows: the first entry wins


def test_phiZ_and_check_data_match_definitions(tmp_path):
    body = f"""
a = 5; b = 4; d = 2; h = 2; s = 2;
idx = find_index_phiZ(a, b, d, h, s);
a_out = floor((a-h)/s)+1; b_out = floor((b-h)/s)+1;
ok = isequal(size(idx), [h*h*d, a_out*b_out]);
for c = 0 : d-1
  for i = 0 : h-1
    for j = 0 : h-1
      for r = 0 : a_out-1
        for q = 0 : b_out-1
          ok = ok && idx(1 + i + h*j + h*h*c, 1 + r + a_out*q) == 1 + c + d*((r*s + i) + a*(q*s + j));
        end
      end
    end
  end
end
fprintf('VAL phi %d\\n', ok);
model = init_model(read_config('{TINY}'));
randn('state', 2);
l = 3; Z = randn(l, 7*6*2);
prob = check_data([5; 7; 5], Z, model);
ok = isequal(size(prob.data), [2*7*6, l]);
for inst = 1 : l
  for c = 1 : 2
    for y = 1 : 7
      for x = 1 : 6
        ok = ok && prob.data(c + 2*((y-1) + 7*(x-1)), inst) == Z(inst, (c-1)*42 + y + 7*(x-1));
      end
    end
  end
end
fprintf('VAL data %d\\n', ok);
fprintf('VAL ymap %s\\n', sprintf('%d,', prob.y_mapped));
fprintf('VAL enum %s\\n', sprintf('%d,', prob.label_enum));
Zs = sparse(Z(:, 1:50));
prob2 = check_data([5; 7; 5], Zs, model);
Zp = [Z(:, 1:50), zeros(l, 34)];
prob3 = check_data([5; 7; 5], Zp, model);
fprintf('VAL sparse %d\\n', isequal(prob2.data, prob3.data));
net = init_net(model, struct('bsize', 2));
num = 2;
Zin = randn(model.ch_input(1), model.ht_input(1)*model.wd_input(1)*num);
phiZ = padding_and_phiZ(model, net, Zin, 1, num);
p = model.wd_pad_added(1); hf = model.wd_filter(1); dd = model.ch_input(1);
Z4 = zeros(dd, model.ht_pad(1), model.wd_pad(1), num);
Z4(:, p+1:p+7, p+1:p+6, :) = reshape(Zin, dd, 7, 6, num);
ok = isequal(size(phiZ), [hf*hf*dd, model.ht_conv(1)*model.wd_conv(1)*num]);
for inst = 1 : num
  for r = 1 : model.ht_conv(1)
    for q = 1 : model.wd_conv(1)
      patch = Z4(:, r:r+hf-1, q:q+hf-1, inst);
      col = r + model.ht_conv(1)*(q-1) + model.ht_conv(1)*model.wd_conv(1)*(inst-1);
      ok = ok && isequal(phiZ(:, col), reshape(permute(patch, [2 3 1]), [], 1));
    end
  end
end
fprintf('VAL pad %d\\n', ok);
"""
    out = octave(body, tmp_path)
    got = {m.group(1): m.group(2) for m in re.finditer(r"^VAL (\S+) (\S+)$", out, flags=re.M)}
    assert got["phi"] == "1" and got["data"] == "1" and got["sparse"] == "1" and got["pad"] == "1"
    assert got["ymap"] == "1,2,1," and got["enum"] == "5,7,"


def test_demo_config_sizes(tmp_path):
    body = f"""
model = init_model(read_config('{DEMO}'));
fprintf('VAL ht %s\\n', sprintf('%d,', model.ht_input));
fprintf('VAL ptr %s\\n', sprintf('%d,', model.var_ptr));
fprintf('VAL W4 %s\\n', sprintf('%d,', size(model.weight{{4}})));
"""
    out = octave(body, tmp_path)
    got = {m.group(1): m.group(2) for m in re.finditer(r"^VAL (\S+) (\S+)$", out, flags=re.M)}
    assert got["ht"] == "28,14,7,3,"
    # (25+1)*32, (288+1)*64, (576+1)*64, (576+1)*10
    assert got["ptr"] == "1,833,19329,56257,62027,"
    assert got["W4"] == "10,576,"


def test_bad_config_and_data_errors(tmp_path):
    bad = tmp_path / "bad.config"
    bad.write_text(TINY.read_text().replace("ch_input = [2,3,4];", "ch_input = [2,3];"))
    msg = octave_error(f"init_model(read_config('{bad}'));", tmp_path)
    assert "ch_input" in msg and "3" in msg
    code = tmp_path / "code.config"
    code.write_text(TINY.read_text().replace("L = 4;", "L = system('ls');"))
    msg = octave_error(f"read_config('{code}');", tmp_path)
    assert "code.config" in msg and "L" in msg
    msg = octave_error(f"model = init_model(read_config('{TINY}')); check_data([1;2], randn(2, 10), model);",
                       tmp_path)
    assert "columns" in msg
    msg = octave_error(f"model = init_model(read_config('{TINY}')); check_data([1;2;3;4], randn(4, 84), model);",
                       tmp_path)
    assert "labels" in msg


# --- training ------------------------------------------------------------------

NEWTON_LINE = re.compile(
    r"^(\d+)-iter f: (\S+) \|g\|: (\S+) alpha: (\S+) ratio: (\S+) lambda: (\S+) #CG: (\d+) "
    r"actred: (\S+) prered: (\S+)$", re.M)
FULL_ROW = re.compile(r"^ROW (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)$", re.M)

TRAIN_DATA = """
randn('state', 0); rand('state', 0);
l = 40;
y = 10*(mod((1:l)', 3) + 1);
Z = randn(l, 7*6*2);
"""


def test_newton_decreases_f_prints_lines_and_both_products_agree(tmp_path):
    body = TRAIN_DATA + f"""
[m1, i1] = cnn_train(y, Z, [], [], '{TINY}', '-s 1 -iter_max 4 -GNsize 15 -bsize 8 -Jacobian 1 -lambda 0.5', 7);
fprintf('ROW %d %.17g %.17g %.17g %.17g %.17g %d %.17g %.17g\\n', [(1:4)', i1.f, i1.gnorm, i1.alpha, i1.ratio, i1.lambda, i1.cg, i1.actred, i1.prered]');
fprintf('SPLIT\\n');
[m0, i0] = cnn_train(y, Z, [], [], '{TINY}', '-s 1 -iter_max 4 -GNsize 15 -bsize 8 -Jacobian 0 -lambda 0.5', 7);
fprintf('ROW %d %.17g %.17g %.17g %.17g %.17g %d %.17g %.17g\\n', [(1:4)', i0.f, i0.gnorm, i0.alpha, i0.ratio, i0.lambda, i0.cg, i0.actred, i0.prered]');
fprintf('VAL f0 %.17g\\n', i1.f0);
fprintf('VAL enum %s\\n', sprintf('%d,', m1.labels));
"""
    out = octave(body, tmp_path)
    jac, rop = out.split("SPLIT")
    assert re.match(r"^initial f: \S+$", jac.strip().splitlines()[0])
    assert len(NEWTON_LINE.findall(jac)) == 4                   # the printed lines, %g
    rows1 = [tuple(map(float, r)) for r in FULL_ROW.findall(jac)]
    rows0 = [tuple(map(float, r)) for r in FULL_ROW.findall(rop)]
    assert [r[0] for r in rows1] == [1, 2, 3, 4]
    assert re.search(r"^total_#CG: (\d+)$", jac, re.M).group(1) == str(int(sum(r[6] for r in rows1)))
    f0 = values(out)["f0"]
    fs = [f0] + [r[1] for r in rows1]
    assert all(b < a for a, b in zip(fs, fs[1:])), fs
    lam = 0.5
    for r in rows1:
        k, f, g, alpha, ratio, lam_new, cg, actred, prered = r
        assert actred == pytest.approx(fs[int(k)] - fs[int(k) - 1], rel=1e-9, abs=1e-12)
        assert ratio == pytest.approx(actred / prered, rel=1e-12)
        expected = lam * 1.5 if ratio < 0.25 else (lam * 2 / 3 if ratio >= 0.75 else lam)
        assert lam_new == pytest.approx(expected, rel=1e-12)
        assert prered < 0 and 0 < alpha <= 1 and cg >= 1
        lam = lam_new
    # stored Jacobian and R-operator: the same trajectory and CG counts
    assert len(rows0) == len(rows1)
    for a, b in zip(rows1, rows0):
        assert a[6] == b[6]
        assert a[1] == pytest.approx(b[1], rel=1e-10)
    assert "enum 10,20,30," in out


def test_sgd_full_batch_step_is_gradient_descent(tmp_path):
    body = TRAIN_DATA + f"""
model = cnn_train(y, Z, [], [], '{TINY}', '-s 2 -epoch_max 1 -bsize 40 -lr 0.05 -C 0.1', 9);
rand('state', 9); randn('state', 9);
m0 = init_model(read_config('{TINY}'));
prob = check_data(y, Z, m0);
param.bsize = 40; param.C = 0.1*l;
net = init_net(m0, param);
[net, f, grad] = fungrad_minibatch(prob, param, m0, net, 'fungrad');
g = cells_to_vec(grad.dfdW, grad.dfdb);
theta0 = cells_to_vec(m0.weight, m0.bias);
theta1 = cells_to_vec(model.weight, model.bias);
fprintf('VAL err %.17g\\nVAL step %.17g\\n', norm(theta1 - (theta0 - 0.05*g))/norm(0.05*g), norm(theta1 - theta0));
"""
    out = octave(body, tmp_path)
    assert re.search(r"^1-epoch loss/batch_size: \S+$", out, re.M)
    v = values(out)
    assert v["step"] > 1e-3 and v["err"] < 1e-12


def test_adam_bias_correction_uses_epoch_counter(tmp_path):
    body = TRAIN_DATA + f"""
[model, info] = cnn_train(y, Z, [], [], '{TINY}', '-s 3 -epoch_max 1 -bsize 20 -decay 0.5', 4);
rand('state', 4); randn('state', 4);
m0 = init_model(read_config('{TINY}'));
prob = check_data(y, Z, m0);
param.C = 0.01*l;
net = init_net(m0, struct('bsize', 20));
theta = cells_to_vec(m0.weight, m0.bias);
quirk = theta; textbook = theta;
mq = 0*theta; vq = 0*theta; mt = mq; vt = vq;
for step = 1 : 2
    batch = randperm(l, 20);
    for variant = 1 : 2
        mo = m0;
        if variant == 1
            [mo.weight, mo.bias] = vec_to_cells(quirk, m0);
        else
            [mo.weight, mo.bias] = vec_to_cells(textbook, m0);
        end
        net = lossgrad_subset(prob, mo, net, batch, 'fungrad');
        g = cells_to_vec(net.dlossdW, net.dlossdb)/20 + cells_to_vec(mo.weight, mo.bias)/param.C;
        if variant == 1
            mq = 0.9*mq + 0.1*g; vq = 0.999*vq + 0.001*g.^2;
            quirk = quirk - 0.01*(mq/(1 - 0.9^1))./(sqrt(vq/(1 - 0.999^1)) + 1e-8);
        else
            mt = 0.9*mt + 0.1*g; vt = 0.999*vt + 0.001*g.^2;
            textbook = textbook - 0.01*(mt/(1 - 0.9^step))./(sqrt(vt/(1 - 0.999^step)) + 1e-8);
        end
    end
end
got = cells_to_vec(model.weight, model.bias);
fprintf('VAL quirk %.17g\\nVAL textbook %.17g\\n', norm(got - quirk)/norm(got - theta), norm(got - textbook)/norm(got - theta));
fprintf('VAL nf %d\\n', numel(info.loss));
"""
    v = values(octave(body, tmp_path))
    assert v["nf"] == 1
    assert v["quirk"] < 1e-12          # lr 0.01 by default, no decay, the epoch counter k = 1 on both steps
    assert v["textbook"] > 1e-3        # ... which is not textbook Adam


def test_single_precision_end_to_end(tmp_path):
    body = TINY_NET + """
[netd, lossd] = lossgrad_subset(prob, model, net, 1:l, 'fungrad');
float_type = 'single';
ms = model;
for m = 1 : model.L
    ms.weight{m} = single(model.weight{m}); ms.bias{m} = single(model.bias{m});
end
probs = check_data(y, Z, ms);
[nets, losss] = lossgrad_subset(probs, ms, net, 1:l, 'fungrad');
gd = cells_to_vec(netd.dlossdW, netd.dlossdb);
gs = cells_to_vec(nets.dlossdW, nets.dlossdb);
fprintf('VAL cls %d\\n', strcmp(class(gs), 'single') && strcmp(class(losss), 'single') && strcmp(class(probs.data), 'single'));
fprintf('VAL err %.17g\\nVAL lerr %.17g\\n', norm(double(gs) - gd)/norm(gd), abs(double(losss) - lossd)/lossd);
"""
    v = values(octave(body, tmp_path))
    assert v["cls"] == 1
    assert 0 < v["err"] < 1e-4 and v["lerr"] < 1e-5


def test_predict_maps_back_through_sorted_labels(tmp_path):
    body = f"""
model = init_model(read_config('{TINY}'));
model.labels = [3; 7; 11];
model.weight{{4}} = zeros(size(model.weight{{4}}));
model.bias{{4}} = [0; 1; 0];
randn('state', 1);
y = [7; 3; 7; 11; 7];
[labels, acc] = cnn_predict(y, randn(5, 84), model, '-bsize 2');
fprintf('VAL labels %s\\nVAL acc %.17g\\n', sprintf('%d,', labels), acc);
model.bias{{4}} = [2; 1; 2];
labels = cnn_predict(y, randn(5, 84), model);
fprintf('VAL tie %s\\n', sprintf('%d,', labels));
"""
    out = octave(body, tmp_path)
    assert "VAL labels 7,7,7,7,7," in out
    assert values(out)["acc"] == pytest.approx(0.6)
    assert "VAL tie 3,3,3,3,3," in out        # first maximum wins


def test_options_defaults_and_errors(tmp_path):
    body = """
p = parse_options('', 100);
fprintf('VAL newton %g,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g,%g\\n', p.solver, p.C, p.bsize, p.iter_max, p.xi, p.CGmax, p.lambda, p.drop, p.boost, p.eta, p.Jacobian, p.epoch_max, p.lr, p.decay, p.momentum, p.ftype);
fprintf('VAL gn %d\\n', p.GNsize);
p = parse_options('-s 3', 100);
fprintf('VAL adam %g,%g\\n', p.bsize, p.lr);
p = parse_options('-s 2 -bsize 64 -lr 0.1 -momentum 1.5 -C 1/100', 100);
fprintf('VAL sgd %g,%g,%g,%g\\n', p.bsize, p.lr, p.momentum, p.C);
"""
    out = octave(body, tmp_path)
    got = {m.group(1): m.group(2) for m in re.finditer(r"^VAL (\S+) (\S+)$", out, flags=re.M)}
    newton = [float(x) for x in got["newton"].split(",")]
    assert newton == pytest.approx([1, 1.0, 1024, 100, 0.1, 250, 1, 2 / 3, 1.5, 1e-4, 1, 500, 0.01, 0, 0, 1])
    assert got["gn"] == "5" and got["adam"] == "128,0.01" and got["sgd"] == "64,0.1,1.5,1"
    assert "name and a value" in octave_error("parse_options('-s 1 -C', 10);", tmp_path)
    assert "-foo is not a supported option" in octave_error("parse_options('-s 1 -foo 3', 10);", tmp_path)
    assert "-seed is not a supported option" in octave_error("parse_options('-seed 3', 10);", tmp_path)
    assert "-CGmax" in octave_error("parse_options('-CGmax abc', 10);", tmp_path)
    assert "-s" in octave_error("parse_options('-s 4', 10);", tmp_path)
    msg = octave_error(TRAIN_DATA + f"cnn_train(y, Z, [], [], '{TINY}', '-s 2 -epoch_max');", tmp_path)
    assert "name and a value" in msg
    msg = octave_error(TRAIN_DATA + f"cnn_train(y, Z, [], [], '{TINY}', '-s 2 -bsize 41');", tmp_path)
    assert "-bsize 41 is larger than the 40 instances" in msg


def test_trace_friendly_files():
    """The harness instruments feedforward.m, lossgrad_subset.m and JTv.m
    line by line: no '...' continuations, loops over layers use m, and each
    file's function name is its file name everywhere in the tree."""
    for name in ("feedforward", "lossgrad_subset", "JTv"):
        src = (TREE / "cnn" / f"{name}.m").read_text()
        code = [ln.split("%")[0] for ln in src.splitlines()]
        assert not any("..." in c for c in code), name
        loops = [c for c in code if re.match(r"\s*for\b", c)]
        assert all(re.match(r"\s*for m = ", c) for c in loops), (name, loops)
    for f in TREE.rglob("*.m"):
        first = next(ln for ln in f.read_text().splitlines() if ln.startswith("function"))
        assert re.search(r"\b" + re.escape(f.stem) + r"\s*\(", first), f


def test_mnist_demo_shape_directional_derivatives(tmp_path, shared_data):
    """On the 4-layer MNIST demo shape with 8 shipped images (labels 0..9,
    row-major storage turned column-major as upstream's example does): the
    gradient and Jv along a random direction equal central differences, and
    the two Gauss-Newton products agree.  Biases are made nonzero: with zero
    biases the all-zero patches of the images give S = 0 exactly, a ReLU kink
    where finite differences are one-sided."""
    body = f"""
load('{shared_data / 'mnist-demo.mat'}');
Z = reshape(permute(reshape(full(Z(1:8, :)), [], 28, 28, 1), [1 3 2 4]), [], 784)/255;
y = y(1:8);
randn('state', 21);
model = init_model(read_config('{DEMO}'));
for m = 1 : model.L
    model.bias{{m}} = 0.1*randn(size(model.bias{{m}}));
end
prob = check_data(y, Z - mean(Z), model);
net = init_net(model, struct('bsize', 8));
[net, loss] = lossgrad_subset(prob, model, net, 1:8, 'fungrad');
g = cells_to_vec(net.dlossdW, net.dlossdb);
theta = cells_to_vec(model.weight, model.bias);
v = randn(numel(theta), 1);
h = 1e-7;
mo = model;
[mo.weight, mo.bias] = vec_to_cells(theta + h*v, model); [np_, lp] = lossgrad_subset(prob, mo, net, 1:8, 'funonly');
[mo.weight, mo.bias] = vec_to_cells(theta - h*v, model); [nm_, lm] = lossgrad_subset(prob, mo, net, 1:8, 'funonly');
fprintf('VAL gv %.17g\\nVAL fd %.17g\\n', g'*v, (lp - lm)/(2*h));
Jv_ = Jv(model, net, v);
fd = (np_.Z{{5}} - nm_.Z{{5}})/(2*h);
fprintf('VAL jv %.17g\\n', norm(fd - Jv_, 'fro')/norm(Jv_, 'fro'));
a = R_JTBJv(model, net, v);
b = JTBJv(model, Jacobian(model, net), v);
fprintf('VAL gn %.17g\\nVAL nclass %d\\n', norm(a - b)/norm(a), numel(prob.label_enum));
"""
    v = values(octave(body, tmp_path))
    assert v["gv"] == pytest.approx(v["fd"], rel=1e-6)
    assert v["jv"] < 1e-6 and v["gn"] < 1e-12
    assert v["nclass"] >= 5
