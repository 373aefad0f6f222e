"""Re-sent hunks: telling an edit that is already in the file from one still to apply.

A model (or a person) may send a diff again after it was applied. A hunk whose after-text
is already there is reported "already present" instead of being applied twice, but only
where that cannot be a misquote of another place: these rules are strict on purpose.
"""

from __future__ import annotations

import bisect
import dataclasses

from tinygen.patch.model import Hunk, Line
from tinygen.patch.place import Application, FileIndex, indent_transform, used_lines


def keys(hunk: Hunk) -> list[str]:
    """The hunk's non-blank before-lines, stripped (how the index compares lines)."""
    return [ln.text.strip() for ln in hunk.lines if ln.old and ln.text.strip()]


def exact_matches(index: FileIndex, after: list[Line]) -> list[int]:
    """Every index where the file's lines equal ``after`` exactly (a missing final
    newline included)."""
    texts = [ln.text for ln in after]
    nonblank = [k for k, t in enumerate(texts) if t.strip()]
    if not nonblank:
        return []
    # Anchored on the rarest of its lines: every exact match has each of them in place.
    at = nonblank[index.rarest([texts[k].strip() for k in nonblank])]
    lines = index.lines
    out = []
    for q in index.by_key.get(texts[at].strip(), []):
        s = index.nb[q] - at
        if s < 0 or s + len(after) > len(lines):
            continue
        window = lines[s : s + len(after)]
        if all(
            f.content == h.text and (f.eol == "") == (h.eol == "")
            for f, h in zip(window, after, strict=True)
        ):
            out.append(s)
    return out


def near_fits(index: FileIndex, keys: list[str]) -> list[int]:
    """Starts (in non-blank line numbers) of windows of the file's non-blank lines that
    equal ``keys`` but for at most one line (exactly, for a one-line ``keys``)."""
    m = len(keys)
    if not m:
        return []
    # A window that differs in one line at most has one of any two of them in place: the
    # two the file has fewest of.
    by_count = sorted(range(m), key=lambda j: len(index.by_key.get(keys[j], ())))
    starts: set[int] = set()
    for j in by_count[:2]:
        starts |= {q - j for q in index.by_key.get(keys[j], []) if q >= j}
    allowed = 1 if m >= 2 else 0
    out = []
    for q in sorted(starts):
        window = index.keys[q : q + m]
        if len(window) == m and sum(a != b for a, b in zip(window, keys, strict=True)) <= allowed:
            out.append(q)
    return out


def already_present(index: FileIndex, hunk: Hunk) -> int | None:
    """Where the hunk's after-text already is, for a hunk whose before-text does not
    fit: a re-sent hunk. Strict, because a misquoted line looks the same: the after-text
    must be in the file exactly (no re-indenting) and in one place only, the hunk must
    have non-blank context and add a non-blank line, one of its removed lines must be
    absent from the file, and its before-text must not nearly fit (all but one line)
    anywhere else — there it would more likely be a misquote of that place."""
    used = [ln for ln in hunk.lines if not ln.optional]
    if not any(ln.op == "+" and ln.text.strip() for ln in used):
        return None
    if not any(ln.op == " " and ln.text.strip() for ln in used):
        return None
    removed = [ln.text.strip() for ln in used if ln.op == "-" and ln.text.strip()]
    if removed and all(r in index.by_key for r in removed):
        return None
    after = [ln for ln in used if ln.new]
    found = exact_matches(index, after)
    if len(found) != 1:
        return None
    at = found[0]
    nb = index.nb
    lo = bisect.bisect_left(nb, at)
    hi = bisect.bisect_left(nb, at + len(after))
    wanted = keys(hunk)
    for q in near_fits(index, wanted):
        if q < hi and q + len(wanted) > lo:
            continue  # overlaps the after-text: the change itself
        return None
    return at


def resent(index: FileIndex, hunk: Hunk, app: Application) -> bool:
    """True when the placed hunk's after-text is already in the file, around its
    placement, with every context line on the same file line in both: a re-sent edit
    whose context is on one side only (lines appended after a block, an import added)
    would otherwise be applied twice. (With context on both sides the before-text of
    an applied hunk is no longer in the file exactly, see :func:`already_present`; it
    can still fit loosely, which :func:`_quoted_after_here` covers.)"""
    # The lines the placement was built from: its window spans the optional ones too
    # when they fit (counted without them, a window one blank line longer would read as
    # a loose placement, and a hunk whose after-text overlaps its own before-text, as
    # "+x, blank, -x", as already done).
    lines = used_lines(hunk, drop_optional=not app.with_optional)
    ops = _effective_ops(lines)
    if not any(op == "+" for op, _ in ops):
        return False
    if app.strategy == "blank-lines" or app.end - app.start != sum(op != "+" for op, _ in ops):
        # Placed loosely (blank lines differ, maybe moved to another gap at the same
        # count): a re-send if the after-text, as quoted, is right there.
        used = [ln for ln in lines if ln.new]
        if not any(ln.op == "+" and ln.text.strip() for ln in used):
            return False
        found = exact_matches(index, used)
        # Overlapping or next to it: a placement that leaves out blank context lines the
        # file lacks (" " " " " " "-x" "+y" re-sent to "x" "" "" "" "y" fits the first x,
        # without its blank lines) can end where the after-text begins.
        return len(found) == 1 and found[0] <= app.end and found[0] + len(used) >= app.start
    if app.strategy != "exact" and _quoted_after_here(index, lines, lines, app):
        return True
    # Placed without its trailing blank lines (they did not fit): with them, as context,
    # the after-text may be the file's ("-" "+x" " " re-sent to "x" "").
    if len(lines) < len(hunk.lines) and _quoted_after_here(index, lines, list(hunk.lines), app):
        return True
    new = [ln.content for ln in app.new_lines]
    if len(new) <= app.end - app.start:
        return False  # the before-text is there, so a change that adds nothing is not done
    if _repeats_its_neighbours([op for op, _ in ops if op != "-"], new):
        return False
    # (Added lines could also be slid past equal context lines, "x +x" as "+x x"; but
    # a change inside a run of equal lines cannot be told from its re-sending, and
    # applying it is then the answer that the diff's own before-text supports.)
    shift = _shift(ops)
    return shift is not None and _after_at(index, app, app.start + shift, new)


