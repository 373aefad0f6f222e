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

import bisect
import dataclasses
import itertools
from collections.abc import Collection, Mapping

from tinygen.errors import PatchApplyError
from tinygen.patch.feedback import closest_lines, render_feedback
from tinygen.patch.model import (
    ClosestLines,
    FileLine,
    FilePatch,
    Hunk,
    HunkFailure,
    HunkReport,
    Line,
    PatchResult,
    join_lines,
    split_lines,
)
from tinygen.patch.parse import parse_patch
from tinygen.patch.place import Application, FileIndex, Refusal, build, locate


def _failure(
    path: str,
    no: int,
    hunk: Hunk,
    reason: str,
    closest: ClosestLines | None = None,
    bom: bool = False,
) -> HunkFailure:
    before = tuple(ln.text for ln in hunk.lines if ln.old and not ln.optional)
    return HunkFailure(path, no, hunk.header, reason, before, closest, bom)


def _strip_prefix(p: str) -> str:
    while p.startswith("./"):
        p = p[2:]
    return p


def _bare(p: str) -> str:
    p = _strip_prefix(p)
    return p[2:] if p[:2] in ("a/", "b/") else p


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

    def resolve(
        self, raw: str, prefixed: bool, state: Mapping[str, str | None], *, suffix: bool = True
    ) -> str:
        raw = _strip_prefix(raw)
        stripped = raw[2:] if raw[:2] in ("a/", "b/") else raw
        order = [stripped, raw] if prefixed else [raw, stripped]
        for cand in order:
            if cand and self.exists(cand, state):
                return cand
        # A partial path naming one file only ("utils.py" for "src/pkg/utils.py"); never for
        # a file the diff creates, which is new exactly where it says.
        for cand in dict.fromkeys(order) if suffix else ():
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


BOM = "\ufeff"


