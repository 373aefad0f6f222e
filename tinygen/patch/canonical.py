"""The canonical, git-style unified diff of before/after texts.

``diff --git`` headers, ``new file mode``/``deleted file mode`` for created and deleted
files, ``\\ No newline at end of file``, exact counts, 3 lines of context; files in path
order, so the same input always gives the same bytes. Lines are compared *with* their line
endings (difflib on ``keepends`` lines), so a CRLF->LF change or a lost final newline is a
visible change, as in git. A rename is written as a deletion plus a creation.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Mapping

CONTEXT = 3
BIG_MIDDLE = 20_000  # lines (both sides) past which difflib's autojunk heuristic is used


def _lines(text: str) -> list[str]:
    out: list[str] = []
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            out.append(text[start:])
            break
        out.append(text[start : end + 1])
        start = end + 1
    return out


def quote_path(path: str) -> str:
    """git's C-style quoting for names with quotes, backslashes, controls or non-ASCII."""
    if not any(c in '"\\' or ord(c) < 0x20 or ord(c) >= 0x7F for c in path):
        return path
    names = {7: "a", 8: "b", 9: "t", 10: "n", 11: "v", 12: "f", 13: "r", 34: '"', 92: "\\"}
    out = []
    for b in path.encode("utf-8"):
        if b in names:
            out.append("\\" + names[b])
        elif b < 0x20 or b >= 0x7F:
            out.append(f"\\{b:03o}")
        else:
            out.append(chr(b))
    return '"' + "".join(out) + '"'


def _name(prefix: str, path: str) -> str:
    q = quote_path(prefix + path)
    return q


Opcode = tuple[str, int, int, int, int]
Block = tuple[int, int, int]  # a[i : i + n] == b[j : j + n]

# Past this many changed lines (both sides of the middle, once the common first and last
# lines are off), the middle is first split at lines that occur once on each side.
ANCHORED_ABOVE = 1_000
GAP = 400  # lines (both sides) of a gap between anchors that difflib diffs on its own
LOOKAHEAD = 64  # how far a gap without anchors looks for the two sides to agree again
AGREE = 3  # lines that must agree (or the gap's end) to take them as back in step


def _opcodes(
    a: list[str], b: list[str], anchored_above: int | None = ANCHORED_ABOVE
) -> list[Opcode]:
    """difflib's opcodes, computed on the middle only: the common first and last lines are
    taken off first (difflib without autojunk is quadratic on files with many repeated
    lines; a typical change touches a small middle). A middle of more than
    ``anchored_above`` lines is split first (see :func:`_anchored_blocks`: difflib is
    superlinear in the number of changed places, 313 s for 10,000). ``None`` = never split:
    difflib on the whole middle, with its autojunk heuristic past ``BIG_MIDDLE`` lines."""
    n = min(len(a), len(b))
    pre = 0
    while pre < n and a[pre] == b[pre]:
        pre += 1
    suf = 0
    while suf < n - pre and a[len(a) - 1 - suf] == b[len(b) - 1 - suf]:
        suf += 1
    a_mid, b_mid = a[pre : len(a) - suf], b[pre : len(b) - suf]
    if anchored_above is None or len(a_mid) + len(b_mid) <= anchored_above:
        big = len(a_mid) + len(b_mid) > BIG_MIDDLE
        matcher = difflib.SequenceMatcher(None, a_mid, b_mid, autojunk=big)
        blocks = [(i + pre, j + pre, k) for i, j, k in matcher.get_matching_blocks() if k]
    else:
        gap = min(GAP, anchored_above)
        blocks = [(i + pre, j + pre, k) for i, j, k in _anchored_blocks(a_mid, b_mid, gap)]
    if pre:
        blocks.insert(0, (0, 0, pre))
    if suf:
        blocks.append((len(a) - suf, len(b) - suf, suf))
    return _codes(blocks, len(a), len(b))


