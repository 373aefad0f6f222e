"""Place every hunk of one file, or say why not: the modify step of every case.

Every hunk of a file is placed against the file as it was before the diff (hunks do not
see each other's edits), then the placements are checked for overlaps and spliced in.

Line numbers from ``@@`` headers only choose among places that fit equally (see ``hints``).

A hunk with no before-lines (a pure addition) is placed only in an empty or new file: with
no context there is nothing to check a position against.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from dataclasses import dataclass

from tinygen.patch.feedback import CLOSEST_PER_FILE, closest_lines
from tinygen.patch.hints import by_hint, numbers_trusted
from tinygen.patch.model import (
    ClosestLines,
    FileLine,
    FilePatch,
    Hunk,
    HunkFailure,
    HunkReport,
    Line,
    join_lines,
    split_lines,
)
from tinygen.patch.numbers import looks_numbered, without_numbers
from tinygen.patch.place import Application, FileIndex, Placements, Refusal, locate
from tinygen.patch.resend import (
    already_present,
    exact_matches,
    keys,
    near_fits,
    resent,
    undecidable,
)

BOM = "\ufeff"


def nul_reason(path: str, line: int) -> str:
    """Why a change that writes a NUL byte into the text file ``path`` is refused."""
    return (
        f"its added line {line} holds a NUL byte (\\x00), which would make {path} a binary "
        "file; remove it (to mean a NUL character in code, write an escape such as \\0)."
    )


@dataclass
class FileEdit:
    """What placing one file's hunks gave: the new text (None when a hunk failed), a
    report per placed hunk, the failures, and the numbers of the hunks that fit."""

    text: str | None
    report: list[HunkReport]
    failures: list[HunkFailure]
    fitted: list[int]


def apply_hunks(path: str, text: str, fp: FilePatch) -> FileEdit:
    """Place all of ``fp``'s hunks in ``text`` (the file at ``path``)."""
    if not fp.hunks:
        return FileEdit(text, [], [], [])
    return _Hunks(path, text, fp).run()


