"""Apply a parsed loose diff to file texts: every hunk placed exactly, or PatchApplyError.

The sequencing only: each file section of the diff, in order, has its paths resolved
(``paths``) and goes to the function for its kind (``files``); a failure anywhere means no
result at all, with feedback rendered from the typed failures (``feedback``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from tinygen.errors import PatchApplyError
from tinygen.patch.feedback import render_feedback
from tinygen.patch.files import (
    Outcome,
    create_file,
    delete_file,
    missing_file,
    other_file,
    rename_file,
    update_file,
)
from tinygen.patch.model import PatchResult
from tinygen.patch.parse import parse_patch
from tinygen.patch.paths import Paths, Texts, resolve_section


def apply_patch(
    files: Mapping[str, str],
    loose_diff: str,
    *,
    known_paths: Collection[str] | None = None,
    only: str | None = None,
) -> PatchResult:
    """Apply ``loose_diff`` to ``files`` (current texts by repository path; a missing key
    means the file does not exist). Returns the before/after texts of the touched files;
    raises PatchParseError or PatchApplyError (with typed failures, and feedback for a
    model) otherwise. With ``only``, a section for any other file is such a failure ("change
    only X; the diff also touches Y").

    Hunks are numbered per file across the whole diff: a file's second section goes on
    from the number its first ended with."""
    paths = Paths(files, known_paths)
    texts = Texts(files)
    out = Outcome()
    counted: dict[str, int] = {}  # hunks numbered so far, per file
    for fp in parse_patch(loose_diff, known_paths=paths.known()):
        section = resolve_section(fp, paths, texts)
        name = section.old or section.name
        section.fp.first_hunk = max(section.fp.first_hunk, counted.get(name, 0) + 1)
        counted[name] = section.fp.first_hunk + len(section.fp.hunks) - 1
        if only is not None and name != only and section.name != only:
            other_file(section, only, out)
        elif section.old is None:
            create_file(section, texts, out)
        elif texts.current(section.old) is None:
            missing_file(section, paths.known(), out)
        elif section.new is None:
            delete_file(section, texts, out)
        elif section.new != section.old:
            rename_file(section, texts, out)
        else:
            update_file(section, texts, out)
    if out.failures:
        raise PatchApplyError(
            f"{len(out.failures)} hunk(s) could not be placed exactly; nothing was changed",
            feedback=render_feedback(out.failures, out.fitted),
            hint="fix the hunks named in the feedback and send the whole diff again",
            failures=tuple(out.failures),
        )
    before, after = texts.changes()
    return PatchResult(before=before, after=after, report=out.report)


__all__ = ["apply_patch"]
