"""Fault injection: one statement of the forward or backward pass changed in
a copy of the real current code (bc40417, from the bundle) or of
``matlab_ref/seed``; the comparison must report the first divergence at the
stage whose value the fault first changes, no later (and no earlier).

Also: an edited copy of the real code (variables renamed, statements split,
restyled) PASSes with every stage compared that the unmodified code exposes.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import needs_octave
from harness_bundle import TINY_CONFIG, clone, extract

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "matlab_ref" / "seed"
CURRENT_REV = "bc40417"

# (file, statement as written, the fault, expected first divergence)
REAL_FAULTS = [
    ("feedforward.m", "net.Z{m+1} = max(model.weight{m}*net.phiZ{m} + model.bias{m}, 0);",
     "net.Z{m+1} = max(model.weight{m}*net.phiZ{m} + model.bias{m} + 1e-3, 0);", (1, "forward", "sigmaS")),
    ("feedforward.m", "net.Z{m+1} = max(model.weight{m}*net.Z{m} + model.bias{m}, 0);",
     "net.Z{m+1} = max(model.weight{m}*net.Z{m} + model.bias{m} + 1e-3, 0);", (3, "forward", "Z")),
    ("feedforward.m", "net.Z{L+1} = model.weight{L}*net.Z{L} + model.bias{L};",
     "net.Z{L+1} = model.weight{L}*net.Z{L} + model.bias{L} + 1e-3;", (4, "forward", "Z")),
    ("padding_and_phiZ.m", "phiZ = reshape(phiZ, h*h*d, []);", "phiZ = 1.001*reshape(phiZ, h*h*d, []);",
     (1, "forward", "phiZ")),
    ("maxpooling.m", "[Z, max_id] = max(Z);", "[Z, max_id] = min(Z);", (1, "forward", "Z")),
    ("init_net.m", "find_index_phiZ(model.ht_pad(m), model.wd_pad(m),", "find_index_phiZ(model.wd_pad(m), model.ht_pad(m),",
     (1, "forward", "idx_phiZ")),
    ("lossgrad_subset.m", "loss = norm(net.Z{L+1} - Y, 'fro')^2;", "loss = 1.001*norm(net.Z{L+1} - Y, 'fro')^2;",
     (4, "forward", "loss")),
    ("lossgrad_subset.m", "v = 2*(net.Z{L+1} - Y);", "v = 2.002*(net.Z{L+1} - Y);", (4, "backward", "dXidS")),
    ("JTv.m", "JTv_{m} = [v*net.Z{m}' sum(v, 2)];", "JTv_{m} = [v*net.Z{m}' 1.001*sum(v, 2)];",
     (4, "backward", "dlossdb")),
    ("JTv.m", "v = model.weight{m}'*v;", "v = 1.001*model.weight{m}'*v;", (4, "backward", "WtDelta")),
    ("JTv.m", "v = v.*(net.Z{m} > 0);", "v = v.*(net.Z{m} >= 0);", (4, "backward", "activation")),
    ("JTv.m", "v = reshape(v, model.ch_input(LC+1), []);", "v = 1.001*reshape(v, model.ch_input(LC+1), []);",
     (2, "backward", "dXidS")),
    ("JTv.m", "JTv_{m} = [v*net.phiZ{m}' sum(v, 2)];", "JTv_{m} = [1.001*v*net.phiZ{m}' sum(v, 2)];",
     (2, "backward", "dlossdW")),
    ("JTv.m", "v = model.weight{m}' * v;", "v = 1.001*model.weight{m}' * v;", (2, "backward", "WtDelta")),
    ("JTv.m", "v = v(:, p+1:p+model.ht_input(m), p+1:p+model.wd_input(m), :);",
     "v = v(:, p:p+model.ht_input(m)-1, p+1:p+model.wd_input(m), :);", (2, "backward", "unpad")),
    ("JTv.m", "v = reshape(v, model.ch_input(m), []) .*(net.Z{m} > 0);",
     "v = reshape(v, model.ch_input(m), []) .*(net.Z{m} >= 0);", (2, "backward", "activation")),
    ("vTP.m", "idx = net.idx_phiZ{m}(:) + [0:num_v-1]*d_prev*a_prev*b_prev;",
     "idx = flipud(net.idx_phiZ{m}(:)) + [0:num_v-1]*d_prev*a_prev*b_prev;", (2, "backward", "phi_gradient")),
    ("vTP.m", "vTP = accumarray(idx(:), V(:), [d_prev*a_prev*b_prev*num_v 1])';",
     "vTP = 1.001*accumarray(idx(:), V(:), [d_prev*a_prev*b_prev*num_v 1])';", (2, "backward", "phi_gradient")),
    ("vTP.m", "idx = net.idx_pool{m} + gpu([0:num_data-1])*d_prev*a_prev*b_prev;",
     "idx = flipud(net.idx_pool{m}) + gpu([0:num_data-1])*d_prev*a_prev*b_prev;", (1, "backward", "pool_gradient")),
]



@pytest.fixture(scope="module")
def real_current(tmp_path_factory):
    base = tmp_path_factory.mktemp("history")
    return extract(clone(base), CURRENT_REV, base / CURRENT_REV)


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    f = tmp_path_factory.mktemp("cfg") / "tiny.config"
    f.write_text(TINY_CONFIG)
    return f


def _compare(tree, config):
    from simplecnn_harness.compare import Options, run_compare

    return run_compare(Options(matlab_dir=str(tree), config=str(config), instances=12))


def _inject(src_root: Path, dest: Path, rel: str, old: str, new: str) -> Path:
    shutil.copytree(src_root, dest)
    f = dest / rel
    text = f.read_text()
    assert text.count(old) >= 1, f"{rel}: statement not found: {old}"
    f.write_text(text.replace(old, new, 1))
    return dest


def _first(res):
    fd = res.first_divergence
    return None if fd is None else (fd["layer"], fd["direction"], fd["stage"])


@needs_octave
@pytest.mark.parametrize("fault", REAL_FAULTS, ids=[f"{f[0]}:{f[3][0]}-{f[3][2]}" for f in REAL_FAULTS])
def test_fault_in_the_real_current_code_is_reported_at_its_stage(fault, real_current, tiny_config, tmp_path):
    rel, old, new, want = fault
    tree = _inject(real_current / "MATLAB", tmp_path / "tree", f"cnn/{rel}", old, new)
    res = _compare(tree, tiny_config)
    assert not res.ok
    assert _first(res) == want, [(s.key(), s.rel_err, s.note) for s in res.stages if s.compared and not s.ok][:4]


SEED_STAGE_FAULTS = [
    ("cnn/feedforward.m", "+ model.bias{m}, 0);", "+ model.bias{m} + 1e-3, 0);", (1, "forward", "sigmaS")),
    ("cnn/lossgrad_subset.m", "dXidS = 2*(net.Z{L+1} - Y);", "dXidS = 2.002*(net.Z{L+1} - Y);",
     (4, "backward", "dXidS")),
    ("cnn/lossgrad_subset.m", "dXidS = model.weight{m}'*dXidS;", "dXidS = 1.001*model.weight{m}'*dXidS;",
     (4, "backward", "WtDelta")),
    ("cnn/lossgrad_subset.m", "dXidS = dXidS.*(net.Z{m} > 0);\n\tend\n\n", "dXidS = dXidS.*(net.Z{m} >= 0);\n\tend\n\n",
     (4, "backward", "activation")),
    ("cnn/lossgrad_subset.m", "dXidS = dXidS(:, net.idx_pad{m} + a*b*(0:num_data-1));",
     "dXidS = dXidS(:, net.idx_pad{m}(end:-1:1) + a*b*(0:num_data-1));", (2, "backward", "unpad")),
    ("cnn/lossgrad_subset.m", "dXidS = dXidS.*(net.Z{m} > 0);\n\t\tend", "dXidS = dXidS.*(net.Z{m} >= 0);\n\t\tend",
     (2, "backward", "activation")),
]


@needs_octave
@pytest.mark.parametrize("fault", SEED_STAGE_FAULTS, ids=[f"{f[0]}:{f[3][0]}-{f[3][2]}" for f in SEED_STAGE_FAULTS])
def test_fault_in_matlab_ref_is_reported_at_its_stage(fault, tiny_config, tmp_path):
    rel, old, new, want = fault
    tree = _inject(SEED, tmp_path / "tree", rel, old, new)
    res = _compare(tree, tiny_config)
    assert not res.ok
    assert _first(res) == want, [(s.key(), s.rel_err, s.note) for s in res.stages if s.compared and not s.ok][:4]


# the real JTv.m, edited as a user might: the delta renamed, the products and
# masks split into several statements, restyled spacing and comments
EDITED_JTV = """function out = JTv(model, net, delta)
% J' * delta, restyled by a user
L = model.L;  LC = model.LC;
nd = size(delta, 2);
out = cell(L, 1);
for layer = L:-1:LC+1
    g_w = delta * net.Z{layer}.';
    g_b = sum(delta, 2);
    out{layer} = [g_w, g_b];
    Wt = model.weight{layer}.';
    delta = Wt * delta;
    keep = net.Z{layer} > 0;
    delta(~keep) = 0;
