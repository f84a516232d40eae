"""The package as a user installs it (issue 23, item 1): a wheel built from
the sources, installed into a fresh virtual environment outside the
checkout, runs ``simplecnn compare`` on its embedded default and
``gradient`` / ``check-gradient`` on the bundled demo files, from a folder
that is not the checkout, finding matlab_ref and the demo files through the
installed packages.

To stay fast and offline, the fresh environment gets the dependencies
(numpy, scipy, h5py, oct2py...) by a path line to the running interpreter's
site-packages, appended AFTER its own; nothing of the project is reachable
there but through the wheel (the editable install's .pth file is not read
from a path line, and PYTHONPATH is unset).  The oracles: the files of the
checkout (every one of matlab_ref/ and of the demo folder must be in the
wheel), the installed module paths, and the port's numbers computed here in
the checkout.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("simplecnn_py", "simplecnn_harness", "simplecnn_cli", "simplecnn_bench", "matlab_ref")
TOP_FILES = ("setup.cfg", "pyproject.toml", "README.md")


def _source_files(folder):
    """Files of a source folder the wheel must carry (no caches, no editor files)."""
    return sorted(p.relative_to(REPO).as_posix() for p in (REPO / folder).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".swp")
                  and not p.name.startswith("."))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin folder, site-packages folder, wheel path) of a fresh environment
    holding the wheel built from a copy of the sources."""
    pytest.importorskip("setuptools")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in TOP_FILES:
        shutil.copy2(REPO / name, src / name)
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                          "-w", str(tmp / "dist"), str(src)], capture_output=True, text=True, env=env, cwd=tmp)
    assert run.returncode == 0, run.stderr[-3000:]
    wheel, = (tmp / "dist").glob("simplecnn_py-*.whl")

    venv = tmp / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, env=env)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True, env=env).stdout.strip())
    (site / "zz_shared_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
                          "--no-index", str(wheel)], capture_output=True, text=True, env=env, cwd=tmp)
    assert run.returncode == 0, run.stderr[-3000:]
    return bindir, site, wheel


def _run(installed, *args, cwd):
    bindir, _, _ = installed
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_the_wheel_carries_matlab_ref_the_demo_files_and_the_octave_helpers(installed):
    names = set(zipfile.ZipFile(installed[2]).namelist())
    wanted = _source_files("matlab_ref") + _source_files("simplecnn_cli/demo") + \
        [f for f in _source_files("simplecnn_harness") if f.endswith(".m")]
    missing = [f for f in wanted if f not in names]
    assert not missing, f"not in the wheel: {missing}"
    # both trees: compare's default (seed) and compare-train's (current)
    assert "matlab_ref/seed/cnn/lossgrad_subset.m" in names
    assert "matlab_ref/current/MATLAB/cnn_train.m" in names


