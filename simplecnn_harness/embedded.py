"""Where the embedded MATLAB reference (``matlab_ref/``) and the bundled demo
files are: the one place every command asks."""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED_TREE = REPO / "matlab_ref" / "seed"                        # simplecnn compare's default
CURRENT_TREE = REPO / "matlab_ref" / "current" / "MATLAB"       # simplecnn compare-train's default
DEMO_DIR = REPO / "simplecnn_cli" / "demo"
