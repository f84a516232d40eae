"""Everyday use of the command line: bad arguments refused before
any work, reports never half-written, Ctrl-C exits 130 (Octave's phase
included), an internal error exits 3 with one line naming a log file that
holds the traceback.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import needs_octave, run_with_stderr_on_a_terminal
from simplecnn_cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]


def simplecnn(*args, timeout=300, env=None):
    return subprocess.run([sys.executable, "-m", "simplecnn_cli", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=env)


def one_line(proc):
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


# --- arguments checked before any work -----------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "simplecnn: error: --seed: must be an integer in [0, 2^32), not -1"),
    (["--instances", "0"], "simplecnn: error: --instances: must be a positive number, not 0"),
    (["--json", "r.json", "--html", "r.json"],
     "simplecnn: error: --html: r.json is also the --json file; name two different files"),
])
def test_compare_bad_arguments_one_line_exit_2(args, message, tmp_path, monkeypatch):
    # a MATLAB tree that does not exist: had any work started, the message would name it
    proc = simplecnn("compare", "--matlab-dir", tmp_path / "no-such-tree", *args)
    assert proc.returncode == 2
    assert one_line(proc) == message
    assert proc.stdout == ""


def _unwritable_folder(tmp_path):
    """A folder no new file can be made in: a read-only one, or /proc for root."""
    ro = tmp_path / "read-only"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        (ro / "probe").write_text("")
    except OSError:
        return ro
    (ro / "probe").unlink()                  # root writes anywhere: a pseudo file system then
    return Path("/proc")


@pytest.mark.parametrize("opt", ["--json", "--html"])
def test_compare_report_into_unwritable_folder_refused_before_the_run(opt, tmp_path):
    folder = _unwritable_folder(tmp_path)
    target = folder / "report.out"
    proc = simplecnn("compare", "--matlab-dir", tmp_path / "no-such-tree", opt, target)
    assert proc.returncode == 2
    line = one_line(proc)
    assert line.startswith(f"simplecnn: error: {opt}: cannot write {target}: folder {folder} takes no new "
                           "file ("), line
    assert proc.stdout == ""
    assert not target.exists()


def test_compare_report_onto_read_only_file_refused(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    target.chmod(0o444)
    if os.access(target, os.W_OK):
        pytest.skip("running as root: a read-only file is still writable")
    proc = simplecnn("compare", "--json", target)
    assert proc.returncode == 2
    assert one_line(proc) == f"simplecnn: error: --json: cannot write {target}: the file is read-only"


def test_reports_are_written_atomically(tmp_path, monkeypatch):
    """A failure while writing leaves the old file as it was and no temporary file."""
    from simplecnn_harness.reports import report

    target = tmp_path / "r.html"
    target.write_text("the old report")

    real_replace = os.replace

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    from simplecnn_py.support.errors import EnvironmentProblem
    with pytest.raises(EnvironmentProblem, match=f"cannot write {target}: No space left on device"):
        report.write_atomically(target, "<html>new</html>")
    monkeypatch.setattr(os, "replace", real_replace)
    assert target.read_text() == "the old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    report.write_atomically(target, "<html>new</html>")
    assert target.read_text() == "<html>new</html>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    umask = os.umask(0)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == 0o666 & ~umask


# --- exit 3: an internal error ---------------------------------------------------

def test_internal_error_exit_3_one_line_and_a_log(monkeypatch, tmp_path, capsys):
    import simplecnn_cli.compare as compare

    def broken(args):
        return {}["no such key"]             # a defect of ours

    monkeypatch.setattr(compare, "run", broken)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    rc = cli_main.main(["compare"])
    assert rc == 3
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    prefix = "simplecnn: internal error: KeyError: 'no such key'; traceback in "
    assert lines[0].startswith(prefix)
    log = Path(lines[0][len(prefix):])
    assert log.parent == tmp_path / "state" / "simplecnn" and log.name.startswith("simplecnn-")
    text = log.read_text()
    assert text.startswith("simplecnn compare\n")
    assert "Traceback (most recent call last)" in text and "in broken" in text and "KeyError" in text


def test_internal_error_log_falls_back_to_the_temp_folder(monkeypatch, tmp_path, capsys):
    import simplecnn_cli.compare as compare

    monkeypatch.setattr(compare, "run", lambda args: 1 / 0)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))          # cannot hold a folder
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert cli_main.main(["compare"]) == 3
    line = capsys.readouterr().err.strip()
    log = Path(line.rsplit("traceback in ", 1)[1])
    assert log.parent == tmp_path and "ZeroDivisionError" in log.read_text()


def test_keyboard_interrupt_anywhere_exits_130(monkeypatch, capsys):
    import simplecnn_cli.compare as compare

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare, "run", interrupted)
    assert cli_main.main(["compare"]) == 130
    assert capsys.readouterr().err.strip() == "simplecnn: interrupted"


def test_help_does_not_load_matplotlib_or_tqdm():
    code = ("import sys\nfrom simplecnn_cli.main import main\n"
            "try:\n    main(['compare', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('matplotlib', 'tqdm', 'oct2py') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"


# --- Ctrl-C while Octave runs: 130, nothing left behind ------------------------------

@needs_octave
def test_ctrl_c_during_octave_exits_130(tmp_path):
    tree = tmp_path / "seed"
    shutil.copytree(REPO / "matlab_ref" / "seed", tree)
    f = tree / "cnn" / "lossgrad_subset.m"
    text = f.read_text()
    f.write_text(text.replace("L = param.L;\n", "L = param.L;\npause(120);\n", 1))
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, SIMPLECNN_TMPDIR=str(work))
    proc = subprocess.Popen([sys.executable, "-m", "simplecnn_cli", "compare", "--matlab-dir", str(tree),
                             "--instances", "16", "--json", str(tmp_path / "r.json")], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL)
    seen = []
    for line in proc.stderr:                 # wait for Octave's phase
        seen.append(line)
        if line.startswith("compare: Octave"):
            break
    time.sleep(3)                            # the instrumented copy running, in its pause
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(seen) + err
    assert err.strip().splitlines()[-1] == "simplecnn: interrupted"
    assert "Traceback" not in err
    assert out == ""
    assert not (tmp_path / "r.json").exists()
    assert list(work.iterdir()) == []        # the run's temporary folder is gone


# --- progress: live on a terminal, plain lines in a log ------------------------------

@needs_octave
def test_progress_on_a_terminal_and_in_a_log(tmp_path):
    """stderr a terminal (a pty): a status line whose clock ticks while a MATLAB
    routine hangs, naming the routine (from its ``@@simplecnn-routine`` line);
    stderr a file: the phase lines only; --quiet: nothing."""
    tree = tmp_path / "seed"
    shutil.copytree(REPO / "matlab_ref" / "seed", tree)
    f = tree / "cnn" / "lossgrad_subset.m"
    f.write_text(f.read_text().replace("L = param.L;\n", "L = param.L;\ndisp('@@simplecnn-routine "
                                       "slow_routine'); pause(3.5);\n", 1))
    args = [sys.executable, "-m", "simplecnn_cli", "compare", "--matlab-dir", str(tree), "--instances", "16"]

    rc, shown, out = run_with_stderr_on_a_terminal(args, timeout=300)
    assert rc == 0
    assert "\r" in shown
    # the harness's boundary wrappers print their own marks (lossgrad_subset's comes
    # first), so the routine's number is whatever Octave had entered by then
    import re
    ticks = re.findall(r"\[Octave in slow_routine (\d+) s, routine (\d+)\]", shown)
    assert {"1", "3"} <= {t for t, _ in ticks}, shown[-2000:]
    assert len({n for _, n in ticks}) == 1          # the clock ticks within one routine
    assert "@@simplecnn-routine" not in shown and b"@@simplecnn" not in out
    assert "PASS" in out.decode()

    plain = ["compare", "--instances", "16"]           # the embedded tree: no pause needed here
    log = simplecnn(*plain)
    assert log.returncode == 0
    assert "\r" not in log.stderr and "Octave in" not in log.stderr
    assert [" ".join(ln.split()[:2]) for ln in log.stderr.splitlines()] == [
        "compare: Python", "compare: Octave,", "compare: comparing"]
    quiet = simplecnn(*plain, "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""
