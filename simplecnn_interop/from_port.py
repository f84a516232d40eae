"""Everything simplecnn_interop takes from the port and its support modules,
imported in this one place (so a move of the port's modules touches one file)."""
from __future__ import annotations

from simplecnn_py.cnn.feedforward import feedforward  # noqa: F401
from simplecnn_py.cnn.init_model import init_model  # noqa: F401
from simplecnn_py.cnn.init_net import init_net  # noqa: F401
from simplecnn_py.cnn.read_config import read_config  # noqa: F401
from simplecnn_py.support.conventions import cols, struct  # noqa: F401
from simplecnn_py.support.datafile import load_data  # noqa: F401
from simplecnn_py.support.errors import EnvironmentProblem, InputError  # noqa: F401
from simplecnn_py.support.model_file import atomic_write, load_model, save_model  # noqa: F401
from simplecnn_py.support.rng import NoDraws  # noqa: F401
