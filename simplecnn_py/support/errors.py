"""Errors the command line turns into one-line messages and exit codes."""


class InputError(Exception):
    """Bad input: a config, data or weights file, or an option.

    ``where`` names the file (or option) and ``what`` the problem; the CLI
    prints ``simplecnn: error: <where>: <what>`` and exits 2.
    """

    def __init__(self, where, what):
        self.where = str(where)
        self.what = str(what)
        super().__init__(f"{self.where}: {self.what}")


class EnvironmentProblem(Exception):
    """The machine cannot do what was asked (no Octave, Octave hung...): exit 2."""


class ParityFailure(Exception):
    """The two sides disagree beyond tolerance: exit 1."""
