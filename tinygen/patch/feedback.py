"""Feedback for a hunk that does not apply, written for a model (and a person):
the lines that did not match and the closest real lines, with their line numbers."""

from __future__ import annotations

import difflib

from tinygen.patch.model import FileLine, Hunk

MAX_QUOTE = 30


def describe_hunk(hunk: Hunk) -> str:
    old = [ln.text for ln in hunk.lines if ln.old and not ln.optional]
    shown = old[:MAX_QUOTE]
    body = "\n".join("    | " + t for t in shown)
    more = f"\n    | ... ({len(old) - MAX_QUOTE} more)" if len(old) > MAX_QUOTE else ""
    return "  Its before-text:\n" + body + more if old else "  It has no before-text."


def closest_lines(lines: list[FileLine], wanted: list[str], path: str) -> str:
    """The window of the file most like ``wanted`` ("did you mean"), numbered from 1."""
    if not lines or not wanted:
        return f"  {path} is empty." if not lines else ""
    keys = {w.strip() for w in wanted if w.strip()}
    m = len(wanted)
    hits = [1 if ln.content.strip() in keys else 0 for ln in lines]
    best, best_score = 0, -1.0
    window = sum(hits[:m])
    for s in range(max(1, len(lines) - m + 1)):
        if s:
            window += (hits[s + m - 1] if s + m - 1 < len(hits) else 0) - hits[s - 1]
        if window > best_score:
            best, best_score = s, window
    if best_score <= 0:
        # No line matches exactly: fall back to the single most similar line.
        first = wanted[0].strip()
        ratios = [difflib.SequenceMatcher(None, first, ln.content.strip()).ratio() for ln in lines]
        best = max(range(len(lines)), key=lambda i: ratios[i])
        if ratios[best] < 0.5:
            return f"  No similar lines found in {path}; check that this is the right file."
    lo, hi = max(0, best - 1), min(len(lines), best + m + 1)
    numbered = "\n".join(f"  {i + 1:5d}| {lines[i].content}" for i in range(lo, hi))
    return f"  Did you mean these lines of {path} ({lo + 1}-{hi})?\n{numbered}"


__all__ = ["closest_lines", "describe_hunk"]
