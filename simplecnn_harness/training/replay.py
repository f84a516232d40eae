"""Replayed randomness: the MATLAB side consumes the Python side's draws.

Octave's and numpy's generators differ, so a parity run of training makes
both sides use ONE stream, the Python side's (``simplecnn_py.support.rng.Stream``):

1. the Python side runs first on a :class:`RecordingStream`, which keeps
   every draw with its kind and MATLAB call shape (``randn(m, n)``,
   ``rand(m, n)``, ``randperm(n)``/``randperm(n, k)``);
2. :func:`write_draws` puts them in a .mat file; in the Octave session,
   :class:`Replay` places ``octave/replay/`` first on the path (its
   ``randn.m``, ``rand.m``, ``randperm.m``, ``randi.m``, ``rng.m`` and
   ``RandStream.m`` shadow the built-ins; Octave's warning about that is
   switched off) and loads the draws into a global buffer per kind;
3. the MATLAB code then runs unmodified: its k-th ``randn`` call gets the
   Python side's k-th ``randn`` draw, column-major, in the size it asks
   (``'single'``, ``'double'`` and ``'like'`` honoured), and so on for
   ``rand`` and ``randperm``; seeding calls (``rand('state', s)``,
   ``randn('state', s)``, ``rand('seed', s)``, ``rng(...)``,
   ``RandStream(...)``, ``RandStream.setGlobalStream(...)``) change nothing.

Strategy (a) of the design: exact replay of the log.  A draw the MATLAB
side asks in another size than the Python side's draw of the same number
(``randperm(300)`` against ``randperm(256)``, ``randn(3, 4)`` against
``randn(4, 3)``), or a draw beyond the last one the Python side made, stops
the MATLAB run with ``replay divergence ...``; :class:`Replay` turns that
into :class:`ReplayDivergence` (a ``ParityFailure``: the two sides draw
differently).  A lenient replay (``strict=False``) serves ``rand``/``randn``
values by count across draw boundaries (for code that draws
``randn(m*n, 1)`` and reshapes); ``randperm`` is always checked.

After the run, :meth:`Replay.status` tells how many draws of each kind the
MATLAB side consumed, so a side that drew *fewer* is seen too.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from simplecnn_py.support.errors import ParityFailure
from simplecnn_py.support.rng import Stream

from ..octave.session import OctaveError, octave_quote

REPLAY_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "octave", "replay")
KINDS = ("randn", "rand", "randperm", "randi")
_SHADOWS = {"randn", "rand", "randperm", "randi", "rng", "RandStream"}


class ReplayDivergence(ParityFailure):
    """The MATLAB side asked a draw the Python side did not make."""


@dataclass
class Draw:
    kind: str            # 'randn' | 'rand' | 'randperm'
    shape: tuple         # (m, n) for randn/rand, (n, k) for randperm
    values: np.ndarray   # float64, in the order served (column-major fill)

    def call(self) -> str:
        a, b = self.shape
        if self.kind == "randperm":
            return f"randperm({a})" if a == b else f"randperm({a}, {b})"
        return f"{self.kind}({a}, {b})"


class RecordingStream(Stream):
    """A ``Stream`` that keeps every draw (kind, MATLAB shape, values)."""

    def __init__(self, seed=0):
        super().__init__(seed)
        self.draws: list[Draw] = []

    def randn(self, m, n=None):
        X = super().randn(m, n)
        self.draws.append(Draw("randn", X.shape, X.reshape(-1, order="F").astype(np.float64)))
        return X

    def rand(self, m, n=None):
        X = super().rand(m, n)
        self.draws.append(Draw("rand", X.shape, X.reshape(-1, order="F").astype(np.float64)))
        return X

    def randperm(self, n, k=None):
        p = super().randperm(n, k)
        self.draws.append(Draw("randperm", (int(n), int(n if k is None else k)),
                               np.asarray(p, dtype=np.float64).reshape(-1)))
        return p

    def randi(self, imax, m, n=1):
        """``randi(imax, m, n)``: integers in 1..imax, filled column-major
        (from this stream's uniforms, kept as one ``randi`` draw)."""
        U = Stream.rand(self, m, n)
        X = np.floor(U * int(imax)) + 1.0
        self.draws.append(Draw("randi", X.shape, X.reshape(-1, order="F").astype(np.float64)))
        return X.astype(np.int64)

    def counts(self) -> dict:
        """``{kind: (draws, values)}``."""
        out = {k: [0, 0] for k in KINDS}
        for d in self.draws:
            out[d.kind][0] += 1
            out[d.kind][1] += d.values.size
        return {k: tuple(v) for k, v in out.items()}


def draws_from_log(log) -> list[Draw]:
    """Draws from a plain ``Stream.log`` (``(kind, values)`` pairs).

    The log has no shapes: each randn/rand draw is taken as a column
    (``randn(numel, 1)``) and each randperm as ``randperm(numel)``; replay
    such draws leniently (``strict=False``).
    """
    out = []
    for kind, values in log:
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        out.append(Draw(kind, (v.size, v.size) if kind == "randperm" else (v.size, 1), v))
    return out


def write_draws(path, draws) -> None:
    """The .mat file ``simplecnn_replay_load__`` reads: per kind,
    ``<kind>_values`` (a column) and ``<kind>_shapes`` (draws x 2)."""
    import scipy.io

    if isinstance(draws, RecordingStream):
        draws = draws.draws
    out = {}
    for kind in KINDS:
        mine = [d for d in draws if d.kind == kind]
        values = (np.concatenate([d.values for d in mine]) if mine else np.zeros(0)).reshape(-1, 1)
        shapes = np.array([d.shape for d in mine], dtype=np.float64).reshape(-1, 2)
        out[f"{kind}_values"] = values
        out[f"{kind}_shapes"] = shapes
    scipy.io.savemat(str(path), out, format="5")


class Replay:
    """Serve recorded draws to an ``OctaveSession`` for the length of a block.

        with Replay(octave, stream.draws, folder) as replay:
            octave.eval("model = init_model(read_config('a.config'));")
        replay.status()   # {kind: (draws used, draws made, values used, values made)}

    A ``replay divergence`` raised by a shadow inside the block comes out as
    :class:`ReplayDivergence`.
    """

    def __init__(self, octave, draws, folder, strict: bool = True, shadows=()):
        self.octave = octave
        self.shadows = [str(d) for d in shadows]     # folders of further shadows, first on the path
        self.draws = draws.draws if isinstance(draws, RecordingStream) else list(draws)
        self.file = os.path.join(str(folder), "replay_draws.mat")
        self.strict = strict
        self._status = None

    def __enter__(self):
        write_draws(self.file, self.draws)
        self.octave.eval("warning('off', 'Octave:shadowed-function');", timeout=60)
        self.octave.eval(f"addpath('{octave_quote(REPLAY_DIR)}', '-begin');", timeout=60)
        for d in self.shadows:
            self.octave.eval(f"addpath('{octave_quote(d)}', '-begin');", timeout=60)
        self.octave.eval(f"simplecnn_replay_load__('{octave_quote(self.file)}', {int(bool(self.strict))});",
                         timeout=120)
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.octave.alive():
            try:
                self._status = self._read_status(stop=True)
                self.octave.rmpath(REPLAY_DIR)
                for d in self.shadows:
                    self.octave.rmpath(d)
            except OctaveError:
                pass
        if isinstance(exc, OctaveError) and is_divergence(exc):
            raise ReplayDivergence(divergence_message(exc)) from None
        return False

    def _read_status(self, stop=False):
        lines = self.octave.eval(f"simplecnn_replay_status__({int(stop)});", timeout=60)
        out = {}
        for line in lines:
            parts = line.split()
            if len(parts) == 6 and parts[0] == "replay-status":
                out[parts[1]] = tuple(int(x) for x in parts[2:])
        return out

    def status(self) -> dict:
        """``{kind: (draws used, draws made, values used, values made)}``."""
        if self._status is None and self.octave.alive():
            return self._read_status(stop=False)
        return self._status or {}

    def unconsumed(self) -> list[str]:
        """Kinds of which the MATLAB side used fewer draws than the Python side made."""
        return [f"{kind}: the MATLAB side used {used} of the Python side's {made} draws"
                for kind, (used, made, _, _) in self.status().items() if used != made]


def is_divergence(err) -> bool:
    return "replay divergence" in str(err)


def divergence_message(err) -> str:
    msg = str(err)
    k = msg.find("replay divergence")
    msg = msg[k:] if k >= 0 else msg
    for frame in getattr(err, "stack", None) or []:
        file, name, line = (list(frame) + ["", "", ""])[:3]
        if name and name not in _SHADOWS and not name.startswith("simplecnn_replay"):
            return f"{msg} (in {os.path.basename(file) or name}, line {line})"
    return msg
