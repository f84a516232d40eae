"""The embedded MATLAB reference, shipped as package data: ``seed/`` and
``current/MATLAB/`` hold MATLAB/Octave code (no Python), and this file only
makes the folder a package, so that an installed wheel carries them and
``simplecnn_harness.embedded`` finds them through the package
(``importlib.resources``) wherever it is installed."""
