"""Typed data passed between the patch stages: parsed hunks in, placed results out.

Text model: file contents are ``str`` (decoded UTF-8) and are never newline-translated.
A file is a list of :class:`FileLine` ``(content, eol)`` pairs, where ``eol`` is exactly
``"\\n"``, ``"\\r\\n"`` or ``""`` (only the last line can lack one). Joining the pairs gives
the original text back byte for byte, so CRLF files and files without a final newline keep
their line endings. Matching compares ``content`` only; line endings are re-attached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

Op = Literal[" ", "-", "+"]


class FileLine(NamedTuple):
    content: str
    eol: str


def split_lines(text: str) -> list[FileLine]:
    """Split on ``\\n`` only (never ``str.splitlines``, which also splits on ``\\x0c`` etc.)."""
    out: list[FileLine] = []
    start = 0
    n = len(text)
    while start < n:
        end = text.find("\n", start)
        if end < 0:
            out.append(FileLine(text[start:], ""))
            break
        if end > start and text[end - 1] == "\r":
            out.append(FileLine(text[start : end - 1], "\r\n"))
        else:
            out.append(FileLine(text[start:end], "\n"))
        start = end + 1
    return out


def join_lines(lines: list[FileLine]) -> str:
    return "".join(c + e for c, e in lines)


@dataclass(frozen=True)
class Line:
    """One line of a hunk. ``eol`` is the ending written in the diff ("" after a
    ``\\ No newline at end of file`` marker). ``optional`` marks trailing bare empty lines,
    which may be blank context lines that lost their space or mere separators."""

    op: Op
    text: str
    eol: str = "\n"
    optional: bool = False

    @property
    def old(self) -> bool:
        return self.op != "+"

    @property
    def new(self) -> bool:
        return self.op != "-"


@dataclass(frozen=True)
class Hunk:
    lines: tuple[Line, ...]
    header: str = "@@ @@"
    old_start: int | None = None
    old_len: int | None = None
    new_start: int | None = None
    new_len: int | None = None
    source_line: int = 0  # 1-based line of the header in the input, for messages
    # Readings of a SEARCH/REPLACE block with several ``=======`` lines: it is applied only
    # if exactly one of them fits the file (see apply.py).
    alternatives: tuple[Hunk, ...] = ()
    # The hunk cut at a blank line where its header's counts are met: what follows may be
    # prose (markdown bullets read as removed lines). Used only if the whole hunk does not fit.
    shorter: Hunk | None = None

    @property
    def old_lines(self) -> list[Line]:
        return [ln for ln in self.lines if ln.old]

    @property
    def new_lines(self) -> list[Line]:
        return [ln for ln in self.lines if ln.new]

    @property
    def changes(self) -> bool:
        return any(ln.op != " " for ln in self.lines)


@dataclass
class FilePatch:
    """The edits of one file. ``old_path`` None = new file; ``new_path`` None = deletion.

    Paths are as written (after unquoting); ``a/``/``b/`` prefixes are resolved against the
    repository's files when the patch is applied.
    """

    old_path: str | None
    new_path: str | None
    hunks: list[Hunk] = field(default_factory=list)
    git_header: bool = False
    eol_from_diff: bool = False  # the diff's lines carry CR/LF information worth keeping
    source_line: int = 0
    first_hunk: int = 1  # number of the first hunk in messages (SEARCH/REPLACE blocks count on)

    @property
    def display_path(self) -> str:
        return self.new_path or self.old_path or "?"


@dataclass(frozen=True)
class HunkReport:
    path: str
    hunk: int  # 1-based within its file's section of the diff
    outcome: Literal["applied", "already-present", "created", "deleted", "renamed"]
    strategy: str  # exact | trailing-whitespace | reindent | blank-lines | line-hint | -
    line: int | None  # 1-based first line of the placed before-text in the original file
    via_hint: bool = False
    numbers_removed: bool = False  # read without line-number prefixes copied from a view

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "hunk": self.hunk,
            "outcome": self.outcome,
            "strategy": self.strategy,
            "line": self.line,
            "via_hint": self.via_hint,
            "numbers_removed": self.numbers_removed,
        }


@dataclass
class PatchResult:
    """``before``/``after`` hold only touched files; None = the file does not exist.

    A rename shows as the old path going to None and the new path coming from None.
    """

    before: dict[str, str | None]
    after: dict[str, str | None]
    report: list[HunkReport]

    @property
    def changed(self) -> bool:
        return any(self.before.get(p) != t for p, t in self.after.items())

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": sorted(self.after),
            "hunks": [r.to_dict() for r in self.report],
        }


@dataclass(frozen=True)
class FirstDifference:
    """The first line of a hunk's before-text that differs from the file's closest lines."""

    hunk_line: int  # 1-based, within the before-text
    hunk_text: str
    file_line: int  # 1-based, in the file
    file_text: str


@dataclass(frozen=True)
class ClosestLines:
    """What a file has nearest to a hunk's before-text that is not in it ("did you mean").

    ``found`` is "window" (``lines`` from 1-based line ``start`` on, and the first line of
    the before-text that differs from them), or why there is nothing to show ("skipped":
    the file had too many failed hunks to search for each).
    """

    found: Literal["window", "empty-file", "blank-file", "nothing-similar", "skipped"]
    start: int = 0
    lines: tuple[str, ...] = ()
    difference: FirstDifference | None = None


@dataclass(frozen=True)
class HunkFailure:
    """One hunk that could not be placed: where, which, and why (carried by PatchApplyError;
    the feedback text is rendered from these, see ``tinygen.patch.feedback``)."""

    path: str
    hunk: int  # 1-based within its file's section of the diff
    header: str
    reason: str
    before: tuple[str, ...] = ()  # the hunk's before-text (context and removed lines)
    closest: ClosestLines | None = None  # for a before-text that is nowhere in the file
    bom: bool = False  # the file starts with a byte-order mark (matched without it)
    numbered: bool = False  # its lines carry a view's "12| " prefixes (removed, or not all)

    @classmethod
    def of(
        cls,
        path: str,
        no: int,
        hunk: Hunk,
        reason: str,
        closest: ClosestLines | None = None,
        bom: bool = False,
    ) -> HunkFailure:
        before = tuple(ln.text for ln in hunk.lines if ln.old and not ln.optional)
        return cls(path, no, hunk.header, reason, before, closest, bom)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "hunk": self.hunk, "header": self.header, "reason": self.reason}
