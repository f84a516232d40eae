"""``simplecnn record --emit-script``: the standalone MATLAB driver, run here
under Octave (a plain ``octave-cli``, no harness session), writes a trace
identical to the one ``simplecnn record`` writes: the same variables, the
same classes and shapes, the same values bit for bit (lossgrad_subset's
time aside)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from simplecnn_cli.main import main
from tests.conftest import needs_octave, octave_quote

pytestmark = needs_octave

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "matlab_ref" / "seed"
CURRENT = REPO / "matlab_ref" / "current"
NONSQUARE = SEED / "config" / "small-nonsquare.config"
TINY_CURRENT = CURRENT / "MATLAB" / "config" / "tiny-nonsquare.config"


def run_driver(folder: Path, out: Path, cwd: Path):
    exe = shutil.which("octave-cli") or shutil.which("octave")
    code = f"addpath('{octave_quote(folder)}'); simplecnn_record_trace('{octave_quote(out)}');"
    return subprocess.run([exe, "--no-gui", "--norc", "--quiet", "--eval", code], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("tree,config,extra", [
    (SEED, NONSQUARE, []),
    (CURRENT, TINY_CURRENT, ["--precision", "single"]),
], ids=["seed-double", "current-single"])
def test_emitted_driver_writes_the_same_trace(tmp_path, capsys, tree, config, extra):
    from simplecnn_harness.traces.file import read_trace
    from simplecnn_harness.traces.record import same_trace

    common = ["--quiet", "--matlab-dir", str(tree), "--config", str(config), "--instances", "5", *extra]
    assert main(["record", *common, "--all-records", "--out", str(tmp_path / "py.mat")]) == 0
    assert main(["record", *common, "--all-records", "--compress", "--out", str(tmp_path / "pyz.mat")]) == 0
    bundle = tmp_path / "bundle"
    assert main(["record", *common, "--emit-script", str(bundle)]) == 0
    assert "simplecnn_record_trace" in capsys.readouterr().out
    # the folder is self-contained: moved elsewhere, it still runs
    moved = tmp_path / "elsewhere" / "b"
    shutil.move(str(bundle), str(moved))
    out = tmp_path / "m.mat"
    proc = run_driver(moved, out, cwd=tmp_path)
    assert proc.returncode == 0 or out.is_file(), proc.stdout[-2000:] + proc.stderr[-2000:]
    assert out.is_file() and not Path(str(out) + ".tmp").exists()
    a, b = read_trace(tmp_path / "py.mat"), read_trace(out)
    assert same_trace(a, b) == []
    assert same_trace(a, read_trace(tmp_path / "pyz.mat")) == []          # compressed: the same values
    assert len(a) > 20 and "lossgrad_seconds" in a and "lossgrad_seconds" in b
    # and the emitted trace is judged like the recorded one
    rc = main(["compare", "--quiet", "--trace", str(out)])
    assert rc == 0
    # a fault shows: a changed value is a difference
    k = sorted(k for k in b if k.startswith("r0"))[0]
    b[k] = b[k] + 1
    assert same_trace(a, b) == [f"{k}: values differ"] or same_trace(a, b)[0].startswith(k)


def test_emit_into_a_folder_that_is_not_empty_is_refused(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    rc = main(["record", "--quiet", "--emit-script", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "not an empty folder" in err
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_emitted_matlab_is_matlab_not_only_octave():
    """The driver and recorder pass the project's MATLAB-and-Octave lint
    (tests/matlab_ref/test_matlab_syntax.py): no #, !=, endif, printf(, double quotes, ++."""
    from simplecnn_harness.traces.emit import DRIVER_TEXT, RECORDER
    from test_matlab_syntax import lint_text

    assert lint_text(DRIVER_TEXT, "simplecnn_record_trace.m") == []
    assert lint_text(RECORDER, "simplecnn_rec__.m") == []
    assert lint_text(DRIVER_TEXT + "\nx = 1; # comment\n", "bad.m")      # the lint can fail


def test_emitted_driver_reports_the_trees_error_and_writes_nothing(tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(SEED, broken)
    lg = broken / "cnn" / "lossgrad_subset.m"
    lg.write_text(lg.read_text().replace("V = model.weight{m}'*dXidS;", "V = no_such_function__(dXidS);"))
    bundle = tmp_path / "b"
    assert main(["record", "--quiet", "--matlab-dir", str(broken), "--config", str(NONSQUARE),
                 "--instances", "4", "--emit-script", str(bundle)]) == 0
    out = tmp_path / "t.mat"
    proc = run_driver(bundle, out, cwd=tmp_path)
    assert "the tree failed" in proc.stderr and "no_such_function__" in proc.stderr, proc.stderr[-2000:]
    assert not out.exists() and not Path(str(out) + ".tmp").exists()