def _codes(blocks: list[Block], n_a: int, n_b: int) -> list[Opcode]:
    """Opcodes from sorted matching blocks (difflib's get_opcodes), touching blocks merged."""
    merged: list[Block] = []
    for i, j, k in blocks:
        if merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + k)
        else:
            merged.append((i, j, k))
    ops: list[Opcode] = []
    i = j = 0
    for ai, bj, k in [*merged, (n_a, n_b, 0)]:
        tag = "replace" if i < ai and j < bj else "delete" if i < ai else "insert" if j < bj else ""
        if tag:
            ops.append((tag, i, ai, j, bj))
        if k:
            ops.append(("equal", ai, ai + k, bj, bj + k))
        i, j = ai + k, bj + k
    return ops


def _anchored_blocks(a: list[str], b: list[str], gap: int = GAP) -> list[Block]:
    """Matching blocks of a large middle in near-linear time: split at the lines that occur
    once in each side, in the same order on both (patience diff's anchors, the longest
    increasing run of them), and again inside each gap; a small gap goes to difflib, a
    large one without such lines is walked in step (:func:`_walk_blocks`)."""
    out: list[Block] = []
    todo = [(0, len(a), 0, len(b))]
    while todo:
        alo, ahi, blo, bhi = todo.pop()
        if alo == ahi or blo == bhi:
            continue
        if (ahi - alo) + (bhi - blo) <= gap:
            matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
            out.extend((alo + i, blo + j, k) for i, j, k in matcher.get_matching_blocks() if k)
            continue
        anchors = _anchors(a, alo, ahi, b, blo, bhi)
        if not anchors:
            out.extend(_walk_blocks(a, alo, ahi, b, blo, bhi))
            continue
        # Each anchor grown to the whole run of equal lines around it (the block difflib
        # would match there): the gaps between runs are diffed on their own.
        for k, (i, j) in enumerate(anchors):
            i_end, j_end = anchors[k + 1] if k + 1 < len(anchors) else (ahi, bhi)
            lo = 0
            while i - lo > alo and j - lo > blo and a[i - lo - 1] == b[j - lo - 1]:
                lo += 1
            hi = 1
            while i + hi < i_end and j + hi < j_end and a[i + hi] == b[j + hi]:
                hi += 1
            out.append((i - lo, j - lo, lo + hi))
            todo.append((alo, i - lo, blo, j - lo))
            alo, blo = i + hi, j + hi
        todo.append((alo, ahi, blo, bhi))
    out.sort()
    return out


def _anchors(
    a: list[str], alo: int, ahi: int, b: list[str], blo: int, bhi: int
) -> list[tuple[int, int]]:
    """The longest run, in order on both sides, of lines that occur once in ``a[alo:ahi]``
    and once in ``b[blo:bhi]``, as (i, j) pairs."""
    once_a: dict[str, int] = {}  # line -> its index, or -1 when it occurs again
    for i in range(alo, ahi):
        once_a[a[i]] = -1 if a[i] in once_a else i
    once_b: dict[str, int] = {}
    for j in range(blo, bhi):
        if once_a.get(b[j], -1) >= 0:
            once_b[b[j]] = -1 if b[j] in once_b else j
    pairs = sorted((once_a[line], j) for line, j in once_b.items() if j >= 0)
    # The longest increasing run of b positions (patience sorting): ends[k] is the
    # smallest b position a run of k + 1 pairs can end at, tails[k] that pair.
    ends: list[int] = []
    tails: list[int] = []
    back: list[int] = []
    for k, (_, j) in enumerate(pairs):
        pos = bisect.bisect_left(ends, j)
        back.append(tails[pos - 1] if pos else -1)
        if pos == len(ends):
            ends.append(j)
            tails.append(k)
        else:
            ends[pos], tails[pos] = j, k
    run: list[tuple[int, int]] = []
    k = tails[-1] if tails else -1
    while k >= 0:
        run.append(pairs[k])
        k = back[k]
    run.reverse()
    return run


