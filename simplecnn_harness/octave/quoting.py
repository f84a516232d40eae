"""Text inside Octave/MATLAB single-quoted strings: the one quoting helper.

``quote(s)`` doubles the single quotes of ``s`` so that ``'...'`` holds it
as it is (a path with an apostrophe, a message); ``literal(s)`` adds the
quotes.  Every piece of generated Octave code that embeds a path or a text
goes through here.
"""
from __future__ import annotations


def quote(s) -> str:
    """``s`` as the inside of a single-quoted Octave string."""
    return str(s).replace("'", "''")


def literal(s) -> str:
    """``s`` as a single-quoted Octave string literal."""
    return "'" + quote(s) + "'"
