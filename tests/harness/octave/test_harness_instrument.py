"""The MATLAB statement scanner and the instrumentation of a copy.

Pure-Python checks of statement boundaries (strings versus transposes,
comments, block comments, continuations, brackets spanning lines, several
statements per line), of what is recorded for each kind of left side, and of
the layer variable; then, under Octave, that an instrumented tricky file
computes exactly what the original does and records what it assigned.
"""
from __future__ import annotations

import numpy as np
import pytest

from simplecnn_harness.octave.instrument import REC, classify, instrument_source, lhs_targets, scan
from tests.conftest import needs_octave

TRICKY = """function [out, s, c] = tricky(x)
% a comment with = signs and a 'quote'
s = 'it''s; a = 1, % not code';   % trailing comment
y = x';  z = [x' x'];  w = x.';
%{
block = comment;
%}
A = [1, 2, ...
     3];  B = {1, 'a;b'
           2, 'c'};
if numel(x) > 0, t = 1; else t = 2; end
c = {};
for m = 1 : 3
    c{m} = m * 2;   % cell
    A(1, m) = m + t;
end
[q, ~, r] = deal(numel(x), 0, 'x=1');
out = A + q + numel(r) + numel(B) + sum(w(:)) + sum(y(:)) + sum(z(:))
"""


def codes(src):
    return [sp.code for sp in scan(src)]


def test_scan_splits_statements_and_keeps_strings():
    got = codes(TRICKY)
    assert "s = 'it''s; a = 1, % not code'" in got
    assert "y = x'" in got and "z = [x' x']" in got and "w = x.'" in got
    assert not any("block" in c for c in got)                 # block comment skipped
    assert "A = [1, 2, 3]" in got                             # continuation joined
    assert any(c.startswith("B = {1, 'a;b'") for c in got)    # newline inside braces: one statement
    assert "if numel(x) > 0" in got and "t = 1" in got and "else t = 2" in got
    _, stmts = instrument_source(TRICKY, "backward", "tricky.m")
    assert [s.line for s in stmts if s.target == "t"] == [11, 11]     # 'else t = 2' too


def test_scan_line_numbers():
    spans = scan(TRICKY)
    line_of = {sp.code: sp.line for sp in spans}
    assert line_of["y = x'"] == 4
    assert line_of["A = [1, 2, 3]"] == 8
    assert line_of["c{m} = m * 2"] == 14


@pytest.mark.parametrize("lhs, targets", [
    ("X(:, k)", ["X"]),
    ("net.Z{m+1}", ["net.Z{m+1}"]),
    ("[net.Z{m+1}, net.idx_pool{m}]", ["net.Z{m+1}", "net.idx_pool{m}"]),
    ("[a b]", ["a", "b"]),
    ("[~, I]", [None, "I"]),
    ("c{end+1}", ["c"]),
    ("net.dlossdW{m}(:)", ["net.dlossdW{m}"]),
])
def test_lhs_targets(lhs, targets):
    assert lhs_targets(lhs) == targets


def test_instrumentation_keeps_lines_and_finds_loop_variable():
    new, stmts = instrument_source(TRICKY, "backward", "tricky.m")
    assert new.count("\n") == TRICKY.count("\n")             # calls go on the same lines
    loops = {(s.target, s.line): s.loop_var for s in stmts}
    assert loops[("c{m}", 14)] == "m" and loops[("A", 15)] == "m"
    assert loops[("A", 8)] is None and loops[("out", 18)] is None     # 'end' closed the loop
    assert [s.target for s in stmts if s.line == 17] == ["q", "r"]   # '~' is not recorded
    # the call follows the terminator, or is appended with a comma when there is none
    assert f"s = 'it''s; a = 1, % not code'; {REC}(" in new
    assert new.splitlines()[17].startswith("out = A + q") and f", {REC}(" in new.splitlines()[17]
    # the '=' inside the string and the comment did not become statements
    assert not any("not code" in s.target for s in stmts)


