"""Apply a parsed loose diff to file texts: all hunks placed exactly, or PatchApplyError.

Every hunk of a file is placed against the file as it was before the diff (hunks do not
see each other's edits), then the placements are checked for overlaps and spliced in.

Line numbers from ``@@`` headers are used only to choose among several locations that fit,
and only when they are *consistent*: every hunk of the file has full numbers, counts that
match its body and a new-start consistent with the hunks before it, and every hunk that
fits in one place only starts exactly where its numbers say. A diff whose numbers are wrong
anywhere gets no say at all. (The residual risk, stated plainly: numbers that are all
shifted by the same amount, consistently, onto a passage identical to the intended one
cannot be told from a correct diff for that other passage.)

A hunk with no before-lines (a pure addition) is placed only in an empty or new file: with
no context there is nothing to check a position against.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from tinygen.errors import PatchApplyError
from tinygen.patch.feedback import closest_lines, describe_hunk
from tinygen.patch.model import (
    FileLine,
    FilePatch,
    Hunk,
    HunkReport,
    PatchResult,
    join_lines,
    split_lines,
)
from tinygen.patch.parse import parse_patch
from tinygen.patch.place import Application, FileIndex, Refusal, build, locate


@dataclass
class _Failure:
    path: str
    hunk_no: int
    hunk: Hunk
    text: str
    closest: str = ""


def _strip_prefix(p: str) -> str:
    while p.startswith("./"):
        p = p[2:]
    return p


class _Paths:
    """Resolve the diff's paths against the repository's files."""

    def __init__(self, files: Mapping[str, str], known: Collection[str] | None) -> None:
        self.files = files
        self._known = known

    def exists(self, p: str, state: Mapping[str, str | None]) -> bool:
        if p in state:
            return state[p] is not None
        return p in self.files

    def known(self) -> list[str]:
        return sorted(self._known if self._known is not None else self.files.keys())

    def resolve(self, raw: str, prefixed: bool, state: Mapping[str, str | None]) -> str:
        raw = _strip_prefix(raw)
        stripped = raw[2:] if raw[:2] in ("a/", "b/") else raw
        order = [stripped, raw] if prefixed else [raw, stripped]
        for cand in order:
            if cand and self.exists(cand, state):
                return cand
        # A partial path naming one file only ("utils.py" for "src/pkg/utils.py").
        for cand in dict.fromkeys(order):
            matches = [k for k in self.known() if k.endswith("/" + cand)]
            if len(matches) == 1:
                return matches[0]
        return order[0]


def _numbers_trusted(hunks: list[Hunk], placed: list[list[Application | Refusal]]) -> bool:
    delta = 0
    for hunk, apps in zip(hunks, placed, strict=True):
        nums = (hunk.old_start, hunk.old_len, hunk.new_start, hunk.new_len)
        if None in nums:
            return False
        os_, ol, ns, nl = (int(x) for x in nums)  # type: ignore[arg-type]
        n_opt = sum(1 for ln in hunk.lines if ln.optional)
        n_old = sum(1 for ln in hunk.lines if ln.old and not ln.optional)
        n_new = sum(1 for ln in hunk.lines if ln.new and not ln.optional)
        if ol not in (n_old, n_old + n_opt) or nl - ol != n_new - n_old:
            return False
        o0 = os_ - 1 if ol else os_
        n0 = ns - 1 if nl else ns
        if n0 - o0 != delta:
            return False
        delta += nl - ol
        if len(apps) == 1 and apps[0].start != o0:
            return False
    return True


class _FileApplier:
    def __init__(self, path: str, text: str, fp: FilePatch) -> None:
        self.path = path
        self.lines = split_lines(text)
        self.index = FileIndex(self.lines)
        self.fp = fp
        self.failures: list[_Failure] = []
        self.fitted: list[int] = []
        self.report: list[HunkReport] = []

    def fail(self, no: int, hunk: Hunk, text: str) -> None:
        self.failures.append(_Failure(self.path, no, hunk, text))

    def run(self) -> str:
        fp, index = self.fp, self.index
        placed: list[list[Application | Refusal]] = []
        for hunk in fp.hunks:
            if not hunk.old_lines:
                placed.append([])
                continue
            apps = [build(index, hunk, a, fp.eol_from_diff) for a in locate(index, hunk)]
            # "\ No newline" on the before-side: the hunk ends at the end of the file.
            if hunk.old_lines[-1].eol == "" and len(apps) > 1:
                at_end = [a for a in apps if a.start + 0 >= 0 and _ends_at_eof(a, len(self.lines))]
                apps = at_end or apps
            placed.append(apps)
        trusted = _numbers_trusted(fp.hunks, placed)
        chosen: list[tuple[int, Hunk, Application]] = []
        for no, (hunk, apps) in enumerate(zip(fp.hunks, placed, strict=True), start=1):
            via_hint = False
            if not hunk.old_lines:
                if self.lines:
                    self.fail(no, hunk, _pure_addition_text(self.path))
                    continue
                app = build_pure_addition(hunk, fp.eol_from_diff, index)
                chosen.append((no, hunk, app))
                self.report.append(HunkReport(self.path, no, "applied", "new-text", 1))
                self.fitted.append(no)
                continue
            if len(apps) > 1 and trusted and hunk.old_start is not None:
                hinted = [a for a in apps if a.start == hunk.old_start - 1]
                if len(hinted) == 1:
                    apps, via_hint = hinted, True
            if len(apps) == 1:
                app0 = apps[0]
                if isinstance(app0, Refusal):
                    present = self._already_present(hunk)
                    if present is not None:
                        self.fitted.append(no)
                        self.report.append(
                            HunkReport(self.path, no, "already-present", "-", present + 1)
                        )
                    else:
                        self.fail(no, hunk, f"it fits at line {app0.start + 1}, but {app0.reason}.")
                    continue
                chosen.append((no, hunk, app0))
                self.fitted.append(no)
                self.report.append(
                    HunkReport(self.path, no, "applied", app0.strategy, app0.start + 1, via_hint)
                )
            elif len(apps) > 1:
                where = ", ".join(str(a.start + 1) for a in apps[:10])
                self.fail(
                    no,
                    hunk,
                    f"its before-text fits in {len(apps)} places (lines {where}); "
                    "add context lines that occur only at the intended place.",
                )
            else:
                present = self._already_present(hunk)
                if present is not None:
                    self.fitted.append(no)
                    self.report.append(
                        HunkReport(self.path, no, "already-present", "-", present + 1)
                    )
                else:
                    self.failures.append(
                        _Failure(self.path, no, hunk, self._not_found_text(), self._closest(hunk))
                    )
        chosen.sort(key=lambda c: (c[2].start, c[2].end))
        for (n1, _, a1), (n2, _, a2) in itertools.pairwise(chosen):
            if a2.start < a1.end or (a2.start == a1.start and a2.end == a1.end):
                self.fail(
                    n2,
                    fp.hunks[n2 - 1],
                    f"it overlaps hunk {n1} (lines {a1.start + 1}-{a1.end} and "
                    f"{a2.start + 1}-{a2.end}); merge the two hunks into one.",
                )
        if self.failures:
            return ""
        return self._splice([c[2] for c in chosen])

    def _already_present(self, hunk: Hunk) -> int | None:
        """Where the hunk's after-text already is, if its before-text is nowhere and its
        after-text (with at least one non-blank added line) is in exactly one place."""
        if not any(ln.op == "+" and ln.text.strip() for ln in hunk.lines):
            return None
        after = Hunk(
            tuple(ln.__class__(" ", ln.text, ln.eol, ln.optional) for ln in hunk.new_lines)
        )
        found = locate(self.index, after)
        return found[0] if len(found) == 1 else None

    def _not_found_text(self) -> str:
        return "its before-text (context and removed lines) is not in the file."

    def _closest(self, hunk: Hunk) -> str:
        wanted = [ln.text for ln in hunk.old_lines if not ln.optional]
        return closest_lines(self.lines, wanted, self.path)

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


def _ends_at_eof(app: Application | Refusal, n: int) -> bool:
    return isinstance(app, Application) and app.end == n


def _pure_addition_text(path: str) -> str:
    return (
        f"it only adds lines, with no context, to the non-empty file {path}; "
        "include two or three unchanged lines around the insertion point."
    )


def build_pure_addition(hunk: Hunk, eol_from_diff: bool, index: FileIndex) -> Application:
    new = [ln for ln in hunk.lines if ln.op == "+" and not ln.optional]
    lines = tuple(
        FileLine(ln.text, ln.eol if eol_from_diff else (ln.eol and index.eol)) for ln in new
    )
    no_eol = bool(new) and new[-1].eol == ""
    return Application(
        0, 0, "new-text", lines, no_eol if any(ln.eol == "" for ln in new) else False
    )


def _new_text(fp: FilePatch) -> str:
    lines: list[FileLine] = []
    for hunk in fp.hunks:
        for ln in hunk.lines:
            if ln.op == "+" and not ln.optional:
                lines.append(FileLine(ln.text, ln.eol if fp.eol_from_diff else (ln.eol and "\n")))
    out = [FileLine(c, e or "\n") for c, e in lines[:-1]] + lines[-1:]
    return join_lines(out)


def apply_patch(
    files: Mapping[str, str], loose_diff: str, *, known_paths: Collection[str] | None = None
) -> PatchResult:
    """Apply ``loose_diff`` to ``files`` (current texts by repository path; a missing key
    means the file does not exist). Returns the before/after texts of the touched files;
    raises PatchParseError or PatchApplyError (with feedback for a model) otherwise."""
    patches = parse_patch(loose_diff)
    paths = _Paths(files, known_paths)
    state: dict[str, str | None] = {}
    before: dict[str, str | None] = {}
    report: list[HunkReport] = []
    failures: list[_Failure] = []
    fitted: list[tuple[str, list[int]]] = []

    def current(p: str) -> str | None:
        if p in state:
            return state[p]
        try:
            text = files[p]
        except KeyError:
            text = None
        before.setdefault(p, text)
        return text

    def set_text(p: str, text: str | None) -> None:
        if p not in before:
            current(p)
        state[p] = text

    for fp in patches:
        prefixed = fp.git_header or (
            (fp.old_path or "a/").startswith("a/") and (fp.new_path or "b/").startswith("b/")
        )
        old = paths.resolve(fp.old_path, prefixed, state) if fp.old_path is not None else None
        new = paths.resolve(fp.new_path, prefixed, state) if fp.new_path is not None else None
        # Context-free additions to a file that does not exist are how models create files.
        if (
            old is not None
            and current(old) is None
            and fp.hunks
            and not any(h.old_lines for h in fp.hunks)
        ):
            old = None
        name = new or old or fp.display_path
        if old is None:
            text = _new_text(fp)
            existing = current(name)
            if existing is not None and existing != text:
                failures.append(
                    _Failure(
                        name,
                        1,
                        fp.hunks[0] if fp.hunks else Hunk(()),
                        (
                            f"the diff creates {name}, which already exists with other content; "
                            "send a diff against its current text instead."
                        ),
                    )
                )
                continue
            set_text(name, text)
            outcome = "already-present" if existing is not None else "created"
            report.append(HunkReport(name, 1, outcome, "new-file", None))  # type: ignore[arg-type]
            continue
        text_before = current(old)
        if text_before is None:
            failures.append(
                _Failure(
                    old,
                    1,
                    fp.hunks[0] if fp.hunks else Hunk(()),
                    (
                        f"{old} does not exist"
                        + (
                            f" (known files: {', '.join(paths.known()[:8])})"
                            if paths.known()
                            else ""
                        )
                        + "; use the path of an existing file, or /dev/null as the old side to create one."
                    ),
                )
            )
            continue
        applier = _FileApplier(old, text_before, fp)
        text_after = applier.run() if fp.hunks else text_before
        failures.extend(applier.failures)
        if applier.failures:
            fitted.append((old, applier.fitted))
            continue
        fitted.append((old, applier.fitted))
        report.extend(applier.report)
        if new is None:
            if text_after.strip() and fp.hunks:
                failures.append(
                    _Failure(
                        old,
                        len(fp.hunks),
                        fp.hunks[-1],
                        (
                            f"the diff deletes {old}, but its hunks do not remove all of its "
                            f"lines ({len(split_lines(text_after))} remain)."
                        ),
                    )
                )
                continue
            set_text(old, None)
            report.append(HunkReport(old, 0, "deleted", "-", None))
        elif new != old:
            if current(new) is not None:
                failures.append(
                    _Failure(
                        new,
                        1,
                        fp.hunks[0] if fp.hunks else Hunk(()),
                        (f"the diff renames {old} to {new}, which already exists."),
                    )
                )
                continue
            set_text(old, None)
            set_text(new, text_after)
            report.append(HunkReport(new, 0, "renamed", "-", None))
        else:
            set_text(old, text_after)
    if failures:
        raise PatchApplyError(
            f"{len(failures)} hunk(s) could not be placed exactly; nothing was changed",
            feedback=_feedback(failures, fitted),
            hint="fix the hunks named in the feedback and send the whole diff again",
        )
    after = {p: t for p, t in state.items() if t != before.get(p)}
    return PatchResult(
        before={p: before.get(p) for p in after},
        after=after,
        report=report,
    )


def _feedback(failures: list[_Failure], fitted: list[tuple[str, list[int]]]) -> str:
    parts = []
    for f in failures:
        parts.append(
            f"{f.path}, hunk {f.hunk_no} ({f.hunk.header}) does not apply: {f.text}\n"
            + describe_hunk(f.hunk)
            + ("\n" + f.closest if f.closest else "")
        )
    ok = [
        f"{p} hunk{'s' if len(ns) > 1 else ''} {', '.join(map(str, ns))}" for p, ns in fitted if ns
    ]
    if ok:
        parts.append(
            "These hunks fit and need no change (keep them as they are): " + "; ".join(ok) + "."
        )
    return "\n\n".join(parts)


__all__ = ["apply_patch"]
