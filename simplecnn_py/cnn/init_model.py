"""``model = init_model(param, seed)``: layer sizes and He-initialised weights.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``cnn/init_model.m``; this repository's MATLAB twins are
``matlab_ref/seed/cnn/init_model.m`` (``init_model(param)``) and
``matlab_ref/current/MATLAB/cnn/init_model.m`` (``init_model(config)``); the
port adds ``seed``.  The sizes are those of the matrices of the
gradient-calculation slides' eq. (3) (a_pad, a_conv, a^{m+1} ...), for conv
layers m = 1..LC:

    ht_pad(m)  = ht_input(m) + 2*wd_pad_added(m)                (same for wd)
    ht_conv(m) = floor((ht_pad(m) - wd_filter(m))/strides(m)) + 1
    ht_input(m+1) = floor(ht_conv(m)/wd_subimage_pool(m))

Weights: ``weight{m}`` is ch_input(m+1) x (wd_filter(m)^2*ch_input(m)) for a
conv layer and n_m x n_{m-1} for a fully-connected one, with
n_LC = ht_input(LC+1)*wd_input(LC+1)*ch_input(LC+1); He normal
``randn(out, fan_in)*sqrt(2/fan_in)`` drawn for m = 1..L from one
``simplecnn_py.support.rng.Stream`` (so the harness can replay the draws to Octave);
``bias{m} = zeros(out, 1)``.  ``var_ptr = [1; cumsum(var_num) + 1]`` (1-based,
(L+1) x 1), var_num(m) = numel(weight{m}) + numel(bias{m}).

``seed`` is an int (``Stream(seed)``), a ``Stream`` (used as is), or None
(``Stream(0)``: deterministic, as MATLAB's default generator state is).
Arrays are float64, or float32 when ``param.precision == 'single'``.
A layer whose size is not positive raises ``InputError('config', ...)``.
"""
from __future__ import annotations

import math

import numpy as np

from ..support.conventions import cell, float_type, ftype, struct, zeros
from ..support.errors import InputError
from ..support.rng import Stream


def _where(param):
    return getattr(param, "config_file", None) or "config"


def _vector(param, name, n, where):
    """``param.<name>`` as a cell of n ints (a config vector of length n)."""
    raw = getattr(param, name, None)
    if raw is None:
        raise InputError(where, f"{name} is missing")
    values = list(raw) if isinstance(raw, cell) else np.atleast_1d(np.asarray(raw, dtype=object)).ravel().tolist()
    if len(values) != n:
        raise InputError(where, f"{name} must have {n} entries, it has {len(values)}")
    out = []
    for v in values:
        try:
            ok = not isinstance(v, (bool, np.bool_)) and float(v) == int(v)
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise InputError(where, f"{name} must hold integers, got {v!r}")
        out.append(int(v))
    return cell(out)


def _positive(value, what, where, allow_zero=False):
    if value < 0 or (value == 0 and not allow_zero):
        raise InputError(where, f"{what} is {value}, must be {'>= 0' if allow_zero else '> 0'}")


def init_model(param, seed=None):
    where = _where(param)
    dtype = float_type(param)
    L, LC, LF = int(param.L), int(param.LC), int(param.LF)
    if LC < 1 or LF < 1 or L != LC + LF:
        raise InputError(where, f"need L = LC + LF with LC >= 1 and LF >= 1 (L={L}, LC={LC}, LF={LF})")

    model = struct(L=L, LC=LC, LF=LF)
    model.ch_input = _vector(param, "ch_input", LC + 1, where)
    model.wd_pad_added = _vector(param, "wd_pad_added", LC, where)
    model.wd_filter = _vector(param, "wd_filter", LC, where)
    model.strides = _vector(param, "strides", LC, where)
    model.wd_subimage_pool = _vector(param, "wd_subimage_pool", LC, where)
    model.full_neurons = _vector(param, "full_neurons", LF, where)
    model.nL = model.full_neurons[LF]
    if int(getattr(param, "nL", model.nL)) != model.nL:
        raise InputError(where, f"nL = {param.nL} but full_neurons ends with {model.nL}")

    model.ht_input = cell(LC + 1)
    model.wd_input = cell(LC + 1)
    model.ht_input[1] = int(param.ht_input)
    model.wd_input[1] = int(param.wd_input)
    _positive(model.ht_input[1], "ht_input", where)
    _positive(model.wd_input[1], "wd_input", where)
    for m in range(1, LC + 2):
        _positive(model.ch_input[m], f"ch_input({m})", where)
    for k in range(1, LF + 1):
        _positive(model.full_neurons[k], f"full_neurons({k})", where)

    model.ht_pad, model.wd_pad = cell(LC), cell(LC)
    model.ht_conv, model.wd_conv = cell(LC), cell(LC)
    for m in range(1, LC + 1):
        p, h = model.wd_pad_added[m], model.wd_filter[m]
        s, pool = model.strides[m], model.wd_subimage_pool[m]
        _positive(p, f"wd_pad_added({m}) of conv layer {m}", where, allow_zero=True)
        _positive(h, f"wd_filter({m}) of conv layer {m}", where)
        _positive(s, f"strides({m}) of conv layer {m}", where)
        _positive(pool, f"wd_subimage_pool({m}) of conv layer {m}", where)
        model.ht_pad[m] = model.ht_input[m] + 2 * p
        model.wd_pad[m] = model.wd_input[m] + 2 * p
        model.ht_conv[m] = (model.ht_pad[m] - h) // s + 1
        model.wd_conv[m] = (model.wd_pad[m] - h) // s + 1
        _positive(model.ht_conv[m], f"conv layer {m}: output height ht_conv "
                  f"(padded height {model.ht_pad[m]}, filter {h}, stride {s})", where)
        _positive(model.wd_conv[m], f"conv layer {m}: output width wd_conv "
                  f"(padded width {model.wd_pad[m]}, filter {h}, stride {s})", where)
        model.ht_input[m + 1] = model.ht_conv[m] // pool
        model.wd_input[m + 1] = model.wd_conv[m] // pool
        _positive(model.ht_input[m + 1], f"conv layer {m}: pooled height "
                  f"(ht_conv {model.ht_conv[m]}, pool {pool})", where)
        _positive(model.wd_input[m + 1], f"conv layer {m}: pooled width "
                  f"(wd_conv {model.wd_conv[m]}, pool {pool})", where)

    stream = seed if isinstance(seed, Stream) else Stream(0 if seed is None else seed)
    model.weight, model.bias = cell(L), cell(L)
    var_num = np.zeros(L, dtype=np.int64)
    for m in range(1, L + 1):
        if m <= LC:
            n_out = model.ch_input[m + 1]
            fan_in = model.wd_filter[m] ** 2 * model.ch_input[m]
        else:
            n_out = model.full_neurons[m - LC]
            fan_in = (model.ht_input[LC + 1] * model.wd_input[LC + 1] * model.ch_input[LC + 1]
                      if m == LC + 1 else model.full_neurons[m - LC - 1])
        model.weight[m] = ftype(stream.randn(n_out, fan_in) * math.sqrt(2.0 / fan_in), dtype)
        model.bias[m] = zeros(n_out, 1, dtype=dtype)
        var_num[m - 1] = n_out * fan_in + n_out
    model.var_ptr = np.concatenate(([1], np.cumsum(var_num) + 1)).astype(np.int64)[:, None]
    return model
