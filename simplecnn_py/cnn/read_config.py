"""``param = read_config(config_file)``: a simpleNN configuration file.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``cnn/read_config.m``; this repository's MATLAB twins are
``matlab_ref/seed/cnn/read_config.m`` (``param``, this form) and
``matlab_ref/current/MATLAB/cnn/read_config.m`` (``config``). No equation of
the gradient-calculation slides.  The original reads the file line by line and
runs each line through ``eval``, so that ``L = 4;`` leaves ``param.L = 4``.
Keys (as ``matlab_ref/seed/cnn/read_config.m`` checks them)::

    L, LC, LF            layers, convolutional layers, fully-connected layers
    ht_input, wd_input   the input image's height and width (scalars)
    ch_input             LC+1 channel counts, the first is the image's
    wd_pad_added         LC zero paddings
    wd_filter            LC square filter widths
    strides              LC strides
    wd_subimage_pool     LC square pooling widths (1 = no pooling)
    full_neurons         LF neuron counts, the last is nL, the class count

This port parses the same text and never executes it: a line is
``name = value;`` (several may share a line, separated by ``;``), ``%``
starts a comment, ``...`` continues a line, and a value is a number or a
``[...]`` vector of numbers (commas or blanks between entries, ``;`` between
rows, so ``[1;2]`` is a column).  Anything else (``ones(3)``, ``1+1``,
``system('...')``) is refused with ``InputError(config_file, 'line N: ...')``.

``param`` gets L, LC, LF, nL, ht_input, wd_input as ints and the per-layer
vectors as 1-based ``cell``s of ints (``param.ch_input[m]`` is
``ch_input(m)``).  ``LF`` may be left out (it is then ``L - LC``); when given it
must equal ``L - LC``.  ``param.precision`` is set to ``'double'`` (the CLI
may change it to ``'single'``) and ``param.config_file`` to the path, so
that later checks (``init_model``) can name the file.

Every size is checked here, so that the message names the config file: the
layer sizes of ``init_model`` (``ht_pad = ht + 2*pad``,
``ht_conv = floor((ht_pad - h)/s) + 1``, ``ht_next = floor(ht_conv/pool)``,
the same for widths) must stay >= 1 through every conv layer, or the error
names the layer.

Keys the port does not know are kept (a number as int/float, a vector as a
``cell``) and reported with a ``ConfigWarning`` (``warnings.warn``), so a
config carrying extra settings still loads but a typo is visible.

A key assigned twice is refused (``InputError`` naming the file, the key and
both lines).  The MATLAB original ``eval``s line after line, so there the
last assignment silently wins; a second ``wd_filter`` is far more often a
pasted-over edit than an intent, and taking either value quietly would make
a later size check blame another key.  No upstream config repeats a key.
"""
from __future__ import annotations

import math
import re
import warnings

from simplecnn_py.support.conventions import cell, struct
from simplecnn_py.support.errors import InputError

__all__ = ["read_config", "layer_sizes", "weight_shapes", "ConfigWarning"]


class ConfigWarning(UserWarning):
    """Something in a config file that is accepted but worth a look."""


SCALAR_KEYS = ("L", "LC", "LF", "ht_input", "wd_input")
CONV_KEYS = ("wd_pad_added", "wd_filter", "strides", "wd_subimage_pool")
VECTOR_KEYS = ("ch_input",) + CONV_KEYS + ("full_neurons",)
REQUIRED = ("L", "LC", "ht_input", "wd_input") + VECTOR_KEYS

_NAME = re.compile(r"^([A-Za-z]\w*)\s*=(.*)$", re.S)
_LARGEST = 2**31 - 1
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def read_config(config_file):
    """Parse ``config_file`` into ``param`` (see the module docstring)."""
    where = str(config_file)
    text = _read_text(where)
    values, lines = _parse(where, text)
    return _build_param(where, values, lines)


# --- reading and parsing ------------------------------------------------------

