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
