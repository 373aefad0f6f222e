"""Feedback for a hunk that does not apply, written for a model (and a person): the lines
that did not match, the closest real lines with their line numbers, and the first line that
differs (with whitespace-only differences named)."""

from __future__ import annotations

import difflib
from collections import defaultdict

from tinygen.patch.model import FileLine, Hunk
from tinygen.patch.place import FileIndex

MAX_QUOTE = 30
COMMON = 200  # a line occurring more often than this ("}", ")") never anchors a guess
CANDIDATES = 40  # windows scored in detail
FUZZY_LINES = 3  # wanted lines looked up by similarity when they occur nowhere


def describe_hunk(hunk: Hunk) -> str:
    old = [ln.text for ln in hunk.lines if ln.old and not ln.optional]
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
    lines: list[FileLine], wanted: list[str], path: str, index: FileIndex | None = None
) -> str:
    """The window of the file most like ``wanted`` ("did you mean"), numbered from 1, and
    the first line of ``wanted`` that differs from it."""
    if not lines:
        return f"  {path} is empty."
    pos = [k for k, w in enumerate(wanted) if w.strip()]
    if not pos:
        return ""
    index = index if index is not None else FileIndex(lines)
    if not index.nb:
        return f"  {path} has only blank lines."
    keys = [wanted[k].strip() for k in pos]
    q, score = _best_window(index, keys)
    if score <= 0:
        return f"  No similar lines found in {path}; check that this is the right file."
    last = min(q + len(keys), len(index.nb)) - 1
    lo, hi = max(0, index.nb[q] - 1), min(len(lines), index.nb[last] + 2)
    numbered = "\n".join(f"  {i + 1:5d}| {lines[i].content}" for i in range(lo, hi))
    out = f"  Did you mean these lines of {path} ({lo + 1}-{hi})?\n{numbered}"
    for j, k in enumerate(pos):
        if q + j >= len(index.nb):
            break
        f = index.nb[q + j]
        if wanted[k] != lines[f].content:
            note = _whitespace_note(wanted[k], lines[f].content)
            out += (
                f"\n  First difference: line {k + 1} of the before-text\n"
                f"    hunk      | {wanted[k]}\n"
                f"    file {f + 1:5d}| {lines[f].content}" + (f"\n  ({note})" if note else "")
            )
            break
    return out


__all__ = ["closest_lines", "describe_hunk"]