def _walk_blocks(a: list[str], alo: int, ahi: int, b: list[str], blo: int, bhi: int) -> list[Block]:
    """Matching blocks of a large gap with no anchors (repeated lines only, on one side at
    least), walking both sides in step: at each difference, the fewest lines skipped
    (removed plus added, at most ``LOOKAHEAD`` each) after which ``AGREE`` lines agree
    (or both sides end). Past that, difflib with its autojunk heuristic on the rest."""
    out: list[Block] = []
    i, j = alo, blo
    while i < ahi and j < bhi:
        if a[i] == b[j]:
            out.append((i, j, 1))
            i, j = i + 1, j + 1
            continue
        step = _resync(a, i, ahi, b, j, bhi)
        if step is None:
            matcher = difflib.SequenceMatcher(None, a[i:ahi], b[j:bhi], autojunk=True)
            out.extend((i + p, j + q, k) for p, q, k in matcher.get_matching_blocks() if k)
            break
        i, j = i + step[0], j + step[1]
    return out


def _resync(
    a: list[str], i: int, ahi: int, b: list[str], j: int, bhi: int
) -> tuple[int, int] | None:
    """The (removed, added) line counts with the smallest sum after which ``a`` and ``b``
    agree again (replacements before pure removals or additions, fewer removed first)."""
    for d in range(1, 2 * LOOKAHEAD + 1):
        for x in sorted(
            range(max(0, d - LOOKAHEAD), min(d, LOOKAHEAD) + 1), key=lambda x: (abs(2 * x - d), x)
        ):
            p, q = i + x, j + d - x
            if p > ahi or q > bhi:
                continue
            m = min(AGREE, ahi - p, bhi - q)
            if (m == 0 and p == ahi and q == bhi) or (m > 0 and a[p : p + m] == b[q : q + m]):
                return x, d - x
    return None


def _grouped(codes: list[Opcode], n: int = CONTEXT) -> list[list[Opcode]]:
    """Hunks of opcodes with ``n`` lines of context (difflib's get_grouped_opcodes)."""
    if not codes:
        codes = [("equal", 0, 1, 0, 1)]
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = tag, max(i1, i2 - n), i2, max(j1, j2 - n), j2
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)
    nn = n + n
    groups: list[list[Opcode]] = []
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > nn:
            group.append((tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def _range(start: int, length: int) -> str:
    first = start + 1 if length else start
    return str(first) if length == 1 else f"{first},{length}"


def _body_line(prefix: str, line: str) -> str:
    if line.endswith("\n"):
        return prefix + line
    return prefix + line + "\n\\ No newline at end of file\n"


def file_diff(
    path: str,
    before: str | None,
    after: str | None,
    *,
    anchored_above: int | None = ANCHORED_ABOVE,
) -> str:
    """One file's diff; ``anchored_above`` as in :func:`_opcodes` (None: difflib alone,
    the output before anchoring, which tests and the bench compare with)."""
    a_name, b_name = _name("a/", path), _name("b/", path)
    tab = "\t" if " " in path and not a_name.startswith('"') else ""
    head = [f"diff --git {a_name} {b_name}\n"]
    if before is None:
        head.append("new file mode 100644\n")
    elif after is None:
        head.append("deleted file mode 100644\n")
    a_lines, b_lines = _lines(before or ""), _lines(after or "")
    if not a_lines and not b_lines:
        return "".join(head)  # an empty file created or deleted: git writes no hunks
    head.append(
        f"--- {'/dev/null' if before is None else a_name}{tab if before is not None else ''}\n"
    )
    head.append(
        f"+++ {'/dev/null' if after is None else b_name}{tab if after is not None else ''}\n"
    )
    body: list[str] = []
    for group in _grouped(_opcodes(a_lines, b_lines, anchored_above)):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        body.append(f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@\n")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                body.extend(_body_line(" ", ln) for ln in a_lines[a1:a2])
                continue
            body.extend(_body_line("-", ln) for ln in a_lines[a1:a2])
            body.extend(_body_line("+", ln) for ln in b_lines[b1:b2])
    return "".join(head + body)


def canonical_diff(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> str:
    """The git-style diff from ``before`` to ``after`` (paths missing from one side are
    taken as unchanged; None = the file does not exist)."""
    out = []
    for path in sorted(set(before) | set(after)):
        a = before.get(path)
        b = after.get(path, a)
        if path not in before:
            a = None
        if a == b:
            continue
        out.append(file_diff(path, a, b))
    return "".join(out)


__all__ = ["canonical_diff", "file_diff", "quote_path"]
