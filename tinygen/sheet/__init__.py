"""The reference sheet: a per-file map of the repository built with tree-sitter.

``build_sheet`` walks the files git knows, extracts definitions and imports (cached by
blob SHA), ranks files against the request, and ``render_sheet`` prints it within a
token budget. Importing this package loads no tree-sitter; building a sheet does.
"""

from tinygen.sheet.build import build_sheet
from tinygen.sheet.cache import SheetCacheWarning
from tinygen.sheet.model import FileEntry, Sheet, SheetStats, Symbol
from tinygen.sheet.render import estimate_tokens, render_sheet

__all__ = [
    "FileEntry",
    "Sheet",
    "SheetCacheWarning",
    "SheetStats",
    "Symbol",
    "build_sheet",
    "estimate_tokens",
    "render_sheet",
]
