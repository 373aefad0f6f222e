"""Line numbers from ``@@`` headers, used only to choose among places that fit equally.

They are used only when they are *consistent*: every hunk of the file has full numbers,
counts that match its body and a new-start consistent with the hunks before it, and every
hunk that fits in one place only starts exactly where its numbers say. A diff whose numbers
are wrong anywhere gets no say at all. (The residual risk, stated plainly: numbers that are
all shifted by the same amount, consistently, onto a passage identical to the intended one
cannot be told from a correct diff for that other passage.)
"""

from __future__ import annotations

from collections.abc import Sequence

from tinygen.patch.model import Hunk
from tinygen.patch.place import Application, Placements, Refusal, rank


def numbers_trusted(hunks: Sequence[Hunk], placed: Sequence[Placements]) -> bool:
    """Whether the numbers of a file's hunks are consistent (see above)."""
    delta = 0
    for hunk, apps in zip(hunks, placed, strict=True):
        nums = (hunk.old_start, hunk.old_len, hunk.new_start, hunk.new_len)
        if None in nums:
            return False
        os_, ol, ns, nl = (int(x) for x in nums)  # type: ignore[arg-type]
        n_opt = sum(1 for ln in hunk.lines if ln.optional)
        n_old = sum(1 for ln in hunk.lines if ln.old and not ln.optional)
        n_new = sum(1 for ln in hunk.lines if ln.new and not ln.optional)
        if ol not in (n_old, n_old + n_opt) or nl - ol != n_new - n_old:
            return False
        o0 = os_ - 1 if ol else os_
        n0 = ns - 1 if nl else ns
        if n0 - o0 != delta:
            return False
        delta += nl - ol
        if len(apps) == 1 and apps[0].start != o0:
            return False
    return True


def by_hint(hunk: Hunk, apps: Placements, n_lines: int) -> Application | Refusal | None:
    """The one placement of an ambiguous hunk that its (trusted) numbers point at, if
    they single one out. Numbers choose only among the strictest fits: a re-sent diff's
    numbers can point at a line it added, matched loosely (trailing whitespace)."""
    assert hunk.old_start is not None
    at = apps.starting_at(hunk.old_start - 1)
    if not at:
        return None
    best = min(rank(a) for a in at)
    if apps.any_ranked_below(best):
        return None  # a stricter fit elsewhere: the hinted place is not among the strictest
    hinted = [
        a
        for a in at
        if rank(a) == best and (not isinstance(a, Application) or _edges_agree(hunk, a, n_lines))
    ]
    return hinted[0] if len(hinted) == 1 else None


def _edges_agree(hunk: Hunk, app: Application, n_lines: int) -> bool:
    """Whether a hinted place agrees with the hunk's context widths. A diff with N lines of
    context has fewer only where the file ends: fewer lines before the change than after
    means the hunk starts at line 1, fewer after means it ends at the last line. Numbers
    shifted by the same amount everywhere are as consistent as right ones, so this is what
    refutes a shifted hint among equal candidates; a refuted hint leaves the hunk ambiguous,
    and so refused — never moved."""
    ops = [ln.op for ln in hunk.lines if not ln.optional]
    changes = [k for k, op in enumerate(ops) if op != " "]
    if not changes:
        return True
    before, after = changes[0], len(ops) - 1 - changes[-1]
    width = max(before, after)
    if before < width and app.start != 0:
        return False
    return not (after < width and app.end != n_lines)


__all__ = ["by_hint", "numbers_trusted"]