end
delta = reshape(delta, model.ch_input(LC+1), []);
for layer = LC:-1:1
    if model.wd_subimage_pool(layer) > 1
        delta = vTP(model, net, layer, nd, delta, 'pool_gradient');
    end
    delta = reshape(delta, model.ch_input(layer+1), []);
    out{layer} = [delta*net.phiZ{layer}', sum(delta, 2)];
    if layer > 1
        back = model.weight{layer}' * delta;
        delta = vTP(model, net, layer, nd, back, 'phi_gradient');
        delta = reshape(delta, model.ch_input(layer), model.ht_pad(layer), model.wd_pad(layer), []);
        pad = model.wd_pad_added(layer);
        rows = pad + (1:model.ht_input(layer));
        cols = pad + (1:model.wd_input(layer));
        delta = delta(:, rows, cols, :);
        delta = reshape(delta, model.ch_input(layer), []);
        mask = (net.Z{layer} > 0);
        delta = delta .* mask;
    end
end
"""


@needs_octave
def test_an_edited_copy_of_the_real_code_passes_with_every_stage_compared(real_current, tiny_config, tmp_path):
    plain = _compare(real_current / "MATLAB", tiny_config)
    tree = tmp_path / "edited"
    shutil.copytree(real_current / "MATLAB", tree)
    (tree / "cnn" / "JTv.m").write_text(EDITED_JTV)
    lg = tree / "cnn" / "lossgrad_subset.m"
    lg.write_text(lg.read_text().replace("v = 2*(net.Z{L+1} - Y);", "err = net.Z{L+1} - Y;\n\tv = 2*err;"))
    res = _compare(tree, tiny_config)
    assert plain.ok and res.ok, [(s.key(), s.note) for s in res.stages if s.compared and not s.ok]
    not_plain = {s.key() for s in plain.stages if not s.compared}
    not_edited = {s.key() for s in res.stages if not s.compared}
    assert not_edited == not_plain, not_edited - not_plain


@needs_octave
@pytest.mark.parametrize("rel, line", [("cnn/JTv.m", 24), ("cnn/vTP.m", 29), ("cnn/lossgrad_subset.m", 14)])
def test_an_octave_error_names_the_users_file_and_line(real_current, tiny_config, tmp_path, rel, line):
    """JTv and vTP are wrapped in the copy (their originals renamed),
    lossgrad_subset instrumented: the message still names the user's file."""
    from simplecnn_harness.octave.session import OctaveError

    tree = tmp_path / "tree"
    shutil.copytree(real_current / "MATLAB", tree)
    f = tree / rel
    lines = f.read_text().split("\n")
    lines[line - 1] += " error('simplecnn:test', 'injected failure');"
    f.write_text("\n".join(lines))
    with pytest.raises(OctaveError) as e:
        _compare(tree, tiny_config)
    msg = str(e.value)
    assert f"{tree / rel} line {line}" in msg and "injected failure" in msg
    assert "simplecnn-compare-" not in msg and "simplecnn_orig__" not in msg and "\n" not in msg


def test_a_tree_that_is_not_simplenn_is_refused_in_one_line(tmp_path):
    import subprocess
    import sys

    (tmp_path / "cnn").mkdir()
    (tmp_path / "cnn" / "lossgrad_subset.m").write_text("function [net, loss] = lossgrad_subset(prob, model, net, "
                                                        "batch_idx, task)\nif strcmp(task, 'fungrad'), end\n")
    p = subprocess.run([sys.executable, "-m", "simplecnn_cli", "compare", "--matlab-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "no init_net.m" in p.stderr
