"""Check a student's own gradient against the port's, stage by stage.

    verdict = check_gradient(prob, param, model, mine)
    verdict = check_gradient_files(CFG, DATA, W, MINE)      # what `simplecnn check-gradient` calls
    print('\\n'.join(verdict.lines())); verdict.ok

The loss is simpleNN's: the **sum** of squared errors over the instances,
``loss = norm(Z{L+1} - Y, 'fro')^2`` (no 1/2, no division by the number of
instances, no regularisation term), as ``lossgrad_subset`` computes it; its
gradient with respect to the network output is ``2*(Z{L+1} - Y)``.  The
student's ``dlossdW{m}``/``dlossdb{m}`` are that loss's gradients, in
MATLAB's shapes: ``weight{m}``'s (d^{m+1} x h*h*d^m for a conv layer,
n_{m+1} x n_m for a full one) and a column for ``bias{m}``.

Optionally, per-stage deltas named as in docs/design.md's stage table, each an
L x 1 cell (empty where not given), in MATLAB's shapes of the same quantity
(dXidS is Delta for all instances side by side, d^{m+1} x (a*b*n) in a conv
layer, n_{m+1} x n in a full one):

    dXidS, pool_gradient, WtDelta, phi_gradient, unpad, activation

The stages are compared in the order of the backward pass (layer L down to
1); the verdict names the first that differs and, when the student's numbers
are those of a classic mistake, the mistake: a row-major reshape, a
transposed W, a missing ReLU mask, the pool gradient sent to every window
position, a 0/1-based index slip, or another loss convention.  Mistakes are
recognised by rerunning the backward pass with each made on purpose
(``gradient_mistakes``) and by what the differing array itself shows (a
transpose, a multiple, the same numbers in other places, a shift by one).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simplecnn_py.support.errors import InputError

__all__ = ["check_gradient", "check_gradient_files", "load_mine", "save_mine", "Verdict", "CAUSES",
           "DELTA_STAGES", "LOSS_CONVENTION"]

LOSS_CONVENTION = ("simpleNN's loss is the sum of squared errors over the batch, "
                   "norm(Z{L+1} - Y, 'fro')^2 (no 1/2, no 1/l, no regularisation); "
                   "its gradient with respect to the output is 2*(Z{L+1} - Y)")

DELTA_STAGES = ("dXidS", "pool_gradient", "WtDelta", "phi_gradient", "unpad", "activation")
FULL_STAGES = ("dXidS", "dlossdW", "dlossdb", "WtDelta", "activation")
CONV_STAGES = ("dXidS", "pool_gradient", "dlossdW", "dlossdb", "WtDelta", "phi_gradient", "unpad", "activation")

CAUSES = {
    "rowmajor": "a row-major reshape: numpy's reshape reads and fills rows first (order='C'), MATLAB's "
                "columns first; use simplecnn_py.support.conventions.reshape/vec (or order='F') for every "
                "reshape of a MATLAB quantity",
    "transposed_W": "a transposed W: dlossdW{m} has weight{m}'s shape, Delta*phiZ' (eq. 27) or Delta*Z{m}' "
                    "(eq. 19), and the delta goes down through W{m}' (not W{m})",
    "no_mask": "a missing ReLU mask: after W{m}'*Delta (and the unpadding) the delta is multiplied by "
               "(Z{m} > 0), eq. (22) and the last step of the conv layer",
    "pool_every": "the pool gradient sent to every window position: eq. (26) puts each value at its "
                  "window's maximum only (vec(Delta)' P_pool, one 1 per row; net.idx_pool{m})",
    "index_slip": "a 0/1-based index slip: the right values one position off; idx_pad, idx_phiZ and "
                  "idx_pool hold MATLAB's 1-based positions, subtract 1 (conventions.to0) before "
                  "indexing a numpy array",
    "loss_convention": "another loss convention: " + LOSS_CONVENTION,
    "bias_shape": "a bias gradient saved as a row: dlossdb{m} is a column, n x 1, as bias{m} is; "
                  "a 1-D numpy array is saved by scipy.io.savemat as a 1 x n row, so save "
                  "b.reshape(-1, 1) (or use simplecnn_harness.student.check_gradient.save_mine, "
                  "which does it)",
}


@dataclass
class Row:
    layer: int
    stage: str
    status: str                 # 'match' | 'differs' | 'not given'
    rel: float | None = None    # ||mine - port|| / ||port||
    shape: tuple = ()


@dataclass
class Verdict:
    ok: bool
    rows: list = field(default_factory=list)
    first: tuple | None = None              # (layer, stage) of the first difference
    cause: str | None = None                # a key of CAUSES, or None
    detail: str = ""                        # what exactly, e.g. the mistake's description
    loss_port: float | None = None
    loss_mine: float | None = None
    rtol: float = 1e-6

    @property
    def message(self):
        if self.ok:
            return "your gradient matches the port's"
        where = f"layer {self.first[0]}, stage {self.first[1]}" if self.first[0] else self.first[1]
        text = f"first difference: {where}"
        if self.cause:
            text += f"; likely cause: {CAUSES[self.cause]}"
            if self.detail:
                text += f" ({self.detail})"
        else:
            text += "; no classic mistake recognised" + (f" ({self.detail})" if self.detail else "")
        return text

    def lines(self):
        out = [f"loss convention: {LOSS_CONVENTION}"]
        if self.loss_mine is not None:
            out.append(f"loss: port {self.loss_port:.10g}, yours {self.loss_mine:.10g}")
        out.append(f"{'layer':>5}  {'stage':<14} {'shape':<12} {'rel. error':>11}  verdict (rtol {self.rtol:g})")
        for r in self.rows:
            rel = "" if r.rel is None else f"{r.rel:.2e}"
            shape = " x ".join(map(str, r.shape))
            out.append(f"{r.layer or '':>5}  {r.stage:<14} {shape:<12} {rel:>11}  {r.status}")
        out.append(self.message)
        return out


# --- the student's file ---------------------------------------------------------

def load_mine(path, L):
    """MINE.mat -> ``({(m, stage): array}, loss or None)``.

    ``dlossdW`` and ``dlossdb`` (L x 1 cells) are required; ``loss`` and the
    DELTA_STAGES cells are optional (an empty cell entry: not given).
    """
    from simplecnn_py.support.datafile import loadmat

    where = str(path)
    names = ("loss", "dlossdW", "dlossdb") + DELTA_STAGES
    try:
        v = loadmat(where, names)
    except FileNotFoundError:
        raise InputError(where, "no such file") from None
    missing = [k for k in ("dlossdW", "dlossdb") if k not in v]
    if missing:
        raise InputError(where, f"no variable {' or '.join(missing)} (save('MINE.mat', 'dlossdW', 'dlossdb') "
                                "with L x 1 cells in MATLAB's shapes)")
    mine = {}
    for name in ("dlossdW", "dlossdb") + DELTA_STAGES:
        if name not in v:
            continue
        c = v[name]
        if not (isinstance(c, np.ndarray) and c.dtype == object):
            raise InputError(where, f"{name} is not a cell array; an L x 1 cell (L = {L}) is needed")
        if c.size != L:
            raise InputError(where, f"{name} has {c.size} cells; the config has L = {L} layers")
        for m, A in enumerate(c.ravel(order="F"), start=1):
            if hasattr(A, "toarray"):
                A = A.toarray()
            A = np.asarray(A)
            if A.size == 0 and name in DELTA_STAGES:
                continue
            if A.dtype.kind not in "fiu" or A.ndim != 2:
                raise InputError(where, f"{name}{{{m}}} is not a real matrix")
            A = A.astype(np.float64)
            if not np.all(np.isfinite(A)):
                raise InputError(where, f"{name}{{{m}}} has NaN or Inf entries")
            mine[(m, name)] = A
    loss = None
    if "loss" in v:
        loss = np.asarray(v["loss"], dtype=np.float64)
        if loss.size != 1 or not np.isfinite(loss).all():
            raise InputError(where, "loss must be one finite number")
        loss = float(loss.reshape(-1)[0])
    return mine, loss


def save_mine(path, dlossdW, dlossdb, loss=None, **stages):
    """Write MINE.mat from Python: ``dlossdW``/``dlossdb`` (and any
    DELTA_STAGES) as 1-based cells or 0-based lists of L arrays (None: not
    given), in MATLAB's shapes.  Same as MATLAB's ``save('MINE.mat', ...)``."""
    import scipy.io

    def cellarray(values):
        values = list(values)
        out = np.empty((len(values), 1), dtype=object)
        for k, A in enumerate(values):
            A = np.zeros((0, 0)) if A is None else np.asarray(A, dtype=np.float64)
            out[k, 0] = A.reshape(-1, 1) if A.ndim == 1 else A
        return out

    unknown = set(stages) - set(DELTA_STAGES)
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}; the stages are {DELTA_STAGES}")
    out = {"dlossdW": cellarray(dlossdW), "dlossdb": cellarray(dlossdb)}
    out.update({k: cellarray(v) for k, v in stages.items()})
    if loss is not None:
        out["loss"] = np.array([[float(loss)]])
    scipy.io.savemat(str(path), out, format="5")


# --- the port's side ---------------------------------------------------------------

def port_backward(prob, param, model, weights="weights"):
    """The port's forward and backward pass on all instances, traced:
    ``(net, loss, {(m, stage): array})``; an ``InputError`` on ``weights``
    naming the first stage that is not finite (far too large weights or
    inputs), since nothing can be checked against such a reference."""
    from simplecnn_py.support import trace
    from simplecnn_py.support.finite import first_nonfinite
    from simplecnn_py.cnn.init_net import init_net
    from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset

    net = init_net(param, model)
    with np.errstate(all="ignore"), trace.tracing() as tr:   # tracing: the reference routines, every stage kept
        net, loss = lossgrad_subset(prob, param, model, net, np.arange(1, prob.l + 1), "fungrad")
    stage = first_nonfinite(tr.records)
    if stage is not None:
        raise InputError(weights, f"the port's own values stop being finite at {stage} (overflow: are the "
                                  "weights or inputs far too large?); there is no gradient to check against")
    rec = {(m, stage): A for (m, direction, stage), A in tr.records.items() if direction == "backward"}
    return net, float(loss), rec


def stage_order(model):
    """(m, stage) of the backward pass, in the order it computes them."""
    out = []
    for m in range(model.L, model.LC, -1):
        out += [(m, s) for s in FULL_STAGES]
    for m in range(model.LC, 0, -1):
        for s in CONV_STAGES:
            if s == "pool_gradient" and model.wd_subimage_pool[m] <= 1:
                continue
            if s in ("WtDelta", "phi_gradient", "unpad", "activation") and m == 1:
                continue
            out.append((m, s))
    return out


def _rel(A, B):
    """||A - B|| / ||B|| (the absolute norm when B is 0; inf when a NaN/Inf is on one side only)."""
    from ..judge.metrics import relative_error

    r = relative_error(A, B, "double", when_b_is_zero="absolute")
    return float("inf") if r != r else r


def _check_shapes(mine, port, order, where):
    known = set(order)
    for key, A in mine.items():
        m, stage = key
        if key not in known:
            raise InputError(where, f"{stage}{{{m}}}: layer {m} has no stage {stage} "
                                    "(leave that cell empty)")
        want = port[key].shape
        if A.shape != want and A.shape != want[::-1]:
            raise InputError(where, f"{stage}{{{m}}} is {A.shape[0]} x {A.shape[1]}; "
                                    f"MATLAB's shape is {want[0]} x {want[1]}")


# --- diagnosis -------------------------------------------------------------------

def _matches_all(mine, rec, rtol):
    for key, A in mine.items():
        B = rec.get(key)
        if B is None or A.shape != B.shape or _rel(A, B) > rtol:
            return False
    return True


def _local(A, P, rtol, l):
    """What the one differing array shows: (cause, detail) or None."""
    if A.shape == P.shape[::-1] and A.shape != P.shape:
        return ("transposed_W", "yours has the transposed shape") if _rel(A.T, P) <= rtol else \
               (None, "yours has the transposed shape and other values too")
    if A.shape[0] == A.shape[1] and _rel(A.T, P) <= rtol and _rel(A, P) > rtol:
        return "transposed_W", "yours is the transpose"
    pp = float(np.vdot(P, P))
    if pp > 0:
        c = float(np.vdot(A, P)) / pp
        if _rel(A, c * P) <= rtol:
            named = ((0.5, "yours is half: the loss with 1/2, or (Z-Y) for 2*(Z-Y)"),
                     (1.0 / l, f"yours is 1/l (l = {l}): the mean over the batch"),
                     (0.5 / l, f"yours is 1/(2l) (l = {l}): the mean with 1/2"),
                     (2.0, "yours is twice the port's"), (2.0 / l, f"yours is 2/l (l = {l})"),
                     (-1.0, "yours has the opposite sign: (Y - Z)"))
            for k, text in named:
                if abs(c - k) <= 1e-6 * abs(k):
                    return "loss_convention", text
            return None, f"yours is {c:.6g} times the port's"
    shifted = _shift(A, P, rtol)
    if shifted:
        return "index_slip", f"yours are the port's values one {shifted}"
    if _rel(np.sort(A, axis=None), np.sort(P, axis=None)) <= rtol:
        if _rel(np.reshape(np.reshape(P, -1, order="C"), A.shape, order="F"), A) <= rtol or \
                _rel(np.reshape(np.reshape(P, -1, order="F"), A.shape, order="C"), A) <= rtol:
            return "rowmajor", "yours are the port's values in row-major order"
        return "rowmajor", "yours are the port's values in other places: a reshape or permute in another order"
    return None


def _shift(A, P, rtol):
    """'position later/earlier' (in column-major order) or 'column later/earlier'
    when A is P moved by one (what moves past the end dropped), else ''."""
    va, vp = np.reshape(A, -1, order="F"), np.reshape(P, -1, order="F")
    if va.size > 2:
        if _rel(va[1:], vp[:-1]) <= rtol:
            return "position later"
        if _rel(va[:-1], vp[1:]) <= rtol:
            return "position earlier"
    if A.shape[1] > 2:
        if _rel(A[:, 1:], P[:, :-1]) <= rtol:
            return "column later"
        if _rel(A[:, :-1], P[:, 1:]) <= rtol:
            return "column earlier"
    return ""


def diagnose(mine, port, first, model, net, v, l, rtol):
    """(cause, detail) for the first differing stage ``first``."""
    from simplecnn_harness.student.mistakes import backward, mistakes

    A, P = mine[first], port[first]
    if first[1] == "dlossdb" and A.shape == P.shape[::-1] and A.shape != P.shape:
        same = _rel(A.T, P) <= rtol
        return "bias_shape", f"yours is 1 x {A.shape[1]}" + (" with the port's values" if same else
                                                              " and its values differ too")
    local = _local(A, P, rtol, l)
    if local is not None and local[0] in ("transposed_W", "loss_convention"):
        return local
    if A.shape == P.shape:
        order = stage_order(model)
        pos = {key: k for k, key in enumerate(order)}
        given = sorted(pos[key] for key in mine)
        partial = None
        for mk in mistakes(model):
            start = pos.get(mk.first_stage(model))
            # it must change a stage at or before the first difference, and none
            # that you gave and matched before it
            if start is None or start > pos[first] or any(start <= k < pos[first] for k in given):
                continue
            _, _, rec = backward(model, net, v, mk, until=first)
            B = rec.get(first)
            if B is None or B.shape != A.shape or _rel(A, B) > rtol:
                continue
            _, _, rec = backward(model, net, v, mk)
            if _matches_all(mine, rec, rtol):
                return mk.kind, f"your numbers are those of the backward pass with the {mk.describe()}"
            partial = partial or mk
        if partial is not None:
            return partial.kind, (f"the {partial.describe()} reproduces {first[1]}{{{first[0]}}}; later "
                                  "stages differ further (another mistake too?)")
    return local if local is not None else (None, "")


def check_gradient(prob, param, model, mine, loss_mine=None, rtol=1e-6, where="MINE.mat", weights="weights"):
    """The student's ``mine`` ({(m, stage): array}, MATLAB's shapes) against
    the port on all instances of ``prob`` (after ``check_data``): a Verdict.
    Values of ``mine`` that are huge or not finite simply differ (no numpy
    warning)."""
    net, loss, port = port_backward(prob, param, model, weights)
    with np.errstate(all="ignore"):
        return _judge(prob, model, mine, loss_mine, rtol, where, net, loss, port)


def _judge(prob, model, mine, loss_mine, rtol, where, net, loss, port):
    order = stage_order(model)
    _check_shapes(mine, port, order, where)
    verdict = Verdict(ok=True, loss_port=loss, loss_mine=loss_mine, rtol=rtol)
    if loss_mine is not None:                   # the forward pass first
        rel = abs(loss_mine - loss) / max(abs(loss), 1e-300)
        verdict.rows.append(Row(0, "loss", "match" if rel <= rtol else "differs", rel, (1, 1)))
        if rel > rtol:
            verdict.ok, verdict.first = False, (0, "loss")
    for key in order:
        A = mine.get(key)
        if A is None:
            if key[1] in ("dlossdW", "dlossdb"):
                raise InputError(where, f"{key[1]}{{{key[0]}}} is empty")
            continue
        P = port[key]
        rel = _rel(A, P) if A.shape == P.shape else float("inf")
        status = "match" if rel <= rtol else "differs"
        verdict.rows.append(Row(key[0], key[1], status, None if rel == float("inf") else rel, A.shape))
        if status == "differs" and verdict.ok:
            verdict.ok, verdict.first = False, key
    if verdict.first == (0, "loss"):
        verdict.cause, verdict.detail = _loss_cause(loss_mine, loss, prob.l)
    elif not verdict.ok:
        v = port[(model.L, "dXidS")]
        verdict.cause, verdict.detail = diagnose(mine, port, verdict.first, model, net, v, prob.l, rtol)
    return verdict


def _loss_cause(mine, port, l):
    for k, text in ((0.5, "yours is half: with 1/2"), (1.0 / l, f"yours is 1/l (l = {l}): the mean"),
                    (0.5 / l, f"yours is 1/(2l) (l = {l})")):
        if abs(mine - k * port) <= 1e-6 * abs(port):
            return "loss_convention", text
    return None, "the forward pass differs (loss)"


def check_gradient_files(config, data, weights, mine_path, rowmajor=False, rtol=1e-6):
    """``simplecnn check-gradient``'s work: read the four files, check."""
    from ..inputs import load

    if not rtol > 0:
        raise InputError("--rtol", f"must be positive, not {rtol}")
    ins = load(config=config, data=data, weights=weights, precision="double", rowmajor=rowmajor,
               command="check-gradient")
    prob, param, model = ins.prob, ins.param, ins.model
    mine, loss = load_mine(mine_path, model.L)
    return check_gradient(prob, param, model, mine, loss, rtol=rtol, where=mine_path, weights=weights)