class _Hunks:
    def __init__(self, path: str, text: str, fp: FilePatch) -> None:
        self.path = path
        # A UTF-8 byte-order mark belongs to the file, not to its first line: matched
        # without it, written back unless the diff removes it.
        self.bom = text.startswith(BOM)
        self.keep_bom = self.bom
        self.drops_bom: set[int] = set()  # hunks whose first before-line has it, after-line not
        self.lines = split_lines(text[1:] if self.bom else text)
        self.index = FileIndex(self.lines)
        self.fp = fp
        self.failures: list[HunkFailure] = []
        self.fitted: list[int] = []
        self.report: list[HunkReport] = []
        self.searched = 0  # failed hunks given closest lines so far
        self.renumbered: set[int] = set()  # hunks read without a view's line-number prefixes
        self.has_nul = any("\0" in ln.content for ln in self.lines)

    def run(self) -> FileEdit:
        numbered = [(no, h) for no, h in self._readings() if not self._adds_nul(no, h)]
        placed = [self._place(h) for _, h in numbered]
        trusted = not self.failures and numbers_trusted([h for _, h in numbered], placed)
        chosen: list[tuple[int, Hunk, Application]] = []
        for (no, hunk), apps in zip(numbered, placed, strict=True):
            app = self._choose(no, hunk, apps, trusted)
            if app is not None:
                chosen.append((no, hunk, app))
        chosen.sort(key=lambda c: (c[2].start, c[2].end))
        self._refuse_overlaps(chosen)
        if self.failures:
            return FileEdit(None, self.report, self.failures, self.fitted)
        text = (BOM if self.keep_bom else "") + self._splice([c[2] for c in chosen])
        return FileEdit(text, self.report, self.failures, self.fitted)

    def fail(self, no: int, hunk: Hunk, reason: str, with_closest: bool = False) -> None:
        closest = None
        if with_closest and self.searched >= CLOSEST_PER_FILE:
            closest = ClosestLines("skipped")
        elif with_closest:
            self.searched += 1
            wanted = [ln.text for ln in hunk.old_lines if not ln.optional]
            closest = closest_lines(self.lines, wanted, self.index)
        failure = HunkFailure.of(self.path, no, hunk, reason, closest, self.bom)
        if no in self.renumbered or looks_numbered(hunk):
            failure = dataclasses.replace(failure, numbered=True)
        self.failures.append(failure)

    def _adds_nul(self, no: int, hunk: Hunk) -> bool:
        """A hunk that would put a NUL byte into a text file is refused (failure recorded):
        it would make the file binary. A file that already holds NUL bytes may get more."""
        if self.has_nul:
            return False
        added = [ln for ln in hunk.lines if ln.op == "+" and not ln.optional]
        k = next((k for k, ln in enumerate(added, 1) if "\0" in ln.text), None)
        if k is None:
            return False
        self.fail(no, hunk, nul_reason(self.path, k))
        return True

    # --- which reading of each hunk -----------------------------------------------------

    def _readings(self) -> list[tuple[int, Hunk]]:
        fp = self.fp
        numbered: list[tuple[int, Hunk]] = []
        for no, hunk in enumerate(fp.hunks, start=fp.first_hunk):
            reading = self._reading(no, hunk)
            if reading is not None:
                numbered.append((no, reading))
        return numbered

    def _reading(self, no: int, hunk: Hunk) -> Hunk | None:
        """The reading of an ambiguous hunk to use (None: refused, failure recorded)."""
        plain = without_numbers(hunk)
        if plain is not None and not self._fits(self._unbom(no, hunk, False)):
            # the view's "12| " prefixes copied into the diff: read without them
            self.renumbered.add(no)
            hunk = plain
        if hunk.alternatives:
            readings = [self._unbom(no, h, False) for h in hunk.alternatives]
            fitting = [k for k, h in enumerate(readings) if self._fits(h)]
            # The one reading that fits is used only if it searches for something, and no
            # other reading nearly fits (all but one line): that one may be the intended
            # reading with a misquoted line, and the fitting one a coincidence.
            if len(fitting) == 1 and not any(
                self._plausible(h) for k, h in enumerate(readings) if k != fitting[0]
            ):
                chosen = readings[fitting[0]]
                if not chosen.old_lines or any(ln.text.strip() for ln in chosen.old_lines):
                    return self._unbom(no, hunk.alternatives[fitting[0]])
            if fitting:
                self.fail(
                    no,
                    hunk,
                    f"the block has {len(hunk.alternatives)} '=======' lines, so it can be "
                    "split into SEARCH and REPLACE in several ways, and more than one of them "
                    "fits the file (or nearly fits); send this change as a unified diff instead.",
                )
                return None
        shorter = hunk.shorter
        if (
            shorter is not None
            and not self._fits(self._unbom(no, hunk, False))
            and self._fits(self._unbom(no, shorter, False))
        ):
            return self._unbom(no, shorter)
        return self._unbom(no, hunk)

    def _fits(self, hunk: Hunk) -> bool:
        if not hunk.old_lines:
            return not self.lines and any(ln.op == "+" for ln in hunk.lines)
        apps = self._place(hunk)
        if len(apps) == 1 and isinstance(apps[0], Application):
            return True
        return len(apps) <= 1 and already_present(self.index, hunk) is not None

    def _plausible(self, hunk: Hunk) -> bool:
        """A reading that does not fit might still be the intended one: it searches for
        nothing (or only blank lines), nearly fits, or is already done."""
        if not keys(hunk) or near_fits(self.index, keys(hunk)):
            return True
        return bool(
            exact_matches(self.index, [ln for ln in hunk.lines if ln.new and not ln.optional])
        )

    def _unbom(self, no: int, hunk: Hunk, record: bool = True) -> Hunk:
        if not self.bom:
            return hunk
        if record and _drops_bom(hunk):
            self.drops_bom.add(no)
        return _without_bom(hunk)

    # --- where each hunk goes -----------------------------------------------------------

    def _place(self, hunk: Hunk) -> Placements:
        index = self.index
        if not hunk.old_lines:
            return Placements.of(index, hunk, [])
        anchors = locate(index, hunk)
        if hunk.old_lines[-1].eol != "":
            return Placements(index, hunk, self.fp.eol_from_diff, anchors)
        # "\ No newline" on the before-side: the hunk ends at the end of a file that has
        # no final newline, nowhere else.
        if not self.lines or self.lines[-1].eol:
            return Placements.of(index, hunk, [])
        apps = Placements(index, hunk, self.fp.eol_from_diff, anchors)
        ending = [apps[k] for k in _may_end_the_file(index, hunk, anchors)]
        n = len(self.lines)
        return Placements.of(
            index, hunk, [a for a in ending if isinstance(a, Application) and a.end == n]
        )

    def _choose(self, no: int, hunk: Hunk, apps: Placements, trusted: bool) -> Application | None:
        """The placement of one hunk to splice in; None when it is refused (failure
        recorded) or already present (reported)."""
        if not hunk.old_lines:
            return self._pure_addition(no, hunk)
        app: Application | Refusal | None = apps[0] if len(apps) == 1 else None
        via_hint = False
        if len(apps) > 1 and trusted and hunk.old_start is not None:
            app = by_hint(hunk, apps, len(self.lines))
            via_hint = app is not None
        if len(apps) > 1 and not via_hint:
            where = ", ".join(str(a.start + 1) for a in apps.first(10))
            self.fail(
                no,
                hunk,
                f"its before-text fits in {len(apps)} places (lines {where}); "
                "add context lines that occur only at the intended place.",
            )
            return None
        if not isinstance(app, Application):
            self._unplaced(no, hunk, app)
            return None
        if resent(self.index, hunk, app):
            self._present(no, app.start)
            return None
        if undecidable(self.index, hunk, app):
            self.fail(
                no,
                hunk,
                f"its before-text is only blank lines, and at line {app.start + 1} the file "
                "holds both it and its after-text, so whether the change is already made "
                "cannot be told; add a non-blank context line on each side of the change.",
            )
            return None
        self.fitted.append(no)
        self.report.append(
            HunkReport(
                self.path,
                no,
                "applied",
                app.strategy,
                app.start + 1,
                via_hint,
                numbers_removed=no in self.renumbered,
            )
        )
        if app.start == 0 and no in self.drops_bom:
            self.keep_bom = False
        return app

    def _pure_addition(self, no: int, hunk: Hunk) -> Application | None:
        if self.lines:
            self.fail(
                no,
                hunk,
                f"it only adds lines, with no context, to the non-empty file {self.path}; "
                "include two or three unchanged lines around the insertion point.",
            )
            return None
        self.report.append(HunkReport(self.path, no, "applied", "new-text", 1))
        self.fitted.append(no)
        return _build_pure_addition(hunk, self.fp.eol_from_diff, self.index)

    def _unplaced(self, no: int, hunk: Hunk, refusal: Refusal | None) -> None:
        """A hunk with no placement (or one that fits where it cannot apply): already
        present, or a failure."""
        present = already_present(self.index, hunk)
        if present is not None:
            self._present(no, present)
        elif refusal is not None:
            self.fail(no, hunk, f"it fits at line {refusal.start + 1}, but {refusal.reason}.")
        else:
            self.fail(
                no,
                hunk,
                "its before-text (context and removed lines) is not in the file.",
                with_closest=True,
            )

    def _present(self, no: int, line: int) -> None:
        self.fitted.append(no)
        self.report.append(
            HunkReport(
                self.path,
                no,
                "already-present",
                "-",
                line + 1,
                numbers_removed=no in self.renumbered,
            )
        )

    def _refuse_overlaps(self, chosen: list[tuple[int, Hunk, Application]]) -> None:
        for (n1, _, a1), (n2, h2, a2) in itertools.pairwise(chosen):
            if a2.start < a1.end or (a2.start == a1.start and a2.end == a1.end):
                self.fitted.remove(n2)  # not "fits and needs no change" as well
                self.fail(
                    n2,
                    h2,
                    f"it overlaps hunk {n1} (lines {a1.start + 1}-{a1.end} and "
                    f"{a2.start + 1}-{a2.end}); merge the two hunks into one.",
                )

    # --- the new text -------------------------------------------------------------------

    def _splice(self, apps: list[Application]) -> str:
        out: list[FileLine] = []
        pos = 0
        n = len(self.lines)
        end_app: Application | None = None
        for app in apps:
            out.extend(self.lines[pos : app.start])
            out.extend(app.new_lines)
            pos = app.end
            if app.end >= n:
                end_app = app
        out.extend(self.lines[pos:])
        eol = self.index.eol
        out = [FileLine(c, e or eol) for c, e in out[:-1]] + out[-1:]
        if end_app is not None and out:
            if end_app.last_no_eol is None:
                no_eol = bool(self.lines) and self.lines[-1].eol == ""
            else:
                no_eol = end_app.last_no_eol
            c, e = out[-1]
            out[-1] = FileLine(c, "" if no_eol else (e or eol))
        elif out and out[-1].eol == "" and self.lines and self.lines[-1].eol:
            out[-1] = FileLine(out[-1].content, eol)
        return join_lines(out)


