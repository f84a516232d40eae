"""Shared fixtures: where ../shared/data is, and whether Octave is here."""
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """The shared MNIST demo files; tests using them skip when absent."""
    if not (SHARED_DATA / "mnist-demo.mat").exists():
        pytest.skip("../shared/data/mnist-demo.mat not present")
    return SHARED_DATA


def octave_available():
    return shutil.which("octave-cli") is not None or shutil.which("octave") is not None


needs_octave = pytest.mark.skipif(not octave_available(), reason="GNU Octave is not installed")


# A tiny non-square current-layout config shared by the replay and
# compare-train tests.
TINY_CONFIG = """% tiny non-square net: 7 x 6 x 2 inputs, 3 classes
L = 4;
LC = 2;
LF = 2;
ht_input = 7;
wd_input = 6;
ch_input = [2,3,4];
wd_pad_added = [1,1];
wd_filter = [3,2];
strides = [1,2];
wd_subimage_pool = [2,1];
full_neurons = [5,3];
"""


def octave_quote(s):
    """``s`` inside a single-quoted Octave string."""
    return str(s).replace("'", "''")
