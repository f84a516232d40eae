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


SEED_COMMIT = "ff2333d"             # the seed layout of the slides
# a small net for 28 x 28 one-channel images (the MNIST demo files, the shipped demo digits)
SMALL_28x28 = """% a small net for 28 x 28 one-channel images
L = 3;
LC = 2;
LF = 1;
wd_input = 28;
ht_input = 28;
ch_input = [1,4,8];
wd_pad_added = [1,1];
wd_filter = [3,3];
strides = [1,1];
wd_subimage_pool = [2,2];
full_neurons = [10];
"""


def real_trees(dest: Path) -> dict:
    """The newest commit's MATLAB folder and the seed commit's tree extracted
    under ``dest``, and ``SMALL_28x28`` written there: ``{'current', 'seed',
    'dir', 'config'}``; skips when the bundle is absent."""
    git_dir = clone(dest)
    (dest / "small.config").write_text(SMALL_28x28)
    return {"dir": dest, "config": dest / "small.config",
            "current": extract(git_dir, "HEAD", dest / "current") / "MATLAB",
            "seed": extract(git_dir, SEED_COMMIT, dest / "seed")}


def planted(src: Path, dest: Path, fault) -> Path:
    """A copy of the tree ``src`` at ``dest`` with one fault planted:
    ``fault = (file relative to the tree, old text, new text, ...)``, the
    first occurrence replaced (the old text must be there)."""
    import shutil

    shutil.copytree(src, dest)
    rel, old, new = fault[:3]
    f = dest / rel
    assert old in f.read_text()
    f.write_text(f.read_text().replace(old, new, 1))
    return dest
