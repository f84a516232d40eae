"""The commands' workflows: what one ``simplecnn`` sub-command does, as one call.

``simplecnn_cli`` parses and checks the arguments (``simplecnn_cli/args.py``),
makes the progress observer (``reports/progress.py``) and calls one function
here; each function reads the inputs, does the work, prints the terminal
report, writes the files and returns the exit code (0 pass, 1 a parity
failure; bad input raises ``InputError``, exit 2).  The same calls serve a
Python user who wants a command's whole behaviour without a shell.

``gradient``, ``train`` and ``predict`` run the port alone: their modules
import ``simplecnn_py`` and, lazily and only for the report files, the
report modules; never Octave, oct2py, matplotlib or tqdm at import time
(``tests/cli/test_cli_args.py`` checks it), so the port's commands start fast.
"""
