"""The patch engine: parse loose diffs, place hunks by content (or refuse), canonical diffs.

Pure functions on text; no I/O. See ``parse``, ``place``, ``apply`` and ``canonical``.
"""

from tinygen.patch.apply import apply_patch
from tinygen.patch.canonical import canonical_diff
from tinygen.patch.model import FilePatch, Hunk, HunkReport, Line, PatchResult
from tinygen.patch.parse import parse_patch

__all__ = [
    "FilePatch",
    "Hunk",
    "HunkReport",
    "Line",
    "PatchResult",
    "apply_patch",
    "canonical_diff",
    "parse_patch",
]
