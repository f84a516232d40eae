"""Everything simplecnn_interop takes from the port and its support modules,
imported in this one place (so a move of the port's modules touches one file)."""
from __future__ import annotations

from simplecnn_py.conventions import cols, first_max, struct  # noqa: F401
from simplecnn_py.datafile import load_data  # noqa: F401
from simplecnn_py.errors import EnvironmentProblem, InputError, ParityFailure  # noqa: F401
from simplecnn_py.feedforward import feedforward  # noqa: F401
from simplecnn_py.init_model import init_model  # noqa: F401
from simplecnn_py.init_net import init_net  # noqa: F401
from simplecnn_py.model_file import atomic_write, load_model, save_model  # noqa: F401
from simplecnn_py.read_config import read_config  # noqa: F401
from simplecnn_py.rng import NoDraws  # noqa: F401