@pytest.mark.parametrize("role, rhs, target, k, in_loop, kind", [
    ("forward", "padding_and_phiZ(model, net, m)", "phiZ", 0, True, "phiZ"),
    ("forward", "maxpooling(model, net, m)", "net.Z{m+1}", 0, True, "Z"),
    ("forward", "maxpooling(model, net, m)", "net.idx_pool{m}", 1, True, "idx_pool"),
    ("forward", "max(model.weight{m}*phiZ + model.bias{m}, 0)", "net.Z{m+1}", 0, True, "sigmaS"),
    ("backward", "reshape(vTP(param, model, net, m, dXidS, 'pool_gradient'), d, [])", "dXidS", 0, True,
     "pool_gradient"),
    ("backward", "reshape(vTP(model, net, m, n, V, 'phi_gradient'), d, [])", "dXidS", 0, True, "phi_gradient"),
    ("backward", "model.weight{m}'*dXidS", "V", 0, True, "WtDelta"),
    ("backward", "(model.weight{m}' * dXidS) .* (net.Z{m} > 0)", "dXidS", 0, True, "activation"),
    ("backward", "dXidS(:, net.idx_pad{m} + a*b*(0:n-1))", "dXidS", 0, True, "unpad"),
    ("backward", "dXidS*phiZ'", "net.dlossdW{m}", 0, True, "dlossdW"),
    ("backward", "2*(net.Z{L+1} - Y)", "dXidS", 0, False, "output_delta"),
    ("backward", "model.ht_pad(m)", "a", 0, True, None),
])
def test_classify(role, rhs, target, k, in_loop, kind):
    assert classify(role, rhs, target, k, in_loop) == kind


def test_octave_only_syntax_is_scanned():
    src = 'x = 1; # hash comment = 2\ny = "a;b%c" ; z = 3\n'
    assert codes(src) == ["x = 1", 'y = "a;b%c"', "z = 3"]


@needs_octave
def test_instrumented_tricky_file_runs_identically(tmp_path):
    from simplecnn_harness.octave.records import read_records
    from simplecnn_harness.octave.session import OctaveSession

    plain, inst = tmp_path / "plain", tmp_path / "inst"
    plain.mkdir()
    inst.mkdir()
    (plain / "tricky.m").write_text(TRICKY)
    new, stmts = instrument_source(TRICKY, "backward", "tricky.m", keep_all=True)
    (inst / "tricky.m").write_text(new)
    out = tmp_path / "out"
    out.mkdir()
    with OctaveSession(timeout=60) as octave:
        res = {}
        for name, folder in (("plain", plain), ("inst", inst)):
            octave.addpath(folder)
            octave.eval("clear functions;")
            if name == "inst":
                octave.eval(f"simplecnn_rec__('open', '{out}');")
            lines = octave.eval("[o, s, c] = tricky([1 2; 3 4]); "
                                "fprintf('%.17g ', o); fprintf('|%s|', s); fprintf('%d ', c{:});")
            if name == "inst":
                octave.eval("simplecnn_rec__('close');")
            octave.rmpath(folder)
            res[name] = [ln for ln in lines if "|" in ln]
    assert res["plain"] == res["inst"] and res["plain"]
    by_id = {s.id: s for s in stmts}
    recs = {(by_id[r.stmt_id].target, int(r.layer)): r for r in read_records(out)}
    np.testing.assert_array_equal(recs[("c{m}", 3)].value(), [[6.0]])
    assert recs[("A", 3)].value().shape == (1, 3)
    assert recs[("t", 0)].value()[0, 0] == 1.0


def test_backward_plain_variables_keep_values_and_wrapped_calls_do_not():
    from simplecnn_harness.octave.instrument import instrument_source

    src = ("function out = JTv(model, net, d)\nfor m = 3:-1:1\n  t = d .* 2;\n  d = vTP(model, net, m, 1, t, 'phi_gradient');\n"
           "  keep = net.Z{m} > 0;\n  d(~keep) = 0;\n  out{m} = d;\nend\n")
    _, table = instrument_source(src, "backward", "JTv.m", covered=frozenset({"vTP"}))
    keep = {s.target: s.keep for s in table}
    assert keep["t"] and keep["keep"] and keep["d"] is not None
    vtp = [s for s in table if "vTP" in s.rhs]
    assert vtp and not vtp[0].keep                    # the wrapper records vTP's output
    assert [s.keep for s in table if s.target == "d" and "vTP" not in s.rhs] == [True]
    assert not [s for s in table if s.target.startswith("out")][0].keep