def _may_end_the_file(index: FileIndex, hunk: Hunk, anchors: list[int]) -> list[int]:
    """The positions in ``anchors`` of the only locations whose placement can end at the
    end of the file. Its non-blank before-lines fit consecutive non-blank lines of the
    file, and only blank lines can follow the last of them in a placement, so it must be
    the file's last non-blank line; a before-text of blank lines only is placed exactly,
    within its own length of the end."""
    keys = [ln.text for ln in hunk.lines if ln.old and not ln.optional and ln.text.strip()]
    if keys:
        if len(keys) > len(index.nb):
            return []
        wanted = index.nb[len(index.nb) - len(keys)]
        k = bisect.bisect_left(anchors, wanted)
        return [k] if k < len(anchors) and anchors[k] == wanted else []
    lo = len(index.lines) - len(hunk.old_lines)
    return list(range(bisect.bisect_left(anchors, lo), len(anchors)))


def _without_bom(hunk: Hunk) -> Hunk:
    """The hunk with a byte-order mark dropped from its first before- and after-line."""
    first_old = next((k for k, ln in enumerate(hunk.lines) if ln.old), -1)
    first_new = next((k for k, ln in enumerate(hunk.lines) if ln.new), -1)
    lines = list(hunk.lines)
    changed = False
    for k in {first_old, first_new} - {-1}:
        ln = lines[k]
        if ln.text.startswith(BOM):
            lines[k] = Line(ln.op, ln.text[1:], ln.eol, ln.optional)
            changed = True
    return dataclasses.replace(hunk, lines=tuple(lines)) if changed else hunk


def _drops_bom(hunk: Hunk) -> bool:
    """The hunk (as written, before :func:`_without_bom`) removes the byte-order mark."""
    old = next((ln for ln in hunk.lines if ln.old), None)
    new = next((ln for ln in hunk.lines if ln.new), None)
    return old is not None and old.text.startswith(BOM) and not (new and new.text.startswith(BOM))


def _build_pure_addition(hunk: Hunk, eol_from_diff: bool, index: FileIndex) -> Application:
    new = [ln for ln in hunk.lines if ln.op == "+" and not ln.optional]
    lines = tuple(
        FileLine(ln.text, ln.eol if eol_from_diff else (ln.eol and index.eol)) for ln in new
    )
    no_eol = bool(new) and new[-1].eol == ""
    return Application(
        0, 0, "new-text", lines, no_eol if any(ln.eol == "" for ln in new) else False
    )


__all__ = ["BOM", "FileEdit", "apply_hunks", "nul_reason"]