class _FileApplier:
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

    def fail(self, no: int, hunk: Hunk, text: str, closest: ClosestLines | None = None) -> None:
        self.failures.append(_failure(self.path, no, hunk, text, closest, bom=self.bom))

    def _place(self, hunk: Hunk) -> list[Application | Refusal]:
        if not hunk.old_lines:
            return []
        apps = [build(self.index, hunk, a, self.fp.eol_from_diff) for a in locate(self.index, hunk)]
        # "\ No newline" on the before-side: the hunk ends at the end of a file that has
        # no final newline, nowhere else.
        if hunk.old_lines[-1].eol == "":
            if not self.lines or self.lines[-1].eol:
                return []
            apps = [a for a in apps if _ends_at_eof(a, len(self.lines))]
        return apps

    def _fits(self, hunk: Hunk) -> bool:
        if not hunk.old_lines:
            return not self.lines and any(ln.op == "+" for ln in hunk.lines)
        apps = self._place(hunk)
        if len(apps) == 1 and isinstance(apps[0], Application):
            return True
        return len(apps) <= 1 and self._already_present(hunk) is not None

    def _reading(self, no: int, hunk: Hunk) -> Hunk | None:
        """The reading of an ambiguous hunk to use (None: refused, failure recorded)."""
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

    def _plausible(self, hunk: Hunk) -> bool:
        """A reading that does not fit might still be the intended one: it searches for
        nothing (or only blank lines), nearly fits, or is already done."""
        if not _keys(hunk) or _near_fits(self.index, _keys(hunk)):
            return True
        return bool(self._exact([ln for ln in hunk.lines if ln.new and not ln.optional]))

    def _unbom(self, no: int, hunk: Hunk, record: bool = True) -> Hunk:
        if not self.bom:
            return hunk
        if record and _drops_bom(hunk):
            self.drops_bom.add(no)
        return _without_bom(hunk)

    def run(self) -> str:
        fp = self.fp
        numbered: list[tuple[int, Hunk]] = []
        for no, hunk in enumerate(fp.hunks, start=fp.first_hunk):
            reading = self._reading(no, hunk)
            if reading is not None:
                numbered.append((no, reading))
        placed = [self._place(h) for _, h in numbered]
        trusted = not self.failures and _numbers_trusted([h for _, h in numbered], placed)
        chosen: list[tuple[int, Hunk, Application]] = []
        for (no, hunk), apps in zip(numbered, placed, strict=True):
            via_hint = False
            if not hunk.old_lines:
                if self.lines:
                    self.fail(no, hunk, _pure_addition_text(self.path))
                    continue
                app = build_pure_addition(hunk, fp.eol_from_diff, self.index)
                chosen.append((no, hunk, app))
                self.report.append(HunkReport(self.path, no, "applied", "new-text", 1))
                self.fitted.append(no)
                continue
            if len(apps) > 1 and trusted and hunk.old_start is not None:
                # Numbers choose only among the strictest fits: a re-sent diff's numbers
                # can point at a line it added, matched loosely (trailing whitespace).
                best = min(_rank(a) for a in apps)
                hinted = [
                    a
                    for a in apps
                    if a.start == hunk.old_start - 1
                    and _rank(a) == best
                    and (not isinstance(a, Application) or _edges_agree(hunk, a, len(self.lines)))
                ]
                if len(hinted) == 1:
                    apps, via_hint = hinted, True
            if len(apps) > 1:
                where = ", ".join(str(a.start + 1) for a in apps[:10])
                self.fail(
                    no,
                    hunk,
                    f"its before-text fits in {len(apps)} places (lines {where}); "
                    "add context lines that occur only at the intended place.",
                )
                continue
            app0 = apps[0] if apps else None
            if isinstance(app0, Application):
                if self._resent(hunk, app0):
                    self._present(no, app0.start)
                    continue
                chosen.append((no, hunk, app0))
                self.fitted.append(no)
                self.report.append(
                    HunkReport(self.path, no, "applied", app0.strategy, app0.start + 1, via_hint)
                )
                if app0.start == 0 and no in self.drops_bom:
                    self.keep_bom = False
                continue
            present = self._already_present(hunk)
            if present is not None:
                self._present(no, present)
            elif app0 is not None:
                self.fail(no, hunk, f"it fits at line {app0.start + 1}, but {app0.reason}.")
            else:
                self.fail(no, hunk, self._not_found_text(), self._closest(hunk))
        chosen.sort(key=lambda c: (c[2].start, c[2].end))
        for (n1, _, a1), (n2, h2, a2) in itertools.pairwise(chosen):
            if a2.start < a1.end or (a2.start == a1.start and a2.end == a1.end):
                self.fail(
                    n2,
                    h2,
                    f"it overlaps hunk {n1} (lines {a1.start + 1}-{a1.end} and "
                    f"{a2.start + 1}-{a2.end}); merge the two hunks into one.",
                )
        if self.failures:
            return ""
        return (BOM if self.keep_bom else "") + self._splice([c[2] for c in chosen])

    def _present(self, no: int, line: int) -> None:
        self.fitted.append(no)
        self.report.append(HunkReport(self.path, no, "already-present", "-", line + 1))

    def _resent(self, hunk: Hunk, app: Application) -> bool:
        """True when the placed hunk's after-text is already in the file, around its
        placement, with every context line on the same file line in both: a re-sent edit
        whose context is on one side only (lines appended after a block, an import added)
        would otherwise be applied twice. (With context on both sides the before-text of
        an applied hunk is no longer in the file, see :meth:`_already_present`.)"""
        ops = _effective_ops([ln for ln in hunk.lines if not ln.optional])
        if not any(op == "+" for op, _ in ops):
            return False
        if app.end - app.start != sum(op != "+" for op, _ in ops):
            # Placed loosely (blank lines differ): a re-send if the after-text, as quoted,
            # is right there.
            used = [ln for ln in hunk.lines if not ln.optional and ln.new]
            if not any(ln.op == "+" and ln.text.strip() for ln in used):
                return False
            found = self._exact(used)
            return len(found) == 1 and found[0] < app.end and found[0] + len(used) > app.start
        new = [ln.content for ln in app.new_lines]
        if len(new) <= app.end - app.start:
            return False  # the before-text is there, so a change that adds nothing is not done
        if _repeats_its_neighbours([op for op, _ in ops if op != "-"], new):
            return False
        # (Added lines could also be slid past equal context lines, "x +x" as "+x x"; but
        # a change inside a run of equal lines cannot be told from its re-sending, and
        # applying it is then the answer that the diff's own before-text supports.)
        shift = _shift(ops)
        return shift is not None and self._after_at(app, app.start + shift, new)

    def _after_at(self, app: Application, at: int, new: list[str]) -> bool:
        if at < 0 or at + len(new) > len(self.lines):
            return False
        at_end = at + len(new) == len(self.lines)
        if app.last_no_eol is not None and at_end and (self.lines[-1].eol == "") != app.last_no_eol:
            return False  # the change is (also) the final newline
        return [ln.content for ln in self.lines[at : at + len(new)]] == new

    def _already_present(self, hunk: Hunk) -> int | None:
        """Where the hunk's after-text already is, for a hunk whose before-text does not
        fit: a re-sent hunk. Strict, because a misquoted line looks the same: the after-text
        must be in the file exactly (no re-indenting) and in one place only, the hunk must
        have non-blank context and add a non-blank line, one of its removed lines must be
        absent from the file, and its before-text must not nearly fit (all but one line)
        anywhere else — there it would more likely be a misquote of that place."""
        used = [ln for ln in hunk.lines if not ln.optional]
        if not any(ln.op == "+" and ln.text.strip() for ln in used):
            return None
        if not any(ln.op == " " and ln.text.strip() for ln in used):
            return None
        removed = [ln.text.strip() for ln in used if ln.op == "-" and ln.text.strip()]
        if removed and all(r in self.index.by_key for r in removed):
            return None
        after = [ln for ln in used if ln.new]
        found = self._exact(after)
        if len(found) != 1:
            return None
        at = found[0]
        keys = _keys(hunk)
        nb = self.index.nb
        lo = bisect.bisect_left(nb, at)
        hi = bisect.bisect_left(nb, at + len(after))
        for q in _near_fits(self.index, keys):
            if q < hi and q + len(keys) > lo:
                continue  # overlaps the after-text: the change itself
            return None
        return at

    def _exact(self, after: list[Line]) -> list[int]:
        """Every index where the file's lines equal ``after`` exactly (a missing final
        newline included)."""
        texts = [ln.text for ln in after]
        first = next((k for k, t in enumerate(texts) if t.strip()), None)
        if first is None:
            return []
        lines = self.lines
        out = []
        for q in self.index.by_key.get(texts[first].strip(), []):
            s = self.index.nb[q] - first
            if s < 0 or s + len(after) > len(lines):
                continue
            window = lines[s : s + len(after)]
            if all(
                f.content == h.text and (f.eol == "") == (h.eol == "")
                for f, h in zip(window, after, strict=True)
            ):
                out.append(s)
        return out

    def _not_found_text(self) -> str:
        return "its before-text (context and removed lines) is not in the file."

    def _closest(self, hunk: Hunk) -> ClosestLines | None:
        wanted = [ln.text for ln in hunk.old_lines if not ln.optional]
        return closest_lines(self.lines, wanted, self.index)

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