def _read_text(where):
    try:
        with open(where, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise InputError(where, "no such file") from None
    except IsADirectoryError:
        raise InputError(where, "is a directory, not a config file") from None
    except OSError as e:
        raise InputError(where, f"cannot read: {e.strerror or e}") from None
    if b"\x00" in raw:
        raise InputError(where, "not a text file (binary content); a config holds 'name = value;' lines")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _logical_lines(text):
    """(line number, text without comment) with ``...`` continuations joined."""
    pending, start = "", None
    for n, line in enumerate(text.splitlines(), start=1):
        body = line.split("%", 1)[0].rstrip()
        if start is None:
            start = n
        if body.endswith("..."):
            pending += body[:-3] + " "
            continue
        yield start, pending + body
        pending, start = "", None
    if start is not None:
        yield start, pending


def _statements(where, n, line):
    """Split a line on ``;`` outside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in line:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise InputError(where, f"line {n}: ']' without a matching '['")
        if ch == ";" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if depth > 0:
        raise InputError(where, f"line {n}: '[' is never closed")
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def _show(s, width=40):
    s = " ".join(s.split())
    return repr(s if len(s) <= width else s[: width - 3] + "...")


def _parse(where, text):
    values, lines = {}, {}
    for n, line in _logical_lines(text):
        for stmt in _statements(where, n, line):
            m = _NAME.match(stmt)
            if not m:
                raise InputError(where, f"line {n}: {_show(stmt)} is not a 'name = value;' assignment")
            name, rhs = m.group(1), m.group(2).strip()
            value = _parse_value(where, n, name, rhs)
            if name in values:
                raise InputError(where, f"line {n}: key {name} is assigned again (first at line {lines[name]}); "
                                        "a config names each key once")
            values[name], lines[name] = value, n
    return values, lines


def _parse_value(where, n, name, rhs):
    """A number, or the entries of a ``[...]`` vector as a list."""
    if _NUMBER.match(rhs):
        return float(rhs)
    if rhs.startswith("[") and rhs.endswith("]") and rhs.count("[") == 1:
        rows = [r for r in rhs[1:-1].split(";")]
        rows = [[t for t in re.split(r"[\s,]+", r.strip()) if t] for r in rows]
        if rows and not rows[-1] and len(rows) > 1:
            rows.pop()  # [1;2;]
        if all(_NUMBER.match(t) for r in rows for t in r):
            lengths = {len(r) for r in rows}
            if len(rows) > 1 and lengths != {1}:
                raise InputError(where, f"line {n}: {name} = {_show(rhs)} is a matrix; a vector is needed")
            return [float(t) for r in rows for t in r]
    raise InputError(where, f"line {n}: {name} = {_show(rhs)} is not a number or a [...] vector of numbers "
                            "(config files are parsed, never executed)")


# --- checking and building param ----------------------------------------------

def _int_entries(where, lines, name, value, least):
    """The entries of ``name`` as ints >= ``least``, or an error naming the key."""
    entries = value if isinstance(value, list) else [value]
    out = []
    for k, v in enumerate(entries, start=1):
        at = f"key {name} (line {lines[name]})" + (f", entry {k}" if len(entries) > 1 else "")
        if not math.isfinite(v) or v != int(v):
            raise InputError(where, f"{at}: {v:g} is not an integer")
        if v > _LARGEST:
            raise InputError(where, f"{at}: {v:g} is too large (at most {_LARGEST})")
        if v < least:
            need = "positive" if least == 1 else f">= {least}"
            raise InputError(where, f"{at}: {int(v)} must be {need}")
        out.append(int(v))
    return out


def _build_param(where, values, lines):
    missing = [k for k in REQUIRED if k not in values]
    if missing:
        s = "s" if len(missing) > 1 else ""
        raise InputError(where, f"missing key{s} " + ", ".join(missing))

    param = struct()
    for key in SCALAR_KEYS:
        if key not in values:
            continue
        v = _int_entries(where, lines, key, values[key], 1)
        if len(v) != 1:
            raise InputError(where, f"key {key} (line {lines[key]}): {len(v)} entries; a single number is needed")
        setattr(param, key, v[0])

    L, LC = param.L, param.LC
    LF = L - LC
    if LF < 1:
        raise InputError(where, f"key LC (line {lines['LC']}): LC = {LC} leaves no fully-connected layer (L = {L}); "
                                "L = LC + LF with LF >= 1")
    if hasattr(param, "LF") and param.LF != LF:
        raise InputError(where, f"key LF (line {lines['LF']}): L = {L} but LC + LF = {LC} + {param.LF}")
    param.LF = LF

    expected = {"ch_input": (LC + 1, "LC+1"), "full_neurons": (LF, "LF" if "LF" in values else "L-LC")}
    expected.update({k: (LC, "LC") for k in CONV_KEYS})
    for key in VECTOR_KEYS:
        least = 0 if key == "wd_pad_added" else 1
        v = _int_entries(where, lines, key, values[key], least)
        n, label = expected[key]
        if len(v) != n:
            raise InputError(where, f"key {key} (line {lines[key]}): {len(v)} entr{'y' if len(v) == 1 else 'ies'}, "
                                    f"{label} = {n} needed")
        setattr(param, key, cell(v))
    param.nL = param.full_neurons[LF]

    for key, value in values.items():
        if key in SCALAR_KEYS or key in VECTOR_KEYS:
            continue
        kept = cell([_num(x) for x in value]) if isinstance(value, list) else _num(value)
        setattr(param, key, kept)
        warnings.warn(f"{where}: line {lines[key]}: unknown key {key} kept as param.{key}",
                      ConfigWarning, stacklevel=3)

    _check_sizes(where, lines, param)
    param.precision = "double"
    param.config_file = where
    return param


def _num(x):
    return int(x) if math.isfinite(x) and x == int(x) else x


def layer_sizes(param):
    """The sizes ``init_model`` computes, per conv layer m = 1..LC, as a list of dicts.

    ``ht_pad = ht_input(m) + 2*wd_pad_added(m)``,
    ``ht_conv = floor((ht_pad - wd_filter(m))/strides(m)) + 1``,
    ``ht_input(m+1) = floor(ht_conv/wd_subimage_pool(m))``, the same for widths.
    Sizes may come out < 1 here; ``read_config`` refuses such configs.
    """
    ht, wd, out = param.ht_input, param.wd_input, []
    for m in range(1, param.LC + 1):
        p, h, s, q = (param.wd_pad_added[m], param.wd_filter[m], param.strides[m], param.wd_subimage_pool[m])
        ht_pad, wd_pad = ht + 2 * p, wd + 2 * p
        ht_conv, wd_conv = (ht_pad - h) // s + 1, (wd_pad - h) // s + 1
        nxt = (ht_conv // q, wd_conv // q)
        out.append(dict(ht_input=ht, wd_input=wd, ht_pad=ht_pad, wd_pad=wd_pad,
                        ht_conv=ht_conv, wd_conv=wd_conv, ht_next=nxt[0], wd_next=nxt[1]))
        ht, wd = nxt
    return out


def weight_shapes(param):
    """``(rows, cols)`` of ``weight{m}`` for m = 1..L (as ``init_model``); bias{m} is rows x 1."""
    shapes = []
    for m in range(1, param.LC + 1):
        shapes.append((param.ch_input[m + 1], param.wd_filter[m] ** 2 * param.ch_input[m]))
    last = layer_sizes(param)[-1]
    n_prev = last["ht_next"] * last["wd_next"] * param.ch_input[param.LC + 1]
    for k in range(1, param.LF + 1):
        shapes.append((param.full_neurons[k], n_prev))
        n_prev = param.full_neurons[k]
    return shapes


# no machine holds an array of more values than this (8 TiB of doubles): a
# config asking for one has a typo, and numpy would fail with its own words
TOO_MANY = 2 ** 40


def _check_sizes(where, lines, param):
    _check_sizes_positive(where, lines, param)
    arrays = []
    for m, s in enumerate(layer_sizes(param), start=1):
        d, h = param.ch_input[m], param.wd_filter[m]
        arrays.append((m, "its padded input", d * s["ht_pad"] * s["wd_pad"], " per instance"))
        arrays.append((m, "its phiZ", h * h * d * s["ht_conv"] * s["wd_conv"], " per instance"))
    arrays += [(m, "weight{%d}" % m, r * c, "") for m, (r, c) in enumerate(weight_shapes(param), start=1)]
    for m, what, n, each in arrays:
        if n > TOO_MANY:
            raise InputError(where, f"layer {m}: {what} would hold {float(n):.3g} values{each}, "
                                    f"more than any machine holds (a typo in a size?)")


def _check_sizes_positive(where, lines, param):
    for m, s in enumerate(layer_sizes(param), start=1):
        h, q = param.wd_filter[m], param.wd_subimage_pool[m]
        if s["ht_conv"] < 1 or s["wd_conv"] < 1:
            raise InputError(where, f"layer {m}: filter width {h} (wd_filter, line {lines['wd_filter']}) exceeds the "
                                    f"padded input {s['ht_pad']} x {s['wd_pad']} "
                                    f"({s['ht_input']} x {s['wd_input']} with wd_pad_added {param.wd_pad_added[m]})")
        if s["ht_next"] < 1 or s["wd_next"] < 1:
            raise InputError(where, f"layer {m}: pooling width {q} (wd_subimage_pool, line "
                                    f"{lines['wd_subimage_pool']}) exceeds the convolution output "
                                    f"{s['ht_conv']} x {s['wd_conv']}")
