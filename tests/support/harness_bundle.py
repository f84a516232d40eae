"""Versions of the real simpleNN code for the harness tests, extracted from
``../shared/upstream/simpleNN.bundle`` (REPO.parent / "shared") into a
temporary folder; the tests skip with the reason when it is absent."""
from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

# the tiny non-square current-layout net of conftest (7 x 6 inputs; layer 2
# unpooled, two fully-connected layers): fast, and it tells the (wd_pad, ht_pad) swap
from conftest import TINY_CONFIG  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO.parent / "shared" / "upstream" / "simpleNN.bundle"



def need_bundle():
    if not BUNDLE.is_file():
        pytest.skip(f"the real simpleNN history is not here ({BUNDLE} absent)")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")


def clone(dest: Path) -> Path:
    need_bundle()
    git_dir = dest / "simpleNN.git"
    if not git_dir.exists():
        subprocess.run(["git", "clone", "--quiet", "--bare", str(BUNDLE), str(git_dir)], check=True)
    return git_dir


def matlab_commits(git_dir: Path) -> list[str]:
    out = subprocess.run(["git", "-C", str(git_dir), "log", "--format=%h", "--", "*.m"], check=True,
                         capture_output=True, text=True).stdout.split()
    return out[::-1]                      # oldest first


def extract(git_dir: Path, rev: str, dest: Path) -> Path:
    if not dest.exists():
        data = subprocess.run(["git", "-C", str(git_dir), "archive", rev], check=True, capture_output=True).stdout
        dest.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return dest
