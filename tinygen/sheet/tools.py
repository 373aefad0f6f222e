"""Lookups a model may make while planning: search, outline, read — over the sheet.

Each returns plain text for the model and never more than ``max_chars``: the caller (the
brainstorm pass) bounds how many it runs. Files are read through ``reader`` (the pass's
symlink-safe reader), so nothing here touches the file system itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tinygen.sheet.index import build_index
from tinygen.sheet.lines import symbol_lines
from tinygen.sheet.model import Sheet, Symbol
from tinygen.sheet.rank import rank
from tinygen.sheet.words import word_parts

Reader = Callable[[str], str | None]
SEARCH_FILES = 8  # files a search returns
LINES_PER_FILE = 4  # matching lines shown per file
MAX_LINE = 160  # characters of one matching line
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[:max_chars] + f"\n[... cut at {max_chars} characters ...]\n"


def search(sheet: Sheet, query: str, reader: Reader, max_chars: int = 4000) -> str:
    """The files that rank best for ``query`` (the sheet's own ranking, over the same
    index), each with its first lines that contain the query's words."""
    if not query.strip():
        return "search: the query is empty."
    files = sorted(sheet.files, key=lambda f: f.path)
    index = sheet.index if sheet.index is not None else build_index(files, "")
    by_path = {f.path: f for f in files}
    result = rank(index, query, summaries=sheet.summaries or None)
    terms = set(word_parts(query))
    out: list[str] = []
    for d in result.order:
        if len(out) >= SEARCH_FILES or result.scores[d] <= 0.02:
            break
        path = index.paths[d]
        entry = by_path.get(path)
        text = reader(path) if entry is not None else None
        if text is None:
            continue
        hits = []
        for number, line in enumerate(text.splitlines(), 1):
            if terms and not terms.isdisjoint(word_parts(line)):
                hits.append(f"  {number}: {line.strip()[:MAX_LINE]}")
                if len(hits) >= LINES_PER_FILE:
                    break
        out.append(f"{path} ({entry.lines if entry else '?'} lines)\n" + "\n".join(hits))
    if not out:
        return f"search {query!r}: no file matches."
    return _cut(f"search {query!r}:\n" + "\n".join(out) + "\n", max_chars)


def outline(sheet: Sheet, path: str, max_chars: int = 6000) -> str:
    """A file's symbols with their signatures and line spans."""
    entry = sheet.by_path().get(path)
    if entry is None:
        return f"outline: {path!r} is not a file of the repository's sheet."
    if not entry.symbols:
        return (
            f"outline {path}: no symbols ({entry.language or 'not parsed'}, {entry.lines} lines)."
        )
    body = symbol_lines(entry.symbols)
    return _cut(f"outline {path} ({entry.lines} lines):\n{body}", max_chars)


def _find_symbol(symbols: tuple[Symbol, ...], name: str) -> Symbol | None:
    """``name`` as ``Class.method``, ``method`` or ``function``: the first match."""
    for s in symbols:
        full = f"{s.parent}.{s.name}" if s.parent else s.name
        if name in (full, s.name):
            return s
    return None


def read(sheet: Sheet, path: str, reader: Reader, symbol: str = "", max_chars: int = 12000) -> str:
    """A file's text with line numbers, or only one symbol's lines."""
    text = reader(path)
    if text is None:
        return f"read: {path!r} is not a readable file of the repository."
    lines = text.splitlines()
    first, last = 1, len(lines)
    if symbol:
        entry = sheet.by_path().get(path)
        found = _find_symbol(entry.symbols, symbol) if entry is not None else None
        if found is None:
            return f"read: {path} has no symbol {symbol!r}; ask for its outline."
        first, last = found.line, found.end_line
        while first > 1 and lines[first - 2].lstrip().startswith("@"):
            first -= 1  # its decorators
    width = len(str(last))
    body = "\n".join(f"{i:>{width}}| {lines[i - 1]}" for i in range(first, last + 1))
    where = f"{path} lines {first}-{last}" if symbol else path
    return _cut(f"read {where}:\n{body}\n", max_chars)


__all__ = ["outline", "read", "search"]
