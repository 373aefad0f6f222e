"""The ways LLM-written diffs are wrong, as functions on a canonical diff.

Used by the property tests and the benchmark to check that the engine gives the intended
result or refuses, never a wrong result. Deterministic for a given ``seed``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


def _map_lines(diff: str, fn: Callable[[str, bool], str]) -> str:
    """Apply ``fn(line, in_hunk)`` to every line (without its newline)."""
    out = []
    in_hunk = False
    for line in diff.split("\n"):
        if line.startswith("@@"):
            in_hunk = True
        elif line.startswith("diff --git "):
            in_hunk = False
        out.append(fn(line, in_hunk and not line.startswith("@@")))
    return "\n".join(out)


def strip_numbers(diff: str, seed: int = 0) -> str:
    return re.sub(r"(?m)^@@ .*? @@", "@@ ... @@", diff)


def wrong_numbers(diff: str, seed: int = 0) -> str:
    """Every hunk's starts moved, old and new by different amounts (as models do)."""
    rng = random.Random(seed)

    def fix(m: re.Match[str]) -> str:
        k = rng.choice([-7, -3, -2, -1, 1, 2, 3, 5, 11])
        k2 = rng.choice([d for d in (-4, -1, 1, 2, 6) if d != k])
        o, ol, n, nl, rest = m.groups()
        o2, n2 = max(1, int(o) + k), max(1, int(n) + k2)
        return f"@@ -{o2}{',' + ol if ol else ''} +{n2}{',' + nl if nl else ''} @@{rest}"

    return re.sub(r"(?m)^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$", fix, diff)


def shifted_numbers(diff: str, seed: int = 0) -> str:
    """Every hunk's starts moved by the same amount, old and new alike: numbers that are
    consistent with each other but wrong (the usual model output)."""
    k = random.Random(seed).choice([-7, -5, -3, -2, -1, 1, 2, 3, 5, 11])

    def fix(m: re.Match[str]) -> str:
        o, ol, n, nl, rest = m.groups()
        o2, n2 = max(1, int(o) + k), max(1, int(n) + k)
        return f"@@ -{o2}{',' + ol if ol else ''} +{n2}{',' + nl if nl else ''} @@{rest}"

    return re.sub(r"(?m)^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$", fix, diff)


def misquoted_line(diff: str, seed: int = 0) -> str:
    """One non-blank context or removed line quoted wrongly (a typo: a character changed,
    added or dropped), as a model misremembering the file does."""
    rng = random.Random(seed)
    lines = diff.split("\n")
    in_hunk = False
    candidates = []
    for k, ln in enumerate(lines):
        if ln.startswith("@@"):
            in_hunk = True
        elif ln.startswith("diff --git "):
            in_hunk = False
        elif in_hunk and ln[:1] in (" ", "-") and ln[1:].strip("\r").strip():
            candidates.append(k)
    if not candidates:
        return diff
    k = rng.choice(candidates)
    text = lines[k][1:]
    cr = "\r" if text.endswith("\r") else ""
    text = text[: len(text) - len(cr)]
    body = text.strip()
    at = text.index(body) + rng.randrange(len(body))
    how = rng.choice(["change", "add", "drop"])
    if how == "drop" and len(body) > 1:
        text = text[:at] + text[at + 1 :]
    elif how == "add":
        text = text[:at] + "q" + text[at:]
    else:
        text = text[:at] + ("z" if text[at] != "z" else "y") + text[at + 1 :]
    lines[k] = lines[k][0] + text + cr
    return "\n".join(lines)


def search_replace(diff: str, seed: int = 0) -> str:
    """Each hunk as an aider-style SEARCH/REPLACE block (path line, SEARCH text, '=======',
    REPLACE text). Diffs that SEARCH/REPLACE cannot express (a missing final newline, file
    headers only) are returned unchanged."""
    if "\\ No newline" in diff:
        return diff
    out: list[str] = []
    path = None
    block: list[str] | None = None

    def flush() -> None:
        if block is not None and path is not None:
            search = [b[1:] for b in block if b[:1] in (" ", "-")]
            replace = [b[1:] for b in block if b[:1] in (" ", "+")]
            out.extend([path, "<<<<<<< SEARCH", *search, "=======", *replace, ">>>>>>> REPLACE"])

    for ln in diff.split("\n"):
        if ln.startswith("+++ "):
            flush()
            block = None
            path = ln[4:].split("\t")[0]
            path = path[2:] if path.startswith("b/") else path
        elif ln.startswith("@@"):
            flush()
            block = []
        elif block is not None and ln[:1] in (" ", "-", "+"):
            block.append(ln)
    flush()
    return "\n".join(out) + "\n" if out else diff


