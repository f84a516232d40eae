"""Networks the original simpleNN itself cannot run, told from their sizes.

The one known case (issue 23; measured on the real code, docs/migration-guide.md,
section 11): the backward pass of the real code stops in ``cnn/vTP.m`` with
``accumarray: dimension mismatch`` when a convolutional layer m

* is pooled (``wd_subimage_pool(m) > 1``), and
* leaves one number per instance after pooling:
  ``ch_input(m+1) * ht_input(m+1) * wd_input(m+1) == 1`` (one channel,
  1 x 1), and
* the gradient is asked for a batch of two instances or more.

Why: with one number per instance, ``maxpooling`` gets its winners as a
1 x n row, and picking entries of the (column) list of pooling positions
with a row gives a column (MATLAB and Octave keep the orientation of the
indexed vector when both are vectors).  ``vTP``'s ``'pool_gradient'`` adds
the per-instance offsets (a row) to that column, which broadcasts to an
n x n matrix: n^2 indices for n values, and ``accumarray`` refuses.  Every
version from commit feca956 (January 2020, when maxpooling started
returning ``idx_pool`` this way) to the newest fails like this; older ones
run.  The forward pass (``cnn_predict``) and the Gauss-Newton Jacobian
(``'pool_Jacobian'`` reshapes the winners first) are not affected, and a
batch of one instance runs.

Whether the pooling tiles the convolution's output exactly plays no part:
a 2 x 2 output pooled by 2 fails, a 5 x 5 output pooled by 2 (one row and
column dropped) runs when it keeps 2 x 2 values or a second channel.

The port computes the mathematically right numbers on these networks; the
commands say once that the original would stop (``say``), or refuse with
``--strict``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from simplecnn_py.support.errors import InputError

FAILURE = "the original simpleNN (cnn/vTP.m) stops here with 'accumarray: dimension mismatch'"


@dataclass(frozen=True)
class OriginalFailure:
    """Where the original stops: ``layer`` (1-based) and what is there (one line)."""
    layer: int
    what: str

    def line(self) -> str:
        return f"layer {self.layer}: {self.what}"


def _first(v):
    try:
        return int(v[1])          # a 1-based cell (a model's ht_input)
    except (TypeError, IndexError, KeyError):
        return int(v)             # a number (a config's ht_input)


def _at(v, m):
    try:
        return int(v[m])
    except TypeError:
        return int(v)


def original_vtp_failure(config, batch: int = 2) -> OriginalFailure | None:
    """The layer where the original's backward pass stops on a network, or None.

    ``config``: a config struct (``read_config``) or a model (``init_model``,
    ``load_model``): ``LC``, ``ht_input``, ``wd_input``, ``ch_input``,
    ``wd_pad_added``, ``wd_filter``, ``strides``, ``wd_subimage_pool``.
    ``batch``: instances per gradient call; one instance never fails.
    The backward pass runs from layer LC down, so when several layers meet
    the condition the highest is the one the original stops at.
    Pure: sizes only, no weights or data."""
    if batch < 2:
        return None
    try:
        LC = int(config.LC)
        a, b = _first(config.ht_input), _first(config.wd_input)
        found = None
        for m in range(1, LC + 1):
            p, h, s = _at(config.wd_pad_added, m), _at(config.wd_filter, m), _at(config.strides, m)
            pool, d_next = _at(config.wd_subimage_pool, m), _at(config.ch_input, m + 1)
            if s < 1 or pool < 1:
                return None
            a_conv, b_conv = (a + 2 * p - h) // s + 1, (b + 2 * p - h) // s + 1
            a, b = a_conv // pool, b_conv // pool
            if a < 1 or b < 1:
                return None                  # not a valid network; refused elsewhere
            if pool > 1 and d_next * a * b == 1:
                tiles = "" if a_conv == b_conv == pool else \
                    f" (rows/columns beyond {pool * a} x {pool * b} dropped)"
                found = OriginalFailure(
                    m, f"{pool} x {pool} max pooling leaves one value per instance (1 channel, "
                       f"{a_conv} x {b_conv} pooled to 1 x 1{tiles})")
        return found
    except (AttributeError, TypeError, ValueError, IndexError):
        return None


TRAINS_NOT = ("the original simpleNN cannot train this network on batches of 2 or more instances "
              "(cnn/vTP.m stops with 'accumarray: dimension mismatch')")


def say(failure: OriginalFailure | None, strict: bool, where: str, note: str = "",
        what: str = FAILURE, stream=None) -> None:
    """One warning line on standard error for ``failure`` (nothing when None):
    where the original stops (``what``) and ``note``.  With ``strict``, an
    ``InputError`` on ``where`` instead (exit 2)."""
    if failure is None:
        return
    if strict:
        raise InputError(where, f"{failure.line()}: {what} (--strict)")
    tail = f"; {note}" if note else ""
    print(f"simplecnn: warning: {failure.line()}: {what}{tail}", file=stream or sys.stderr)


def explain_octave_error(config, batch: int) -> str:
    """The words ``compare`` adds to an Octave error on such a network ('' when none)."""
    failure = original_vtp_failure(config, batch)
    if failure is None:
        return ""
    return (f"; the original simpleNN itself fails on this config: {failure.line()}, and its vTP "
            f"cannot scatter the pooling gradient of such a layer for {batch} instances "
            f"(docs/migration-guide.md, quirks)")


def explain_training_error(config_file, options, l) -> str:
    """``explain_octave_error`` for a training run (``compare-train``): the
    config read from its file, the batches of ``options``' bsize on ``l``
    instances ('' when the inputs do not parse: the port refused them first)."""
    import warnings

    from simplecnn_py.cnn.read_config import read_config
    from simplecnn_py.opt.parse_options import parse_options

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            config = read_config(str(config_file))
        return explain_octave_error(config, min(int(parse_options(options).bsize), int(l)))
    except Exception:                      # noqa: BLE001 -- a note only; never hide the Octave error
        return ""
