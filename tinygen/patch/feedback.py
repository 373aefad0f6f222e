"""Feedback for hunks that do not apply, written for a model (and a person): the lines
that did not match, the closest real lines with their line numbers, the first line that
differs (with whitespace-only differences named), and which hunks did fit.

:func:`closest_lines` finds the data (a :class:`ClosestLines`); :func:`render_feedback` is the
one place that turns typed :class:`HunkFailure` records into text.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Sequence

from tinygen.patch.model import ClosestLines, FileLine, FirstDifference, HunkFailure
from tinygen.patch.place import FileIndex

MAX_QUOTE = 30
COMMON = 200  # a line occurring more often than this ("}", ")") never anchors a guess
CANDIDATES = 40  # windows scored in detail
FUZZY_LINES = 3  # wanted lines looked up by similarity when they occur nowhere
# Failed hunks of one file that get closest lines: each search compares lines with every
# distinct line of the file, so thousands of failed hunks would take quadratic time.
CLOSEST_PER_FILE = 50


def _describe_before(old: Sequence[str]) -> str:
    shown = old[:MAX_QUOTE]
    body = "\n".join("    | " + t for t in shown)
    more = f"\n    | ... ({len(old) - MAX_QUOTE} more)" if len(old) > MAX_QUOTE else ""
    return "  Its before-text:\n" + body + more if old else "  It has no before-text."


def _similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if not a or not b or max(len(a), len(b)) > 400:
        return 0.0
    m = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if m.real_quick_ratio() < 0.5 or m.quick_ratio() < 0.5:
        return 0.0
    r = m.ratio()
    return r if r >= 0.5 else 0.0


def _best_window(index: FileIndex, keys: list[str]) -> tuple[int, float]:
    """The start (in non-blank line numbers) of the window of the file's non-blank lines
    most like ``keys``: lines weighted by rarity (a line found once counts fully, one found
    everywhere hardly at all; a line found nowhere counts fully, by similarity)."""
    weight = [1.0 / len(index.by_key[k]) if k in index.by_key else 1.0 for k in keys]
    rough: dict[int, float] = defaultdict(float)
    for j, key in enumerate(keys):
        hits = index.by_key.get(key, [])
        if 0 < len(hits) <= COMMON:
            for q in hits:
                rough[q - j] += weight[j]
    missing = sorted(
        (j for j, k in enumerate(keys) if k not in index.by_key), key=lambda j: -len(keys[j])
    )
    if missing:
        unique = list(index.by_key)
        for j in missing[:FUZZY_LINES]:
            for near in difflib.get_close_matches(keys[j], unique, n=3, cutoff=0.6):
                hits = index.by_key[near]
                if len(hits) <= COMMON:
                    for q in hits:
                        rough[q - j] += weight[j] * 0.9
    top = len(index.keys) - 1
    clamped: dict[int, float] = defaultdict(float)
    for q, score in rough.items():
        clamped[min(max(q, 0), top)] += score
    starts = sorted(clamped, key=lambda q: (-clamped[q], q))[:CANDIDATES]
    best, best_score = 0, 0.0
    for q in sorted(starts):
        score = 0.0
        for j, key in enumerate(keys):
            if 0 <= q + j < len(index.keys):
                score += weight[j] * _similarity(key, index.keys[q + j])
        if score > best_score:
            best, best_score = q, score
    return best, best_score


def _whitespace_note(hunk_text: str, file_text: str) -> str:
    if hunk_text.strip() != file_text.strip():
        return ""
    hi = hunk_text[: len(hunk_text) - len(hunk_text.lstrip())]
    fi = file_text[: len(file_text) - len(file_text.lstrip())]
    if hi != fi:
        if "\t" in fi and "\t" not in hi:
            return "only whitespace differs: the file indents with tabs, the hunk with spaces"
        if "\t" in hi and "\t" not in fi:
            return "only whitespace differs: the file indents with spaces, the hunk with tabs"
        return (
            f"only whitespace differs: the file indents this line by {len(fi)} "
            f"character(s), the hunk by {len(hi)}"
        )
    return "only trailing whitespace differs"


def closest_lines(
    lines: list[FileLine], wanted: Sequence[str], index: FileIndex | None = None
) -> ClosestLines | None:
    """The window of the file most like ``wanted`` ("did you mean") and the first line of
    ``wanted`` that differs from it; None when ``wanted`` has only blank lines."""
    if not lines:
        return ClosestLines("empty-file")
    pos = [k for k, w in enumerate(wanted) if w.strip()]
    if not pos:
        return None
    index = index if index is not None else FileIndex(lines)
    if not index.nb:
        return ClosestLines("blank-file")
    keys = [wanted[k].strip() for k in pos]
    q, score = _best_window(index, keys)
    if score <= 0:
        return ClosestLines("nothing-similar")
    last = min(q + len(keys), len(index.nb)) - 1
    lo, hi = max(0, index.nb[q] - 1), min(len(lines), index.nb[last] + 2)
    difference = None
    for j, k in enumerate(pos):
        if q + j >= len(index.nb):
            break
        f = index.nb[q + j]
        if wanted[k] != lines[f].content:
            difference = FirstDifference(k + 1, wanted[k], f + 1, lines[f].content)
            break
    return ClosestLines("window", lo + 1, tuple(ln.content for ln in lines[lo:hi]), difference)


def _render_closest(path: str, closest: ClosestLines) -> str:
    if closest.found == "empty-file":
        return f"  {path} is empty."
    if closest.found == "blank-file":
        return f"  {path} has only blank lines."
    if closest.found == "nothing-similar":
        return f"  No similar lines found in {path}; check that this is the right file."
    if closest.found == "skipped":
        return (
            f"  (Closest lines are shown for the first {CLOSEST_PER_FILE} failed hunks of "
            f"{path} only.)"
        )
    end = closest.start + len(closest.lines) - 1
    numbered = "\n".join(
        f"  {closest.start + i:5d}| {text}" for i, text in enumerate(closest.lines)
    )
    out = f"  Did you mean these lines of {path} ({closest.start}-{end})?\n{numbered}"
    d = closest.difference
    if d is not None:
        note = _whitespace_note(d.hunk_text, d.file_text)
        out += (
            f"\n  First difference: line {d.hunk_line} of the before-text\n"
            f"    hunk      | {d.hunk_text}\n"
            f"    file {d.file_line:5d}| {d.file_text}" + (f"\n  ({note})" if note else "")
        )
    return out


def render_failure(f: HunkFailure) -> str:
    """One failed hunk: where, why, its before-text, the closest lines, a BOM note."""
    closest = _render_closest(f.path, f.closest) if f.closest is not None else ""
    bom = (
        f"\n  Note: {f.path} starts with a UTF-8 byte-order mark (BOM); tinygen keeps it, "
        "so quote its first line without it."
        if f.bom
        else ""
    )
    numbered = (
        "\n  Note: the lines of this hunk start with line numbers like `12| ` copied from the "
        "numbered view of the file. They are not part of the file: write each diff line as "
        "its marker (' ', '-' or '+') followed by the file's text only."
        if f.numbered
        else ""
    )
    return (
        f"{f.path}, hunk {f.hunk} ({f.header}) does not apply: {f.reason}\n"
        + _describe_before(f.before)
        + ("\n" + closest if closest else "")
        + numbered
        + bom
    )


def render_feedback(
    failures: Sequence[HunkFailure], fitted: Sequence[tuple[str, Sequence[int]]] = ()
) -> str:
    """The feedback of a refused diff: each failure, then the hunks that did fit (by file
    section, in diff order) so that they are sent again unchanged. A hunk named in a failure
    is never also listed as fitting."""
    parts = [render_failure(f) for f in failures]
    failed = {(f.path, f.hunk) for f in failures}
    kept = [(p, [n for n in ns if (p, n) not in failed]) for p, ns in fitted]
    ok = [f"{p} hunk{'s' if len(ns) > 1 else ''} {', '.join(map(str, ns))}" for p, ns in kept if ns]
    if ok:
        parts.append(
            "These hunks fit and need no change (keep them as they are): " + "; ".join(ok) + "."
        )
    return "\n\n".join(parts)


__all__ = ["CLOSEST_PER_FILE", "closest_lines", "render_failure", "render_feedback"]