def _near_fits(index: FileIndex, keys: list[str]) -> list[int]:
    """Starts (in non-blank line numbers) of windows of the file's non-blank lines that
    equal ``keys`` but for at most one line (exactly, for a one-line ``keys``)."""
    m = len(keys)
    if not m:
        return []
    starts = set(index.by_key.get(keys[0], []))
    if m >= 2:
        starts |= {q - 1 for q in index.by_key.get(keys[1], []) if q >= 1}
    allowed = 1 if m >= 2 else 0
    out = []
    for q in sorted(starts):
        window = index.keys[q : q + m]
        if len(window) == m and sum(a != b for a, b in zip(window, keys, strict=True)) <= allowed:
            out.append(q)
    return out


def _effective_ops(lines: list[Line]) -> list[tuple[str, str]]:
    """The hunk's (op, text) pairs with lines that a run of changes removes and adds back
    unchanged counted as context: "-x +y +x" is "+y x", "-x +y +x +z" is "+y x +z"."""
    out: list[tuple[str, str]] = []
    k = 0
    while k < len(lines):
        if lines[k].op == " ":
            out.append((" ", lines[k].text))
            k += 1
            continue
        end = k
        while end < len(lines) and lines[end].op != " ":
            end += 1
        run = lines[k:end]
        rem = [ln.text for ln in run if ln.op == "-"]
        add = [ln.text for ln in run if ln.op == "+"]
        at = next(
            (i for i in range(len(add) - len(rem) + 1) if rem and add[i : i + len(rem)] == rem),
            None,
        )
        if at is None:
            out.extend((ln.op, ln.text) for ln in run)
        else:
            out.extend(("+" if i < at or i >= at + len(rem) else " ", t) for i, t in enumerate(add))
        k = end
    return out


