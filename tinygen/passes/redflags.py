"""Red flags: the signs that a sampled edit is unreliable. A flagged sample is discarded and
another drawn (never repaired); the reasons are counted per vote.

- ``unparsed``: the answer does not parse (no valid tool input, no diff for an existing
  file, a diff that is not one);
- ``inexact``: a hunk does not place exactly — it needs loose matching (whitespace,
  indentation, blank lines) or does not fit at all;
- ``other_file``: the edit touches a file it was not assigned;
- ``syntax``: the result has syntax errors the file did not have;
- ``empty``: the change is empty or changes only whitespace (an explicit ``no_change``
  answer is an outcome of its own, not a flag);
- ``placeholder``: an added comment stands in for code (``...``, "rest of the code",
  "unchanged", "existing code");
- ``too_long``: the answer is far longer than the file warrants (more than
  :data:`TOO_LONG_FACTOR` times the file plus :data:`TOO_LONG_SLACK` characters).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from tinygen.errors import PatchApplyError, PatchError
from tinygen.llm.vote import RedFlag, Sample
from tinygen.models import EditAnswer
from tinygen.patch import apply_patch
from tinygen.validate.outcome import outcome_key
from tinygen.validate.syntax import new_syntax_problems

TOO_LONG_FACTOR = 3
TOO_LONG_SLACK = 4000

_COMMENT = re.compile(r"^\s*(?:#|//|/\*+|\*|<!--|--|;)\s*(?P<text>.*?)\s*(?:\*/|-->)?\s*$")
_PLACEHOLDER = re.compile(
    r"^(?:\.\.\.|…)|(?:\.\.\.|…)$|\brest of (?:the )?(?:code|file|function|class|method|"
    r"implementation|module)\b|\bunchanged\b|\bexisting code\b|\bsame as (?:before|above)\b|"
    r"\b(?:remains?|stays?) the same\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Candidate:
    """A sampled edit that passed every red flag: the file's new text and the model's notes."""

    after: str
    notes: str = ""


def judge_edit(path: str, current: str | None, answer: EditAnswer) -> Sample[Candidate] | RedFlag:
    """The sample's outcome (keyed by :func:`~tinygen.validate.outcome.outcome_key`), or the
    first red flag it raises (see the module docstring)."""
    size = len(answer.diff) + len(answer.content or "")
    if current is not None and size > TOO_LONG_FACTOR * len(current) + TOO_LONG_SLACK:
        return RedFlag("too_long", f"{size} characters for a file of {len(current)}")
    placed = _place(path, current, answer)
    if isinstance(placed, RedFlag):
        return placed
    if answer.no_change and placed == current:
        return Sample(outcome_key(path, placed), Candidate(placed, answer.notes.strip()))
    if current is not None and "".join(placed.split()) == "".join(current.split()):
        return RedFlag("empty", "no change" if placed == current else "whitespace only")
    if current is None and not placed.strip():
        return RedFlag("empty", "an empty new file")
    placeholder = next((line for line in _added(current, placed) if _is_placeholder(line)), None)
    if placeholder is not None:
        return RedFlag("placeholder", placeholder.strip()[:120])
    problems = new_syntax_problems(path, current, placed)
    if problems:
        return RedFlag("syntax", problems[0])
    return Sample(outcome_key(path, placed), Candidate(placed, answer.notes.strip()))


def _place(path: str, current: str | None, answer: EditAnswer) -> str | RedFlag:
    if answer.no_change and current is not None and not answer.diff.strip():
        return current  # "this file needs no change": an outcome of its own, not a flag
    if current is None and answer.content is not None:
        return answer.content if answer.content.endswith("\n") else answer.content + "\n"
    if not answer.diff.strip():
        what = "content for a new file" if current is None else "a diff of an existing file"
        return RedFlag("unparsed", f"no {what}")
    files = {} if current is None else {path: current}
    try:
        result = apply_patch(files, answer.diff, known_paths=[path], only=path)
    except PatchApplyError as exc:
        if any(f.path != path for f in exc.failures):
            return RedFlag("other_file", ", ".join(sorted({f.path for f in exc.failures})))
        return RedFlag("inexact", exc.message)
    except PatchError as exc:
        return RedFlag("unparsed", exc.message)
    extra = sorted(p for p in result.after if p != path)
    if extra:
        return RedFlag("other_file", ", ".join(extra))
    loose = [r for r in result.report if r.outcome == "applied" and r.strategy != "exact"]
    if loose:
        return RedFlag("inexact", f"hunk {loose[0].hunk} placed by {loose[0].strategy}")
    after = result.after.get(path, current)  # absent: the diff changed nothing
    return after if after is not None else RedFlag("unparsed", "the diff deletes the file")


def _added(before: str | None, after: str) -> list[str]:
    """Lines of ``after`` that ``before`` does not have (as many times as it lacks them)."""
    old = Counter((before or "").splitlines())
    out = []
    for line in after.splitlines():
        if old[line] > 0:
            old[line] -= 1
        else:
            out.append(line)
    return out


def _is_placeholder(line: str) -> bool:
    match = _COMMENT.match(line)
    return match is not None and bool(_PLACEHOLDER.search(match.group("text")))


__all__ = ["TOO_LONG_FACTOR", "TOO_LONG_SLACK", "Candidate", "judge_edit"]
