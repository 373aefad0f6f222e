"""What a command writes reaches a terminal only as text, never as control sequences.

Model output, a repository's file names and lines, a check's output and an issue's text all
end up on stderr or stdout; an ``ESC ]0;...BEL`` in any of them would retitle the terminal,
``ESC [2J`` clear it, a carriage return overwrite a line. :func:`terminal_streams` wraps the
streams for the duration of a command — every ``click.echo``, ``print``, warning and log
line goes through it, including the ones added later:

- stderr (messages for a person) loses its control characters (:func:`printable`);
- stdout (data: a diff, a sheet, JSON) is written exactly when it is redirected to a file
  or a pipe, and on a terminal shows control characters as escapes (:func:`visible`).

The live progress line writes its own two control sequences to :attr:`Filtered.unfiltered`.
Data goes out with ``click.echo(..., color=True)``: click would otherwise strip ANSI
sequences from it whenever stdout is not a terminal, changing a diff written to a file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tinygen.redact import printable, visible


class Filtered:
    """A text stream that writes ``clean(text)`` to ``unfiltered``; anything else (flush,
    isatty, encoding, fileno) is the wrapped stream's."""

    def __init__(self, unfiltered: TextIO, clean: Callable[[str], str]) -> None:
        self.unfiltered = unfiltered
        self.clean = clean

    def write(self, text: str) -> int:
        self.unfiltered.write(self.clean(text))
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.unfiltered, name)


@contextmanager
def terminal_streams() -> Iterator[None]:
    """sys.stderr filtered (always), sys.stdout shown visibly on a terminal, for the block."""
    saved = sys.stdout, sys.stderr
    if sys.stderr is not None and not isinstance(sys.stderr, Filtered):
        sys.stderr = Filtered(sys.stderr, printable)
    out = sys.stdout
    if out is not None and not isinstance(out, Filtered) and _isatty(out):
        sys.stdout = Filtered(out, visible)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


__all__ = ["Filtered", "terminal_streams"]
