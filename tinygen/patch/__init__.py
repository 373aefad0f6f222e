"""The patch engine: parse loose diffs, place hunks by content (or refuse), canonical diffs.

Pure functions on text; no I/O. Modules, in the order a diff goes through them:

- ``parse``: loose diff -> :class:`FilePatch` sections of :class:`Hunk` objects;
- ``apply``: the sequencing of :func:`apply_patch`, one section after another;
- ``paths``: which repository file each section names (prefixes, partial paths);
- ``files``: one function per kind of section (create, update, delete, rename);
- ``hunks``: every hunk of one file placed, checked for overlaps and spliced in;
- ``place``: where one hunk's before-text is (by content) and its replacement there;
- ``resend``: hunks that are already applied (a diff sent twice);
- ``feedback``: closest lines and the text of a refusal, from typed failures;
- ``canonical``: the git-style diff of before/after texts.
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