def wrong_counts(diff: str, seed: int = 0) -> str:
    rng = random.Random(seed)

    def fix(m: re.Match[str]) -> str:
        o, ol, n, nl, rest = m.groups()
        a = max(0, int(ol or 1) + rng.choice([-2, -1, 1, 3]))
        b = max(0, int(nl or 1) + rng.choice([-1, 1, 2]))
        return f"@@ -{o},{a} +{n},{b} @@{rest}"

    return re.sub(r"(?m)^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$", fix, diff)


def blank_context_no_space(diff: str, seed: int = 0) -> str:
    return _map_lines(diff, lambda ln, h: "" if h and ln == " " else ln)


def trailing_whitespace(diff: str, seed: int = 0) -> str:
    """Trailing spaces added to context and removed lines (the before-text)."""
    rng = random.Random(seed)

    def fix(ln: str, h: bool) -> str:
        if h and ln[:1] in (" ", "-") and rng.random() < 0.6:
            return ln + rng.choice([" ", "  ", "\t", "   "])
        return ln

    return _map_lines(diff, fix)


def less_indentation(diff: str, seed: int = 0) -> str:
    """Each hunk with before-text quoted with its common indentation removed (blank lines
    left alone)."""
    lines = diff.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        out.append(lines[i])
        if not lines[i].startswith("@@"):
            i += 1
            continue
        j = i + 1
        # A bare empty line is a blank context line that lost its space (blank-no-space
        # may come first): the hunk goes on past it, and so does the de-indenting.
        while j < len(lines) and (lines[j][:1] in (" ", "-", "+", "\\") or not lines[j]):
            j += 1
        body = lines[i + 1 : j]
        texts = [b[1:] for b in body if b[:1] in " -+" and b[1:].strip()]
        # Only hunks with before-text to re-align against (a pure addition has nothing).
        has_old = any(b[:1] in " -" and b[1:].strip() for b in body)
        common = _common_indent(texts) if has_old else ""
        for b in body:
            if b[:1] in " -+" and b[1:].strip() and common:
                out.append(b[0] + b[1 + len(common) :])
            else:
                out.append(b)
        i = j
    return "\n".join(out)


def _common_indent(texts: list[str]) -> str:
    if not texts:
        return ""
    ind = [t[: len(t) - len(t.lstrip())] for t in texts]
    first = ind[0]
    k = 0
    while k < len(first) and all(len(x) > k and x[k] == first[k] for x in ind):
        k += 1
    return first[:k]


def fences_and_prose(diff: str, seed: int = 0) -> str:
    return (
        "Sure! Here is the change you asked for:\n\n```diff\n"
        + diff
        + ("" if diff.endswith("\n") else "\n")
        + "```\n\nThis should fix the problem. Let me know if anything else is needed.\n"
    )


def no_prefixes(diff: str, seed: int = 0) -> str:
    """No ``diff --git`` lines, and ---/+++ paths without a/ b/."""
    out = []
    for ln in diff.split("\n"):
        if ln.startswith("diff --git ") or ln.startswith(("new file mode", "deleted file mode")):
            continue
        if ln.startswith(("--- a/", "+++ b/")):
            ln = ln[:4] + ln[6:]
        out.append(ln)
    return "\n".join(out)


def crlf(diff: str, seed: int = 0) -> str:
    return diff.replace("\n", "\r\n")


def none(diff: str, seed: int = 0) -> str:
    return diff


# Stackable on one another in any order before the format changes (fences, CRLF) last.
_STACKABLE = [
    "strip-numbers",
    "wrong-numbers",
    "shifted-numbers",
    "wrong-counts",
    "blank-no-space",
    "trailing-ws",
    "less-indent",
    "no-prefixes",
]


def stacked(diff: str, seed: int = 0) -> str:
    """Two or three corruptions at once (chosen by ``seed``), then possibly fences and
    prose and CRLF, as a careless model makes several mistakes in one diff."""
    rng = random.Random(seed)
    kinds = rng.sample(_STACKABLE, rng.choice([2, 3]))
    for kind in kinds:
        diff = CORRUPTIONS[kind](diff, seed)
    if rng.random() < 0.5:
        diff = fences_and_prose(diff, seed)
    if rng.random() < 0.3:
        diff = crlf(diff, seed)
    return diff


CORRUPTIONS: dict[str, Callable[[str, int], str]] = {
    "none": none,
    "strip-numbers": strip_numbers,
    "wrong-numbers": wrong_numbers,
    "wrong-counts": wrong_counts,
    "blank-no-space": blank_context_no_space,
    "trailing-ws": trailing_whitespace,
    "less-indent": less_indentation,
    "fences-prose": fences_and_prose,
    "no-prefixes": no_prefixes,
    "crlf": crlf,
    "shifted-numbers": shifted_numbers,
    "misquoted-line": misquoted_line,
    "search-replace": search_replace,
    "stacked": stacked,
}

__all__ = ["CORRUPTIONS"]
