"""The optional dependencies: ``[torch]`` (torch) and ``[onnx]`` (onnx,
onnxruntime).  Imported only by the commands that need them; a missing one
is one line naming the extra (``EnvironmentProblem``: exit 2)."""
from __future__ import annotations

import importlib

from simplecnn_interop.from_port import EnvironmentProblem

__all__ = ["require"]

EXTRAS = {"torch": "torch", "onnx": "onnx", "onnxruntime": "onnx"}


def require(module, what):
    """Import ``module`` (one of ``EXTRAS``) or raise a one-line ``EnvironmentProblem``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRAS[module]
        raise EnvironmentProblem(f"{what} needs the optional extra [{extra}] ({module} is not installed): "
                                 f"pip install 'simplecnn_py[{extra}]'") from None
