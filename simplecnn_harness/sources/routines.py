"""Your own routines as the Python side (``compare --python routines:FILE.py``).

``FILE.py`` defines any of the port's routines by name, with the port's
signatures (``padding_and_phiZ(model, net, m)``, ``maxpooling(model, net,
m)``, ``vTP(param, model, net, m, V, op)``, ``feedforward(data, param,
model, net)``, ``JTv(model, net, v)``, ``lossgrad_subset(prob, param, model,
net, batch_idx, task)``, ...).  For the run, and only for it, each one
replaces the port's own wherever the port's modules call it (the module-level
names of ``simplecnn_py``'s modules are swapped and restored after, whatever
happens); the rest stay the port's.  The port's ``lossgrad_subset`` (or
yours) runs with ``trace.tracing()`` on, as for the port itself, so every
stage your routines produce is judged against MATLAB.

A routine of yours that raises, returns something of another shape than the
port's routine returns for the same arguments (routines returning arrays),
or a net without the fields the port reads, stops the run with one line
naming it (exit 2).  When your ``feedforward`` records nothing itself, the
forward stages are read from the net it returns.
"""
from __future__ import annotations

import contextlib
import inspect
import sys
import time

import numpy as np

from simplecnn_py.support.errors import InputError

from .base import SideRun, as_stages

#: the routines a gradient evaluation runs through (the ones a user can swap here)
SWAPPABLE = ("lossgrad_subset", "feedforward", "JTv", "vTP", "padding_and_phiZ", "maxpooling",
             "find_index_phiZ", "find_index_padding", "init_net")
#: routines returning arrays (or tuples of arrays): their output's shapes are checked against the port's
ARRAY_ROUTINES = ("vTP", "padding_and_phiZ", "maxpooling", "find_index_phiZ", "find_index_padding")


class RoutineFailed(Exception):
    pass


def _port_function(name):
    import simplecnn_py

    return getattr(simplecnn_py.routine_module(name), name)


def _describe(out):
    if isinstance(out, tuple):
        return "(" + ", ".join(_describe(o) for o in out) + ")"
    if isinstance(out, np.ndarray):
        return "an array of shape " + ("x".join(map(str, np.shape(out))) or "() (a scalar)")
    if np.isscalar(out):
        return f"the scalar {out!r}"
    return f"a {type(out).__name__}"


def _shapes(out):
    if isinstance(out, tuple):
        return tuple(_shapes(o) for o in out)
    return np.shape(out) if isinstance(out, np.ndarray) or np.isscalar(out) else type(out).__name__


