"""Plain-data shapes the extractors return (picklable, cacheable) and small text helpers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import NamedTuple

# (name, kind, line, end_line, signature, parent, doc, decorators) — the fields of Symbol.
SymbolTuple = tuple[str, str, int, int, str, str, str, tuple[str, ...]]
# An import as written: (module, imported names). Python: ("..utils", ("a", "b")),
# ("os.path", ()); JS/TS: ("./foo", ()); Go: ("fmt", ()); Rust: ("crate::a::b", ()).
Imp = tuple[str, tuple[str, ...]]


# Kinds whose names link files in the rank graph (a method name is too generic to).
LINKING_KINDS = frozenset(
    {
        "class",
        "function",
        "constant",
        "struct",
        "interface",
        "enum",
        "type",
        "trait",
        "union",
        "macro",
    }
)


def linking_names(symbols: Iterable[SymbolTuple]) -> str:
    """Distinct names of the linking definitions, in order, space-separated (cacheable)."""
    return " ".join(dict.fromkeys(s[0] for s in symbols if s[1] in LINKING_KINDS))


class Extracted(NamedTuple):
    doc: str
    imports: tuple[Imp, ...]
    symbols: tuple[SymbolTuple, ...]
    flags: tuple[str, ...]


_SPACES = re.compile(r"\s+")
_STRING_PREFIX = re.compile(r"^[rRbBuUfF]{0,2}('''|\"\"\"|'|\"|`)")


@cache
def _literals(quotes: str) -> re.Pattern[str]:
    """String literals delimited by any of ``quotes`` (triple-quoted forms included),
    as one capturing group, for re.split."""
    alts = []
    for q in quotes:
        e = re.escape(q)
        if q in "\"'":
            alts.append(f"{e}{e}{e}(?:[^\\\\]|\\\\.)*?{e}{e}{e}")
        alts.append(f"{e}(?:[^{e}\\\\\\n]|\\\\.)*{e}")
    return re.compile("(" + "|".join(alts) + ")", re.DOTALL)


# A comma that ends its line before a closing bracket: the trailing comma of a header
# written one parameter a line, which has no place once the header is one line.
_LINE_END_COMMA = re.compile(r",[ \t]*\r?\n\s*(?=[)\]}>])")


def _squeeze(code: str) -> str:
    if "\n" in code or "  " in code or "\t" in code or "\r" in code:  # most are one line
        code = _SPACES.sub(" ", _LINE_END_COMMA.sub("", code))
    return code.replace("( ", "(").replace(" )", ")")


def one_line(text: str, quotes: str = '"') -> str:
    """Collapse a multi-line header to one line, without the space after '(' or before
    ')' or the trailing comma of a bracket closed on a later line, outside string literals (delimited by ``quotes``) only: a default value
    ``"( x )"`` stays as written (a line break inside one is written ``\\n``)."""
    for q in quotes:
        if q in text:
            break
    else:
        return _squeeze(text).strip()
    parts = _literals(quotes).split(text)
    for k in range(0, len(parts), 2):
        parts[k] = _squeeze(parts[k])
    for k in range(1, len(parts), 2):
        if "\n" in parts[k]:
            parts[k] = parts[k].replace("\r\n", "\n").replace("\n", "\\n")
    return "".join(parts).strip()


def string_doc(literal: str) -> str:
    """The first non-empty line inside a string literal (quotes and prefix removed)."""
    m = _STRING_PREFIX.match(literal)
    if m:
        quote = m.group(1)
        body = literal[m.end() :]
        if body.endswith(quote):
            body = body[: -len(quote)]
    else:
        body = literal
    for line in body.splitlines():
        line = line.strip()
        if line:
            return line[:160]
    return ""


def comment_doc(text: str) -> str:
    """The first line of a comment block (``//``, ``///``, ``/** */``, ``#``)."""
    for line in text.splitlines():
        line = line.strip().lstrip("/*#!").strip()
        line = line.removesuffix("*/").strip()
        if line:
            return line[:160]
    return ""
