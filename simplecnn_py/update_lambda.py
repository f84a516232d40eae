"""``update_lambda``: Levenberg-Marquardt damping rule of Newton (current layout).

MATLAB original (a helper of ``opt/newton.m``)::

    if ratio < 0.25
        param.lambda = param.lambda * param.boost;
    elseif ratio >= 0.75
        param.lambda = param.lambda * param.drop;
    end

``ratio = actred/prered``: the actual over the predicted reduction of f.
"""
from __future__ import annotations

__all__ = ["update_lambda"]


def update_lambda(param, ratio: float):
    """Multiply ``param.lambda`` by ``boost`` (ratio < 0.25) or ``drop``
    (ratio >= 0.75); returns ``param``."""
    lam = getattr(param, "lambda")
    if ratio < 0.25:
        lam = lam * param.boost
    elif ratio >= 0.75:
        lam = lam * param.drop
    setattr(param, "lambda", lam)
    return param
