"""How one file's symbols print in full detail.

Shared by the scan, which renders this text once per blob so the cache can hold it (a
warm `tinygen map` then prints cached text instead of rebuilding tens of thousands of
symbols), and by the render, for entries that carry symbols without cached text.
"""

from __future__ import annotations

from collections.abc import Iterable

from tinygen.sheet.extract_common import SymbolTuple

# Bump when the text below changes: it is cached, so the cache is rebuilt.
LINES_VERSION = 1

_INDENTS = ["  " * k for k in range(12)]


def indent(parent: str) -> str:
    """Top-level symbols one step in; methods two; one more per level of nesting."""
    depth = 2 + parent.count(".") if parent else 1
    return _INDENTS[depth] if depth < len(_INDENTS) else "  " * depth


def symbol_lines(symbols: Iterable[SymbolTuple]) -> str:
    """Decorators, then ``signature  L<start>[-<end>]  # <doc>``, one symbol per line."""
    out: list[str] = []
    for _name, _kind, line, end_line, sig, parent, doc, decorators in symbols:
        ind = _INDENTS[1] if not parent else indent(parent)
        for d in decorators:
            out.append(f"{ind}{d}\n")
        span = f"L{line}" if end_line == line else f"L{line}-{end_line}"
        out.append(f"{ind}{sig}  {span}  # {doc}\n" if doc else f"{ind}{sig}  {span}\n")
    return "".join(out)
