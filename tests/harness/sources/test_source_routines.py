"""``compare --python routines:FILE.py``: your own routines swapped into the
port, the mix judged against MATLAB stage by stage.

A right routine of one's own (phi(pad(Z)) written with np.pad and sliding
windows) PASSes; a planted fault is found at the stage it acts on; a routine
that raises or returns the wrong shape is one line naming it; the port's own
routines are back in place after every run (the swap cannot leak).  Judged
against matlab_ref's trace, recorded once (Octave); the swap itself needs
no Octave."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import NONSQUARE, needs_octave

from simplecnn_harness.compare import Options, prepare, python_side, run_compare
from simplecnn_harness.sources.python_side import python_source
from simplecnn_py.support.errors import InputError

OWN_PHIZ = '''
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

def padding_and_phiZ(model, net, m):
    n = net.num_sampled_data
    d, a, b = model.ch_input[m], model.ht_input[m], model.wd_input[m]
    p, h, s = model.wd_pad_added[m], model.wd_filter[m], model.strides[m]
    X = np.pad(net.Z[m].reshape(d, a, b, n, order='F'), ((0, 0), (p, p), (p, p), (0, 0)))
    win = sliding_window_view(X, (h, h), axis=(1, 2))[:, ::s, ::s]
    return np.asfortranarray(win.transpose(4, 5, 0, 1, 2, 3).reshape(h * h * d, -1, order='F'))
'''

FAULTS = {
    # file text -> the first divergence it must give
    "phi": ('''
from simplecnn_py.cnn.vTP import vTP as port_vTP
def vTP(param, model, net, m, V, op):
    out = port_vTP(param, model, net, m, V, op)
    return 1.001 * out if op == 'phi_gradient' else out
''', (2, "backward", "phi_gradient")),
    "pool": ('''
import numpy as np
from simplecnn_py.cnn.maxpooling import maxpooling as port
def maxpooling(model, net, m):
    Z, idx = port(model, net, m)
    return Z * 0.999, idx
''', (2, "forward", "Z")),
    "jtv": ('''
from simplecnn_py.cnn.JTv import JTv as port
def JTv(model, net, v):
    return port(model, net, 0.5 * v)
''', (4, "backward", "dXidS")),
}


def _write(tmp_path, text, name="mine.py"):
    f = tmp_path / name
    f.write_text(text)
    return f


@pytest.fixture(scope="module")
def inputs():
    return prepare(Options(config=str(NONSQUARE), instances=16))


def _ports_functions():
    """Every port module's routine names and what they are bound to (all the port's own)."""
    import inspect
    import sys

    return {(name, attr): getattr(mod, attr) for name, mod in list(sys.modules.items())
            if name.startswith("simplecnn_py.") and mod is not None
            for attr in ("padding_and_phiZ", "maxpooling", "vTP", "JTv", "feedforward", "lossgrad_subset")
            if inspect.isfunction(getattr(mod, attr, None))}


def test_own_routine_gives_the_ports_stages_and_the_swap_is_undone(tmp_path, inputs):
    _, _, P = python_side(*inputs[:3])
    before = _ports_functions()
    assert all(f.__module__.startswith("simplecnn_py.") for f in before.values()) and len(before) >= 8
    src = python_source(f"routines:{_write(tmp_path, OWN_PHIZ)}", None, Options())
    with src.run(inputs, None) as run:
        assert set(k for k, s in run.stages.items() if s.value is not None) == set(P)
        for k, v in P.items():
            assert np.shape(run.stages[k].value) == np.shape(v)
            assert np.allclose(run.stages[k].value, v, rtol=0, atol=1e-12), k
    assert _ports_functions() == before
    assert "padding_and_phiZ" in src.describe


def test_the_swap_is_undone_when_a_routine_fails(tmp_path, inputs):
    python_side(*inputs[:3])
    before = _ports_functions()
    f = _write(tmp_path, "def vTP(param, model, net, m, V, op):\n    raise KeyError(op)\n")
    src = python_source(f"routines:{f}", None, Options())
    with pytest.raises(InputError) as e:
        with src.run(inputs, None):
            pass
    assert "your vTP raised KeyError: 'pool_gradient'" in str(e.value)
    assert _ports_functions() == before


@pytest.mark.parametrize("text,says", [
    ("from simplecnn_py.cnn.maxpooling import maxpooling as p\ndef maxpooling(model, net, m):\n"
     "    Z, i = p(model, net, m)\n    return Z.T, i\n",
     "your maxpooling returned (an array of shape 64x4, an array of shape 16x16); the port's returns "
     "(an array of shape 4x64, an array of shape 16x16)"),
    ("def padding_and_phiZ(model, net, m):\n    return None\n",
     "your padding_and_phiZ returned a NoneType; the port's returns an array of shape 18x480"),
    ("def feedforward(data, param, model, net):\n    return 1\n", "your feedforward returned the scalar 1, not the net"),
])
def test_wrong_shapes_are_one_line_naming_the_routine(tmp_path, inputs, text, says):
    src = python_source(f"routines:{_write(tmp_path, text)}", None, Options())
    with pytest.raises(InputError) as e:
        with src.run(inputs, None):
            pass
    assert says in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("text,says", [
    ("def vTP(model, net, m):\n    pass\n", "does not take the port's arguments vTP(param, model, net, m, V, op)"),
    ("x = 1\n", "defines none of the routines"),
    ("vTP = 3\n", "vTP is a int, not a function"),
    ("def broken(:\n", "line 1"),
])
def test_files_that_cannot_be_routines_are_refused(tmp_path, text, says):
    with pytest.raises(InputError) as e:
        python_source(f"routines:{_write(tmp_path, text)}", None, Options())
    assert says in str(e.value)


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    from simplecnn_harness.traces.record import record

    path = tmp_path_factory.mktemp("routines") / "seed.mat"
    record(Options(config=str(NONSQUARE), instances=16), path)
    return path


def _judge(trace, spec):
    from simplecnn_harness.traces.record import TraceRecords

    opts = Options(precision=None)
    return run_compare(opts, TraceRecords(trace, opts), python_source(spec, None, opts))


@needs_octave
def test_own_routine_passes_against_matlab(trace, tmp_path):
    result = _judge(trace, f"routines:{_write(tmp_path, OWN_PHIZ)}")
    assert result.ok and result.first_divergence is None
    assert len([s for s in result.stages if s.compared]) == 35
    assert result.notes[0].startswith("Python side: your routines padding_and_phiZ")


@needs_octave
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_planted_fault_is_found_at_its_stage(trace, tmp_path, fault):
    text, where = FAULTS[fault]
    result = _judge(trace, f"routines:{_write(tmp_path, text)}")
    assert not result.ok
    fd = result.first_divergence
    assert (fd["layer"], fd["direction"], fd["stage"]) == where


@needs_octave
def test_own_feedforward_without_trace_records_is_read_from_its_net(trace, tmp_path):
    """A feedforward of one's own that records nothing (here the port's, its
    records kept in a trace of its own): its forward stages come from the net
    it returns (Z, phiZ, index maps); sigma(S) is not compared, with the reason."""
    text = """
from simplecnn_py.support import trace
from simplecnn_py.cnn.feedforward import feedforward as port

def feedforward(data, param, model, net):
    with trace.tracing():
        return port(data, param, model, net)
"""
    result = _judge(trace, f"routines:{_write(tmp_path, text)}")
    assert result.ok, result.first_divergence
    by = {s.key(): s for s in result.stages}
    for m in (1, 2):
        assert by[(m, "forward", "phiZ")].compared and by[(m, "forward", "Z")].compared
        assert not by[(m, "forward", "sigmaS")].compared
        assert "your feedforward records no such stage" in by[(m, "forward", "sigmaS")].note
    assert by[(3, "forward", "Z")].compared and by[(2, "forward", "idx_pool")].compared
