"""Line-number prefixes copied from a numbered view of a file.

tinygen shows models a file as ``  12| text`` (see ``passes.common.numbered``); a model that
copies those prefixes into its diff writes ``-  12| old`` for the line ``old``. Such a hunk
is read without them when its context and removed lines all carry a prefix, numbered
consecutively as the view numbers them, and its added lines carry one either all or none
(new lines have no number in the view); anything less consistent is left as written (the file itself may hold lines like ``12| x``), and the
feedback of a hunk that does not fit says that its lines look numbered.
"""

from __future__ import annotations

import dataclasses
import itertools
import re

from tinygen.patch.model import Hunk, Line

# "12| text", " 12| text", "12|" (an empty line, its trailing space trimmed)
_PREFIX = re.compile(r" *(\d{1,7})\|(?: |$)")


def _split(text: str) -> tuple[int, str] | None:
    match = _PREFIX.match(text)
    return (int(match.group(1)), text[match.end() :]) if match else None


def looks_numbered(hunk: Hunk) -> bool:
    """Most of the hunk's lines start with a view's ``N| `` prefix (for feedback)."""
    lines = [ln for ln in hunk.lines if not ln.optional]
    numbered = sum(1 for ln in lines if _split(ln.text) is not None)
    return bool(lines) and numbered * 2 > len(lines)


def without_numbers(hunk: Hunk) -> Hunk | None:
    """``hunk`` with the view's prefixes removed when they are consistent (see the module
    docstring); None otherwise. Its readings (``alternatives``, ``shorter``) lose theirs too."""
    split = [None if ln.optional else _split(ln.text) for ln in hunk.lines]
    old = [s for s, ln in zip(split, hunk.lines, strict=True) if ln.old and not ln.optional]
    added = [s for s, ln in zip(split, hunk.lines, strict=True) if ln.op == "+" and not ln.optional]
    if not old or any(s is None for s in old):
        return None
    numbers = [s[0] for s in old if s is not None]
    if any(b - a != 1 for a, b in itertools.pairwise(numbers)):
        return None
    if any(s is None for s in added) and any(s is not None for s in added):
        return None
    out = tuple(
        Line(ln.op, s[1], ln.eol, ln.optional) if s is not None else ln
        for s, ln in zip(split, hunk.lines, strict=True)
    )
    alternatives = tuple(without_numbers(h) or h for h in hunk.alternatives)
    shorter = (without_numbers(hunk.shorter) or hunk.shorter) if hunk.shorter else None
    return dataclasses.replace(hunk, lines=out, alternatives=alternatives, shorter=shorter)


__all__ = ["looks_numbered", "without_numbers"]
