"""The canonical, git-style unified diff of before/after texts.

``diff --git`` headers, ``new file mode``/``deleted file mode`` for created and deleted
files, ``\\ No newline at end of file``, exact counts, 3 lines of context; files in path
order, so the same input always gives the same bytes. Lines are compared *with* their line
endings (difflib on ``keepends`` lines), so a CRLF->LF change or a lost final newline is a
visible change, as in git. A rename is written as a deletion plus a creation.
"""

from __future__ import annotations

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


def _opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """difflib's opcodes, computed on the middle only: the common first and last lines are
    taken off first (difflib without autojunk is quadratic on files with many repeated
    lines; a typical change touches a small middle). A very large middle falls back to
    difflib's autojunk heuristic: still a correct diff, possibly a longer one."""
    n = min(len(a), len(b))
    pre = 0
    while pre < n and a[pre] == b[pre]:
        pre += 1
    suf = 0
    while suf < n - pre and a[len(a) - 1 - suf] == b[len(b) - 1 - suf]:
        suf += 1
    a_mid, b_mid = a[pre : len(a) - suf], b[pre : len(b) - suf]
    big = len(a_mid) + len(b_mid) > BIG_MIDDLE
    matcher = difflib.SequenceMatcher(None, a_mid, b_mid, autojunk=big)
    ops: list[Opcode] = [("equal", 0, pre, 0, pre)] if pre else []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        ops.append((tag, i1 + pre, i2 + pre, j1 + pre, j2 + pre))
    if suf:
        ops.append(("equal", len(a) - suf, len(a), len(b) - suf, len(b)))
    merged: list[Opcode] = []
    for op in ops:
        if merged and op[0] == "equal" and merged[-1][0] == "equal":
            _, i1, _, j1, _ = merged[-1]
            merged[-1] = ("equal", i1, op[2], j1, op[4])
        else:
            merged.append(op)
    return merged


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


def file_diff(path: str, before: str | None, after: str | None) -> str:
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
    for group in _grouped(_opcodes(a_lines, b_lines)):
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
