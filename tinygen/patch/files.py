"""One function per kind of file section: create, update (modify in place), delete,
rename, and the refusal of a section whose file is missing.

Each takes a resolved :class:`~tinygen.patch.paths.Section`, changes :class:`Texts` when it
succeeds, and records its hunk reports, failures and fitting hunks in an :class:`Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinygen.patch.hunks import apply_hunks, nul_reason
from tinygen.patch.model import (
    FileLine,
    FilePatch,
    Hunk,
    HunkFailure,
    HunkReport,
    join_lines,
    split_lines,
)
from tinygen.patch.paths import Section, Texts


@dataclass
class Outcome:
    """What the sections so far gave: reports of placed hunks, failures, and per file
    section the numbers of its hunks that fit (named in the feedback of a refusal)."""

    report: list[HunkReport] = field(default_factory=list)
    failures: list[HunkFailure] = field(default_factory=list)
    fitted: list[tuple[str, list[int]]] = field(default_factory=list)

    def fail(self, path: str, fp: FilePatch, reason: str, *, last: bool = False) -> None:
        """A failure of the whole section, shown on its first (or ``last``) hunk."""
        first = fp.first_hunk
        no, hunk = (first + len(fp.hunks) - 1, fp.hunks[-1]) if last else (first, _first(fp))
        self.failures.append(HunkFailure.of(path, no, hunk, reason))

    def unfit(self, path: str) -> None:
        """The hunks of ``path``'s last section fit, but the section failed as a whole:
        they are not to be kept as they are."""
        for k in range(len(self.fitted) - 1, -1, -1):
            if self.fitted[k][0] == path:
                del self.fitted[k]
                return


def create_file(section: Section, texts: Texts, out: Outcome) -> None:
    """The file's text is the hunks' added lines; a file already there must have it."""
    name, fp = section.name, section.fp
    text = _new_text(fp)
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        out.fail(name, fp, nul_reason(name, line))
        return
    existing = texts.current(name)
    if existing is not None and existing != text:
        out.fail(
            name,
            fp,
            f"the diff creates {name}, which already exists with other content; "
            "send a diff against its current text instead.",
        )
        return
    texts.set(name, text)
    present = existing is not None
    out.report.append(
        HunkReport(name, 1, "already-present" if present else "created", "new-file", None)
    )


def other_file(section: Section, only: str, out: Outcome) -> None:
    """A section for a file other than ``only``, the one file the diff may change."""
    out.fail(
        section.name,
        section.fp,
        f"change only {only}; the diff also touches {section.name}. Leave {section.name} "
        "out of this diff.",
    )


def missing_file(section: Section, known: list[str], out: Outcome) -> None:
    """A section whose old file does not exist (``known``: the repository's files)."""
    assert section.old is not None
    out.fail(
        section.old,
        section.fp,
        f"{section.old} does not exist"
        + (f" (known files: {', '.join(known[:8])})" if known else "")
        + "; use the path of an existing file, or /dev/null as the old side to create one.",
    )


def modify_file(section: Section, texts: Texts, out: Outcome) -> str | None:
    """The old file's text with the hunks placed (None: a hunk failed). Changes nothing in
    ``texts``: the callers below say where the text goes."""
    old, fp = section.old, section.fp
    text = texts.current(old) if old is not None else None
    assert old is not None and text is not None
    edit = apply_hunks(old, text, fp)
    out.failures.extend(edit.failures)
    out.fitted.append((old, edit.fitted))
    if edit.text is None:
        return None
    out.report.extend(edit.report)
    return edit.text


def update_file(section: Section, texts: Texts, out: Outcome) -> None:
    """A file changed in place."""
    assert section.old is not None
    after = modify_file(section, texts, out)
    if after is not None:
        texts.set(section.old, after)


def delete_file(section: Section, texts: Texts, out: Outcome) -> None:
    """A deletion: its hunks (if any) must remove every line."""
    old, fp = section.old, section.fp
    assert old is not None
    after = modify_file(section, texts, out)
    if after is None:
        return
    if after.strip() and fp.hunks:
        out.fail(
            old,
            fp,
            f"the diff deletes {old}, but its hunks do not remove all of its "
            f"lines ({len(split_lines(after))} remain).",
            last=True,
        )
        return
    texts.set(old, None)
    out.report.append(HunkReport(old, 0, "deleted", "-", None))


def rename_file(section: Section, texts: Texts, out: Outcome) -> None:
    """A rename (with or without hunks) onto a path that is free."""
    old, new = section.old, section.new
    assert old is not None and new is not None
    after = modify_file(section, texts, out)
    if after is None:
        return
    if texts.current(new) is not None:
        out.unfit(old)
        out.fail(new, section.fp, f"the diff renames {old} to {new}, which already exists.")
        return
    texts.set(old, None)
    texts.set(new, after)
    out.report.append(HunkReport(new, 0, "renamed", "-", None))


def _first(fp: FilePatch) -> Hunk:
    return fp.hunks[0] if fp.hunks else Hunk(())


def _new_text(fp: FilePatch) -> str:
    lines: list[FileLine] = []
    for hunk in fp.hunks:
        for ln in hunk.lines:
            if ln.op == "+" and not ln.optional:
                lines.append(FileLine(ln.text, ln.eol if fp.eol_from_diff else (ln.eol and "\n")))
    out = [FileLine(c, e or "\n") for c, e in lines[:-1]] + lines[-1:]
    return join_lines(out)


__all__ = [
    "Outcome",
    "create_file",
    "delete_file",
    "missing_file",
    "modify_file",
    "other_file",
    "rename_file",
    "update_file",
]
