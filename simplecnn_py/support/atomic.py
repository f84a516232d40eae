"""Every file the project writes is written whole or not at all.

The one atomic writer of the repository (the port's models and gradients,
the harness's traces, reports and sweep tables): the content goes to a
temporary file in the target's own folder, which is then renamed over the
target (``os.replace``, atomic on one file system).  A reader sees the old
file or the whole new one, never a part; a failure, or Ctrl-C, leaves the
old file as it was and no temporary file behind.  The new file gets the
permissions an ordinary new file would (``0o666`` less the umask; the
temporary file ``mkstemp`` makes is private).

    with replacing("model.mat", suffix=".mat") as tmp:
        scipy.io.savemat(tmp, ...)           # any writer that takes a path
    write_atomically("report.json", text)    # text or bytes

Errors are ``OSError`` as they come: each caller words its own one-line
message (``InputError`` for an output option, ``EnvironmentProblem`` for a
full disk).  It lives in the port's support folder because the port cannot
import the harness, and both write files.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def replacing(path, suffix: str = ".tmp"):
    """A temporary path beside ``path``; renamed over ``path`` when the block
    ends normally, removed when it raises.  ``suffix`` ends the temporary
    file's name (``.mat`` for writers that would append one)."""
    path = Path(path)
    folder = path.absolute().parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_atomically(path, data, encoding: str = "utf-8") -> Path:
    """``data`` (str or bytes) into ``path``, atomically (see the module docstring)."""
    with replacing(path) as tmp:
        if isinstance(data, str):
            with open(tmp, "w", encoding=encoding) as f:
                f.write(data)
        else:
            with open(tmp, "wb") as f:
                f.write(data)
    return Path(path)