class RoutinesSource:
    """The Source protocol (``base.py``) for the port with some routines swapped."""

    origin = "your routines"
    isolated = True                   # isolated mode: the port's re-run with your routines in place

    def __init__(self, path):
        from .torch import load_file

        self.path = path
        mod = load_file(path)
        self.user = {}
        for name in SWAPPABLE:
            fn = getattr(mod, name, None)
            if fn is None:
                continue
            if not callable(fn):
                raise InputError("--python", f"{path}: {name} is a {type(fn).__name__}, not a function")
            port = _port_function(name)
            want = list(inspect.signature(port).parameters)
            try:
                inspect.signature(fn).bind(*want)
            except (TypeError, ValueError):
                raise InputError("--python", f"{path}: {name}{inspect.signature(fn)} does not take the port's "
                                             f"arguments {name}({', '.join(want)})") from None
            self.user[name] = fn
        if not self.user:
            raise InputError("--python", f"{path} defines none of the routines a gradient evaluation runs "
                                         f"through ({', '.join(SWAPPABLE)})")
        self.describe = f"your routines {', '.join(self.user)} from {path} (the rest the port's)"

    def check(self, inputs):
        return None

    def wrap(self, name, fn):
        port = _port_function(name)

        def routine(*args, **kw):
            ref = port(*args, **kw) if name in ARRAY_ROUTINES else None
            try:
                out = fn(*args, **kw)
            except RoutineFailed:
                raise
            except Exception as e:
                text = " ".join(str(e).split())[:200]
                raise RoutineFailed(f"your {name} raised {type(e).__name__}: {text}") from None
            if name in ARRAY_ROUTINES and _shapes(out) != _shapes(ref):
                raise RoutineFailed(f"your {name} returned {_describe(out)}; the port's returns {_describe(ref)} "
                                    "for the same arguments")
            if name in ("feedforward", "init_net") and not hasattr(out, "Z"):
                raise RoutineFailed(f"your {name} returned {_describe(out)}, not the net (a struct with Z, ...)")
            if name == "lossgrad_subset" and not (isinstance(out, tuple) and len(out) == 2 and hasattr(out[0], "Z")):
                raise RoutineFailed(f"your lossgrad_subset returned {_describe(out)}, not (net, loss)")
            if name == "JTv" and not (isinstance(out, tuple) and len(out) == 2):
                raise RoutineFailed(f"your JTv returned {_describe(out)}, not (dzdW, dzdb)")
            return out
        return routine

    @contextlib.contextmanager
    def swapped(self):
        """The user's routines in place of the port's in every loaded module of the port."""
        import simplecnn_py

        for name in self.user:
            simplecnn_py.routine_module(name)             # loaded, so that its callers are too
        from simplecnn_py.cnn import lossgrad_subset as _  # noqa: F401  (the whole gradient path loaded)

        saved = []
        try:
            for name, fn in self.user.items():
                port = _port_function(name)
                wrapped = self.wrap(name, fn)
                for mod_name, mod in list(sys.modules.items()):
                    if (mod_name == "simplecnn_py" or mod_name.startswith("simplecnn_py.")) and mod is not None \
                            and getattr(mod, name, None) is port:
                        saved.append((mod, name, port))
                        setattr(mod, name, wrapped)
            yield
        finally:
            for mod, name, port in reversed(saved):
                setattr(mod, name, port)

    @contextlib.contextmanager
    def run(self, inputs, progress=None):
        from simplecnn_py.support import trace

        from .torch import parts

        param, model, prob = parts(inputs)
        t0 = time.perf_counter()
        try:
            with self.swapped():
                import simplecnn_py.cnn.init_net as init_mod
                import simplecnn_py.cnn.lossgrad_subset as lg_mod

                net = init_mod.init_net(param, model)
                with trace.tracing() as tr:
                    net, loss = lg_mod.lossgrad_subset(prob, param, model, net, np.arange(1, prob.l + 1),
                                                       "fungrad")
        except RoutineFailed as e:
            raise InputError("--python", f"{self.path}: {e}") from None
        records = dict(tr.records)
        stages = as_stages(records, "trace", self.path)
        from_net(stages, model, net, self.user)
        yield SideRun(stages=stages, loss=float(np.asarray(loss).reshape(-1)[0]),
                      timings={"python_s": time.perf_counter() - t0}, net=net, describe=self.describe,
                      isolate=self.isolator(param, model, prob, net))

    def isolator(self, param, model, prob, net):
        """Isolated mode: the port's isolated re-run (``isolated.py``) with
        your routines in place.  The stages of routines it does not re-run
        (the forward stages of your feedforward, the backward ones of your
        JTv, everything of your lossgrad_subset) are left out: they are
        judged end to end, and a note says so."""
        def isolate(M, dtype):
            from .isolated import isolated_stages

            try:
                with self.swapped():
                    iso = isolated_stages(param, model, net, prob.label_mat, M, dtype)
            except RoutineFailed as e:
                raise InputError("--python", f"{self.path}: {e}") from None
            return {k: v for k, v in iso.items() if not end_to_end(k)}

        def end_to_end(key):
            return "lossgrad_subset" in self.user or ("JTv" in self.user and key[1] == "backward") or \
                ("feedforward" in self.user and key[1] == "forward" and key[2] != "loss")

        whose = [name for name in ("lossgrad_subset", "feedforward", "JTv") if name in self.user]
        isolate.notes = [f"isolated mode: the stages your {' and '.join(whose)} computes are judged end to end "
                         "(the isolated re-run feeds MATLAB's inputs to padding_and_phiZ, maxpooling and vTP; "
                         "the rest is the port's formulas)"] if whose else []
        return isolate


def from_net(stages, model, net, user):
    """Forward stages nobody recorded (your feedforward does not call
    ``trace.record``), read from the net it returned."""
    from .base import Stage

    LC, L = int(model.LC), int(model.L)
    n = int(getattr(net, "num_sampled_data", 0) or 0)

    def field(name, m):
        cells = getattr(net, name, None)
        try:
            v = cells[m]
        except (TypeError, IndexError, KeyError):
            return None
        return None if v is None or np.size(v) == 0 else np.asarray(v)

    for m in range(1, L + 1):
        keys = [(m, "forward", "Z")]
        if m <= LC:
            keys += [(m, "forward", s) for s in ("idx_pad", "idx_phiZ", "phiZ", "sigmaS", "idx_pool")]
        for key in keys:
            if key in stages:
                continue
            stage = key[2]
            v = None
            if stage == "Z":
                v = field("Z", m + 1)
                if v is not None and m <= LC and n:
                    v = np.reshape(v, (int(model.ch_input[m + 1]), -1), order="F")
            elif stage in ("idx_pad", "idx_phiZ", "phiZ", "idx_pool"):
                v = field(stage, m)
            if v is not None:
                stages[key] = Stage(v, "net", f"net.{stage if stage != 'Z' else 'Z'}{{{m + (stage == 'Z')}}}")
            elif "feedforward" in user:
                stages[key] = Stage(None, note="your feedforward records no such stage (trace.record) and its "
                                               "net keeps none")