def test_the_installed_packages_are_found_in_the_fresh_environment(installed, tmp_path):
    bindir, site, _ = installed
    run = _run(installed, bindir / "python", "-c",
               "from simplecnn_harness import embedded; import simplecnn_harness, simplecnn_py\n"
               "for p in (simplecnn_harness.__file__, simplecnn_py.__file__, embedded.SEED_TREE, "
               "embedded.CURRENT_TREE, embedded.DEMO_DIR): print(p)", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    paths = [Path(line) for line in run.stdout.split("\n") if line]
    assert len(paths) == 5
    for p in paths:
        assert p.is_relative_to(site), f"{p} is not in the fresh environment ({site})"
    seed, current, demo = paths[2:]
    assert (seed / "cnn" / "lossgrad_subset.m").is_file() and (current / "cnn" / "lossgrad_subset.m").is_file()
    assert (demo / "demo.config").is_file()
    # python -m simplecnn_cli.demo names the same folder
    run = _run(installed, bindir / "python", "-m", "simplecnn_cli.demo", cwd=tmp_path)
    assert Path(run.stdout.strip()) == demo


def test_gradient_and_check_gradient_run_on_the_bundled_demo_files(installed, tmp_path):
    from simplecnn_harness.embedded import DEMO_DIR            # the checkout's copies: the oracle's inputs

    bindir = installed[0]
    demo = Path(_run(installed, bindir / "python", "-m", "simplecnn_cli.demo", cwd=tmp_path).stdout.strip())
    files = ["--config", demo / "check-gradient.config", "--data", demo / "check-gradient-data.mat",
             "--weights", demo / "check-gradient-weights.mat"]
    run = _run(installed, bindir / "simplecnn", "gradient", *files, "--out", "mine.mat", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    out = scipy.io.loadmat(tmp_path / "mine.mat")

    # the oracle: the command of the checkout on the checkout's copies of the same files
    assert out["loss"].shape == (1, 1)
    assert out["dlossdW"].shape == (2, 1)
    ref = subprocess.run([sys.executable, "-m", "simplecnn_cli", "gradient",
                          "--config", DEMO_DIR / "check-gradient.config",
                          "--data", DEMO_DIR / "check-gradient-data.mat",
                          "--weights", DEMO_DIR / "check-gradient-weights.mat", "--out", tmp_path / "ref.mat"],
                         capture_output=True, text=True, cwd=REPO)
    assert ref.returncode == 0, ref.stderr
    ref = scipy.io.loadmat(tmp_path / "ref.mat")
    assert float(out["loss"][0, 0]) == pytest.approx(float(ref["loss"][0, 0]), rel=1e-12)
    for m in range(2):
        np.testing.assert_allclose(out["dlossdW"][m, 0], ref["dlossdW"][m, 0], rtol=1e-12, atol=0)

    run = _run(installed, bindir / "simplecnn", "check-gradient", *files, "--mine", "mine.mat", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "your gradient matches the port's" in run.stdout
    # and a wrong one is told apart: the installed command does judge
    out["dlossdW"][1, 0] = out["dlossdW"][1, 0] * 0.5
    scipy.io.savemat(tmp_path / "half.mat", {k: out[k] for k in ("dlossdW", "dlossdb")})
    run = _run(installed, bindir / "simplecnn", "check-gradient", *files, "--mine", "half.mat", cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr


@pytest.mark.skipif(shutil.which("octave-cli") is None, reason="GNU Octave (octave-cli) is not installed")
def test_compare_runs_on_its_embedded_default_from_another_folder(installed, tmp_path):
    bindir, site, _ = installed
    run = _run(installed, bindir / "simplecnn", "compare", "--quiet", "--json", "report.json", cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    assert "PASS" in run.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["pass"] is True
    tree = Path(report["matlab_dir"])
    assert tree.resolve().is_relative_to(site.resolve()), tree
    assert Path(report["config"]).resolve().is_relative_to(site.resolve()), report["config"]


@pytest.mark.skipif(shutil.which("octave-cli") is None, reason="GNU Octave (octave-cli) is not installed")
def test_compare_train_runs_on_its_embedded_default_from_another_folder(installed, tmp_path):
    """compare-train's default tree is matlab_ref/current, shipped in the wheel too."""
    bindir, site, _ = installed
    demo = Path(_run(installed, bindir / "python", "-m", "simplecnn_cli.demo", cwd=tmp_path).stdout.strip())
    run = _run(installed, bindir / "simplecnn", "compare-train", "--config", demo / "check-gradient.config",
               "--data", demo / "check-gradient-data.mat", "--options", "-s 2 -epoch_max 1 -bsize 4",
               "--seed", "1", "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    # the verdict, then the line that reproduces the report (every report ends with it)
    *_, verdict, last = run.stdout.strip().splitlines()
    assert verdict.endswith("PASS") and last.startswith("reproduce: simplecnn compare-train ")
    tree = Path(re.search(r"current layout at (\S+)\)", verdict).group(1))
    assert tree.resolve().is_relative_to(site.resolve()), tree