def _shift(ops: list[tuple[str, str]]) -> int | None:
    """The one offset from before-text to after-text line numbers of every context line,
    or None (no context, or context on both sides of a change that adds lines)."""
    shifts = set()
    before = after = 0
    for op, _ in ops:
        if op == " ":
            shifts.add(before - after)
        before += op != "+"
        after += op != "-"
    return shifts.pop() if len(shifts) == 1 else None


_STRICTNESS = ("exact", "trailing-whitespace", "reindent", "blank-lines")


def _rank(app: Application | Refusal) -> int:
    if isinstance(app, Refusal) or app.strategy not in _STRICTNESS:
        return len(_STRICTNESS)
    return _STRICTNESS.index(app.strategy)


def _keys(hunk: Hunk) -> list[str]:
    return [ln.text.strip() for ln in hunk.lines if ln.old and ln.text.strip()]


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


def _for_missing_file(fp: FilePatch) -> FilePatch:
    """A SEARCH/REPLACE block with several readings, for a file that does not exist: the
    one reading with an empty SEARCH (creating the file), if there is exactly one."""
    hunks = []
    for hunk in fp.hunks:
        creating = [h for h in hunk.alternatives if not h.old_lines]
        hunks.append(creating[0] if len(creating) == 1 else hunk)
    return dataclasses.replace(fp, hunks=hunks)


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
    paths = _Paths(files, known_paths)
    patches = parse_patch(loose_diff, known_paths=paths.known())
    state: dict[str, str | None] = {}
    before: dict[str, str | None] = {}
    report: list[HunkReport] = []
    failures: list[HunkFailure] = []
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
        # Only a file's own path may be completed from a suffix, never a creation or a
        # rename target: those are new exactly where the diff says.
        same = fp.old_path is not None and _bare(fp.old_path) == _bare(fp.new_path or "")
        new = (
            paths.resolve(fp.new_path, prefixed, state, suffix=same)
            if fp.new_path is not None
            else None
        )
        if old is not None and current(old) is None:
            fp = _for_missing_file(fp)
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
                    _failure(
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
                _failure(
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
                    _failure(
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
                    _failure(
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
            feedback=render_feedback(failures, fitted),
            hint="fix the hunks named in the feedback and send the whole diff again",
            failures=tuple(failures),
        )
    after = {p: t for p, t in state.items() if t != before.get(p)}
    return PatchResult(
        before={p: before.get(p) for p in after},
        after=after,
        report=report,
    )


__all__ = ["apply_patch"]


def _repeats_its_neighbours(new_ops: list[str], new: list[str]) -> bool:
    """True when the lines a hunk adds cannot tell a re-send from a first application: a
    block of them equals the lines right before or after it ("x +x" in a run of x, a blank
    line added to blank lines). Applying is then what the hunk's own before-text supports."""
    if len(new_ops) != len(new):
        return True  # cannot line the two up: do not claim a re-send
    i = 0
    while i < len(new_ops):
        if new_ops[i] != "+":
            i += 1
            continue
        j = i
        while j < len(new_ops) and new_ops[j] == "+":
            j += 1
        block, n = new[i:j], j - i
        if new[max(0, i - n) : i] == block or new[j : j + n] == block:
            return True
        i = j
    return False


def _edges_agree(hunk: Hunk, app: Application, n_lines: int) -> bool:
    """Whether a hinted place agrees with the hunk's context widths. A diff with N lines of
    context has fewer only where the file ends: fewer lines before the change than after
    means the hunk starts at line 1, fewer after means it ends at the last line. Numbers
    shifted by the same amount everywhere are as consistent as right ones, so this is what
    refutes a shifted hint among equal candidates; a refuted hint leaves the hunk ambiguous,
    and so refused — never moved."""
    ops = [ln.op for ln in hunk.lines if not ln.optional]
    changes = [k for k, op in enumerate(ops) if op != " "]
    if not changes:
        return True
    before, after = changes[0], len(ops) - 1 - changes[-1]
    width = max(before, after)
    if before < width and app.start != 0:
        return False
    return not (after < width and app.end != n_lines)