def undecidable(index: FileIndex, hunk: Hunk, app: Application) -> bool:
    """True when a hunk whose before-lines are all blank is placed where its after-text,
    as quoted and with a non-blank added line, also is exactly (once, overlapping): blank
    lines fit each other at any shift, so the file reads as well with the change made
    ("-" "+x" " " " " re-sent to "x" "" "" "") as without it, and neither is claimed."""
    if keys(hunk):
        return False
    after = [ln for ln in used_lines(hunk, not app.with_optional) if ln.new]
    if not any(ln.op == "+" and ln.text.strip() for ln in after):
        return False
    found = exact_matches(index, after)
    return len(found) == 1 and found[0] < app.end and found[0] + len(after) > app.start


def _quoted_after_here(
    index: FileIndex, lines: list[Line], quoted: list[Line], app: Application
) -> bool:
    """For a placement that fits only loosely (modulo whitespace, or without the hunk's
    optional lines): the after-text of ``quoted``, re-indented as the placement's
    before-``lines`` fit, is in the file exactly, once, overlapping the placement. Modulo
    whitespace every blank line fits every other ("   " fits ""), so the before-text of an
    applied hunk can still fit, shifted onto the lines it added ("   " "-   " "+" "+" "0"
    fits the "" "" "0" it wrote after "   "); the exact fit of the after-text is the
    stronger evidence, as an exact placement beats a loose one."""
    old = [ln for ln in lines if ln.old]
    window = index.lines[app.start : app.start + len(old)]
    if len(window) != len(old):
        return False  # pragma: no cover - the placement spans its before-lines
    transform = indent_transform(
        [(f.content, h.text) for f, h in zip(window, old, strict=True) if h.text.strip()]
    )
    if transform is None:
        return False  # pragma: no cover - build() found this placement's transform
    after = []
    for ln in quoted:
        text = transform.apply(ln.text) if ln.new else None
        if text is not None:
            after.append(dataclasses.replace(ln, text=text))
        elif ln.new:
            return False  # an added line that cannot be re-indented: no placement
    found = exact_matches(index, after)
    return len(found) == 1 and found[0] < app.end and found[0] + len(after) > app.start


def _after_at(index: FileIndex, app: Application, at: int, new: list[str]) -> bool:
    lines = index.lines
    if at < 0 or at + len(new) > len(lines):
        return False
    at_end = at + len(new) == len(lines)
    if app.last_no_eol is not None and at_end and (lines[-1].eol == "") != app.last_no_eol:
        return False  # the change is (also) the final newline
    return [ln.content for ln in lines[at : at + len(new)]] == new


def _effective_ops(lines: list[Line]) -> list[tuple[str, str]]:
    """The hunk's (op, text) pairs with lines that a run of changes removes and adds back
    unchanged counted as context: "-x +y +x" is "+y x", "-x +y +x +z" is "+y x +z"."""
    out: list[tuple[str, str]] = []
    k = 0
    while k < len(lines):
        if lines[k].op == " ":
            out.append((" ", lines[k].text))
            k += 1
            continue
        end = k
        while end < len(lines) and lines[end].op != " ":
            end += 1
        run = lines[k:end]
        rem = [ln.text for ln in run if ln.op == "-"]
        add = [ln.text for ln in run if ln.op == "+"]
        at = next(
            (i for i in range(len(add) - len(rem) + 1) if rem and add[i : i + len(rem)] == rem),
            None,
        )
        if at is None:
            out.extend((ln.op, ln.text) for ln in run)
        else:
            out.extend(("+" if i < at or i >= at + len(rem) else " ", t) for i, t in enumerate(add))
        k = end
    return out


def _shift(ops: list[tuple[str, str]]) -> int | None:
    """The one offset from before-text to after-text line numbers of every context line,
    or None (no context, or context on both sides of a change that adds lines)."""
    shifts = set()
    before = after = 0
    for op, _ in ops:
        if op == " ":
            shifts.add(before - after)
        before += op != "+"
        after += op != "-"
    return shifts.pop() if len(shifts) == 1 else None


def _repeats_its_neighbours(new_ops: list[str], new: list[str]) -> bool:
    """True when the lines a hunk adds cannot tell a re-send from a first application: a
    block of them equals the lines right before or after it ("x +x" in a run of x, a blank
    line added to blank lines). Applying is then what the hunk's own before-text supports."""
    if len(new_ops) != len(new):
        return True  # cannot line the two up: do not claim a re-send
    i = 0
    while i < len(new_ops):
        if new_ops[i] != "+":
            i += 1
            continue
        j = i
        while j < len(new_ops) and new_ops[j] == "+":
            j += 1
        block, n = new[i:j], j - i
        if new[max(0, i - n) : i] == block or new[j : j + n] == block:
            return True
        i = j
    return False


__all__ = ["already_present", "exact_matches", "keys", "near_fits", "resent", "undecidable"]
