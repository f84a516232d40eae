"""Where the embedded MATLAB reference (``matlab_ref/``) and the bundled demo
files are: the one place every command asks.

Both are found through their packages (``importlib.resources``), never
through the repository's folder layout: ``matlab_ref`` is a package of its
own (its .m and .config files are package data) and the demo files are the
package data of ``simplecnn_cli.demo``.  In a checkout (or the editable
install) that is the repository's ``matlab_ref/`` and
``simplecnn_cli/demo/``; from an installed wheel, the copies in
site-packages.

``SEED_TREE`` (``simplecnn compare``'s default), ``CURRENT_TREE``
(``simplecnn compare-train``'s default) and ``DEMO_DIR`` are computed on
first use (``importlib.resources`` costs ~20 ms to import, which commands
that never look here do not pay).
"""
from pathlib import Path

__all__ = ["SEED_TREE", "CURRENT_TREE", "DEMO_DIR", "package_dir"]

# name -> (package, path inside it)
_PLACES = {
    "SEED_TREE": ("matlab_ref", ("seed",)),
    "CURRENT_TREE": ("matlab_ref", ("current", "MATLAB")),
    "DEMO_DIR": ("simplecnn_cli.demo", ()),
}


def package_dir(package: str) -> Path:
    """The folder of an installed package's files, as a plain path (Octave
    and the file readers need real files: a package imported from a zip
    archive has none, and its path then names a folder that does not exist,
    which the commands report as a missing reference)."""
    from importlib.resources import files

    try:
        root = files(package)
    except ModuleNotFoundError:
        return Path(f"<package {package} is not installed>")
    return root if isinstance(root, Path) else Path(f"<package {package} is not a folder: {root}>")


def __getattr__(name):
    if name not in _PLACES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    package, parts = _PLACES[name]
    value = package_dir(package).joinpath(*parts)
    globals()[name] = value
    return value
