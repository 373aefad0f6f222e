"""Rendering the sheet as text, optionally within a token budget.

Four levels of detail: *full* (header with language, size and module docstring, imports
and imported-by, every symbol with its signature, lines and docstring line), *part* (the
same format with only the symbols that fit a share: those the request names first),
*signatures* (the symbols' signatures only), *path* (one line).

With a budget (see ``layout``) the model must see the candidates rather than one file:
no file takes more than ``FILE_SHARE`` (25 %) of the budget (a larger one is shown in
part), the top ``TOP_K`` (5) files always appear with their symbols before any path
line, then files in full while the detailed files fit in ``FULL_SHARE`` (60 %), more
signatures up to ``SIGNATURE_SHARE`` (85 %), paths in the rest; files that do not fit are
cut and counted in the header ("N not shown"). When everything is listed with room to
spare, the spare room goes to more detail, top files first.

With the sheet's cached summaries (``Sheet.summaries``, see sheet/summaries.py) a path
line reads ``- path — summary``, a file shown with its symbols has a ``summary:`` line
under its header, and a folder none of whose files is shown gets one line of its own
(``- folder/ (N files) — summary``). A summary never costs a file its place: the levels
are chosen as above in all but ``SUMMARY_SHARE`` of the room, which then goes to the
summaries of the files shown (in rank order), the folders' lines, and more path lines.
Summaries are part of each chunk's text, so the estimate below covers them; a sheet
without summaries renders exactly as it did before they existed.

Token estimate (see ``estimate_tokens``): ceil(ASCII characters / 3) + one per non-ASCII
character. Every chunk is estimated
on its own and the chunk estimates summed, which can only overshoot the estimate of the
joined text, so the rendered text never exceeds the budget by this estimate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tinygen.sheet.lines import indent, symbol_lines
from tinygen.sheet.model import FileEntry, Sheet
from tinygen.sheet.words import word_parts

if TYPE_CHECKING:
    from tinygen.sheet.summaries import Summaries

CHARS_PER_TOKEN = 3.0
MAX_IMPORTED_BY = 8
FULL_SHARE = 0.60  # of the budget (after the header line) for files in full detail
SIGNATURE_SHARE = 0.85  # ... for files in full detail and as signatures together
FILE_SHARE = 0.25  # ... that any one file may take (a larger one is shown in part)
TOP_K = 5  # the best files always shown with their symbols, before any path line
SUMMARY_SHARE = 0.20  # ... kept by the levels for summaries, when the sheet has them
SUMMARY_LINE_CHARS = 300  # a summary on a path or folder line is cut here
SUMMARY_DETAIL_CHARS = 900  # ... under the header of a file shown with its symbols


def estimate_tokens(text: str) -> int:
    """A conservative token count for code-heavy text: ceil(ASCII characters / 3) plus
    one token per non-ASCII character.

    Not measured against a real tokenizer (none is available offline here); BPE
    tokenizers typically give 3.5-4 characters per token on ASCII source code, so this
    should overestimate such text by roughly 15-30 %, erring on the side of staying inside
    the budget. Letters outside ASCII (CJK, accented, emoji) often take a token or more
    each; the estimate counts one. Adding up the estimates of parts never gives less than
    the estimate of the joined text, which is what keeps a render inside its budget.
    """
    if text.isascii():
        return math.ceil(len(text) / CHARS_PER_TOKEN)
    other = len(text) - len(text.encode("ascii", "ignore"))
    return math.ceil((len(text) - other) / CHARS_PER_TOKEN) + other


def _escape(c: str) -> str:
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return c.encode("unicode_escape").decode("ascii")


def shown(path: str) -> str:
    """A path as the text sheet prints it: a control character (a newline in a file name
    would start a fake entry) or an undecodable byte escaped, Python-style."""
    if path.isprintable():
        return path
    return "".join(c if c.isprintable() else _escape(c) for c in path)


def one_line(text: str, limit: int) -> str:
    """A summary (a model's prose: data) on one line: whitespace runs as one space, other
    control characters escaped (a newline would start a fake entry), cut at a word
    boundary near ``limit`` characters with "..."."""
    text = shown(" ".join(text.split()))
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "..."


def _file_head(f: FileEntry) -> str:
    lang = f.language or "other"
    head = f"## {shown(f.path)} ({lang}, {f.lines} lines)"
    if f.flags:
        head += " [" + ", ".join(f.flags) + "]"
    return head


def with_summary(text: str, summary: str) -> str:
    """A file's detailed text (full, part, signatures: a header line first) with its
    summary on the line under the header."""
    head, _, rest = text.partition("\n")
    return f"{head}\n  summary: {one_line(summary, SUMMARY_DETAIL_CHARS)}\n{rest}"


def render_full(f: FileEntry, imported_by: Sequence[str]) -> str:
    parts = [_file_head(f)]
    if f.doc:
        parts.append(f" — {f.doc}")
    parts.append("\n")
    if f.resolved:
        parts.append("  imports: " + ", ".join(map(shown, f.resolved)) + "\n")
    elif f.imports:
        external = [m for m in f.imports if not m.startswith((".", "/"))]
        if external:
            more = ", ..." if len(external) > 20 else ""
            parts.append("  uses: " + ", ".join(external[:20]) + more + "\n")
    if imported_by:
        names = ", ".join(map(shown, imported_by[:MAX_IMPORTED_BY]))
        more_n = len(imported_by) - MAX_IMPORTED_BY
        parts.append(
            f"  imported by: {names}" + (f" (+{more_n} more)" if more_n > 0 else "") + "\n"
        )
    parts.append(f.symbol_text())
    return "".join(parts)


def render_signatures(f: FileEntry) -> str:
    lines = [f"{indent(s.parent)}{s.signature}\n" for s in f.symbols if s.kind != "constant"]
    return _file_head(f) + "\n" + "".join(lines)


def render_path(f: FileEntry, summary: str = "") -> str:
    if summary:
        return f"- {shown(f.path)} — {one_line(summary, SUMMARY_LINE_CHARS)}\n"
    return f"- {shown(f.path)}\n"


def render_folder(folder: str, files: int, summary: str) -> str:
    """The line of a folder none of whose files is shown."""
    count = f"{files} file" + ("s" if files != 1 else "")
    return f"- {shown(folder)}/ ({count}) — {one_line(summary, SUMMARY_LINE_CHARS)}\n"


def imported_by_map(files: Sequence[FileEntry]) -> dict[str, list[str]]:
    rev: dict[str, list[str]] = {}
    for f in sorted(files, key=lambda e: e.path):
        for target in f.resolved:
            rev.setdefault(target, []).append(f.path)
    return rev


def _header(n: int, full: int, sigs: int, paths: int, omitted: int, part: int = 0) -> str:
    text = f"# reference sheet: {n} files ({full} in full, {sigs} as signatures, {paths} as paths"
    if part:
        text += f", {part} in part"
    return text + (f", {omitted} not shown)\n" if omitted else ")\n")


def header_tokens(n: int) -> int:
    """What the header line of a sheet of ``n`` files is reserved: its widest form."""
    return estimate_tokens(_header(n, n, n, n, n, 1))


def min_budget(sheet: Sheet) -> int:
    """The smallest budget that shows anything: the header line alone."""
    return header_tokens(len(sheet.files))


_QUERY_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def render_part(f: FileEntry, query: str, limit: float) -> str | None:
    """The file in full-detail format but only with the symbols that fit ``limit``
    tokens: those the request names first (then those sharing its words, then the rest,
    each in file order), with their enclosing classes, printed in file order and followed
    by how many were left out. None when not even the header and that count fit.

    For a top-ranked file too large for full detail or signatures (Django's query.py
    against "QuerySet bulk_create"), this rather than nothing."""
    syms = f.symbols
    head = _file_head(f) + (f" — {f.doc}" if f.doc else "") + "\n"
    tail_width = f"  ... {len(syms)} more symbols not shown\n"
    used = estimate_tokens(head) + estimate_tokens(tail_width)
    if used > limit:
        return None
    idents = set(_QUERY_IDENT.findall(query))
    terms = set(word_parts(query))

    def priority(i: int) -> tuple[int, int]:
        s = syms[i]
        if s.name in idents:
            return 0, i
        if terms and not terms.isdisjoint(word_parts(s.name)):
            return 1, i
        return 2, i

    classes = {
        (f"{s.parent}.{s.name}" if s.parent else s.name): i
        for i, s in enumerate(syms)
        if s.kind == "class"
    }
    chosen: set[int] = set()
    for i in sorted(range(len(syms)), key=priority):
        if i in chosen:
            continue
        want = [i]
        parent = syms[i].parent
        while parent:  # the enclosing classes, so a method is read in its class
            j = classes.get(parent)
            if j is None or j in chosen:
                break
            want.append(j)
            parent = parent.rpartition(".")[0]
        cost = sum(estimate_tokens(symbol_lines([syms[k]])) for k in want)
        if used + cost > limit:
            continue
        used += cost
        chosen.update(want)
    if syms and not chosen:
        return None  # a header alone says less than the paths that would fill its room
    order = sorted(chosen)
    body = symbol_lines(syms[k] for k in order)
    rest = len(syms) - len(order)
    return head + body + (f"  ... {rest} more symbols not shown\n" if rest else "")


@dataclass(frozen=True)
class Layout:
    """The level of detail of each file (aligned with ``files``, in rank order): "full",
    "part", "signatures", "path", or "" (not shown). ``parts`` holds the text of the
    files shown in part; ``summed`` the files shown with their summary; ``folders`` the
    folders shown by their summary line (with how many files each holds), in order."""

    files: Sequence[FileEntry]
    levels: list[str]
    imported_by: dict[str, list[str]]
    parts: dict[int, str] = field(default_factory=dict)
    summaries: Summaries | None = None
    summed: frozenset[int] = frozenset()
    folders: list[tuple[str, int]] = field(default_factory=list)

    def count(self, level: str) -> int:
        return sum(1 for x in self.levels if x == level)

    @property
    def omitted(self) -> int:
        return self.count("")

    def detailed(self) -> list[FileEntry]:
        """The files shown with their symbols (full, part or signatures), in rank order."""
        return [f for f, x in zip(self.files, self.levels, strict=True) if x not in ("", "path")]

    def shown(self) -> list[tuple[FileEntry, str]]:
        """Every file shown, with its level, in rank order."""
        return [(f, x) for f, x in zip(self.files, self.levels, strict=True) if x]

    def level(self, path: str) -> str:
        for f, x in zip(self.files, self.levels, strict=True):
            if f.path == path:
                return x
        return ""


def _ancestors(path: str) -> list[str]:
    """The folders holding ``path``, outermost first (the root not included)."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


class _Plan:
    """Chunk costs per file and level (with or without its summary), computed only for
    the files looked at."""

    def __init__(
        self,
        files: Sequence[FileEntry],
        rev: dict[str, list[str]],
        query: str,
        summaries: Summaries | None = None,
    ) -> None:
        self.files = files
        self.rev = rev
        self.query = query
        self.summaries = summaries
        self.memo: dict[tuple[int, str, bool], int] = {}
        self.parts: dict[int, str] = {}

    def summary(self, i: int) -> str:
        return self.summaries.file_text(self.files[i].path) if self.summaries else ""

    def text(self, i: int, level: str, cap: float = 0.0) -> str | None:
        f = self.files[i]
        if level == "full":
            return render_full(f, self.rev.get(f.path, ()))
        if level == "signatures":
            return render_signatures(f)
        if level == "path":
            return render_path(f)
        part = render_part(f, self.query, cap)
        if part is not None:
            self.parts[i] = part
        return part

    def cost(self, i: int, level: str, summed: bool = False) -> int:
        """The estimate of file ``i`` at "full", "signatures", "path" (or "part", once
        made), with its summary when ``summed``."""
        key = (i, level, summed)
        got = self.memo.get(key)
        if got is None:
            got = self.memo[key] = estimate_tokens(self.shown_text(i, level, summed))
        return got

    def shown_text(self, i: int, level: str, summed: bool) -> str:
        text = self.parts.get(i, "") if level == "part" else self.text(i, level) or ""
        if not summed:
            return text
        summary = self.summary(i)
        if level == "path":
            return render_path(self.files[i], summary)
        return with_summary(text, summary)


def _unexpanded(
    files: Sequence[FileEntry], levels: list[str], summaries: Summaries
) -> list[tuple[str, int]]:
    """The folders with a summary none of whose files is shown, the shallowest such along
    each path, in rank order of their best file, with how many files each holds."""
    expanded: set[str] = set()
    for f, level in zip(files, levels, strict=True):
        if level:
            expanded.update(_ancestors(f.path))
    found: dict[str, int] = {}
    for f, level in zip(files, levels, strict=True):
        if level:
            continue
        for folder in _ancestors(f.path):
            if folder not in expanded and folder in summaries.folders:
                found[folder] = found.get(folder, 0) + 1
                break
    return list(found.items())


def layout(sheet: Sheet, budget: int | None) -> Layout | None:
    """The level of detail of each file within ``budget`` (None: everything in full);
    None when not even the header fits.

    Policy, in rank order, with "room" the budget less the header line:

    1. everything in full when it fits;
    2. no file takes more than FILE_SHARE of the room: a file whose full detail is larger
       is shown in part (``render_part``: the symbols the request names first) within it;
    3. the top ``TOP_K`` files are always shown with their symbols, at least as
       signatures (in part when even those exceed the share), before any path line;
    4. files in full, in rank order, while the detailed files fit in FULL_SHARE of the
       room (a top-K file too large for its share in part instead); then signatures up to
       SIGNATURE_SHARE; then paths in what is left; the rest are not shown;
    5. when that lists every file and room is left, files are promoted (path to
       signatures to full) in rank order while they fit.

    With summaries, steps 2-5 keep SUMMARY_SHARE of the room, spent afterwards on them
    (``_spend_on_summaries``); step 1 counts them.
    """
    files: Sequence[FileEntry] = sheet.files
    summaries = sheet.summaries or None
    if budget is not None and not sheet.ranked:
        # Here, not at the top: a map without a budget never ranks (see build_sheet).
        from tinygen.sheet.rank import rank_files

        files = rank_files(sheet.files, sheet.query, sheet.index, summaries=summaries)[0]
    rev = imported_by_map(files)
    n = len(files)
    everything = frozenset(
        i for i, f in enumerate(files) if summaries and summaries.file_text(f.path)
    )
    if budget is None:
        return Layout(files, ["full"] * n, rev, summaries=summaries, summed=everything)
    room = budget - header_tokens(n)
    if room < 0:
        return None
    plan = _Plan(files, rev, sheet.query, summaries)
    total = 0
    for i in range(n):
        total += plan.cost(i, "full", i in everything)
        if total > room:
            break
    else:
        return Layout(files, ["full"] * n, rev, summaries=summaries, summed=everything)
    levels = _levels(plan, room - (SUMMARY_SHARE * room if summaries else 0))
    parts = {i: plan.parts[i] for i, x in enumerate(levels) if x == "part"}
    if summaries is None:
        return Layout(files, levels, rev, parts)
    summed, folders = _spend_on_summaries(plan, levels, room, summaries)
    return Layout(files, levels, rev, parts, summaries, frozenset(summed), folders)


def _levels(plan: _Plan, room: float) -> list[str]:
    """Steps 2-5 of ``layout``'s policy within ``room``: each file's level."""
    n = len(plan.files)
    cap = FILE_SHARE * room
    levels = [""] * n
    costs = [0] * n
    used = 0

    def part_cost(i: int) -> int:
        if i not in plan.parts:
            plan.text(i, "part", cap)
        return estimate_tokens(plan.parts[i]) if i in plan.parts else 1 << 40

    def set_level(i: int, level: str, cost: int) -> None:
        nonlocal used
        used += cost - costs[i]
        costs[i], levels[i] = cost, level

    # 3. The top files, at least as signatures (in part when those exceed the share).
    for i in range(min(TOP_K, n)):
        sig = plan.cost(i, "signatures")
        if sig <= cap and used + sig <= room:
            set_level(i, "signatures", sig)
        elif used + part_cost(i) <= room:
            set_level(i, "part", part_cost(i))
    # 4. Full detail in rank order within FULL_SHARE (each file within the share; a top
    # file too large for that in part), then signatures within SIGNATURE_SHARE.
    for i in range(n):
        full = plan.cost(i, "full")
        if full <= cap:
            if used - costs[i] + full > FULL_SHARE * room:
                break
            set_level(i, "full", full)
        elif i < TOP_K and levels[i] != "part":
            pc = part_cost(i)
            if pc > costs[i] and used - costs[i] + pc <= FULL_SHARE * room:
                set_level(i, "part", pc)
    for i in range(n):
        if levels[i]:
            continue
        sig = plan.cost(i, "signatures")
        if sig > cap:
            continue
        if used + sig > SIGNATURE_SHARE * room:
            break
        set_level(i, "signatures", sig)
    # Paths, in rank order, until the next one does not fit.
    for i in range(n):
        if levels[i]:
            continue
        c = plan.cost(i, "path")
        if used + c > room:
            break
        set_level(i, "path", c)
    if all(levels):
        # 5. Everything is listed: spend what is left on detail, top files first.
        for level, below in (("signatures", ("path",)), ("full", ("path", "signatures"))):
            for i in range(n):
                if levels[i] not in below:
                    continue
                c = plan.cost(i, level)
                if c <= cap and used - costs[i] + c <= room:
                    set_level(i, level, c)
    return levels


def _spend_on_summaries(
    plan: _Plan, levels: list[str], room: int, summaries: Summaries
) -> tuple[set[int], list[tuple[str, int]]]:
    """What the levels left of ``room``, spent in this order: the summaries of the files
    shown (rank order) leaving half of SUMMARY_SHARE, the lines of the folders none of
    whose files is shown, the summaries that did not fit before, then more path lines
    (outside those folders; with the summary when it fits). Sets the levels of the paths
    added; returns the files shown with their summary and the folders' lines."""
    summed: set[int] = set()
    costs = [plan.cost(i, x) if x else 0 for i, x in enumerate(levels)]
    used = sum(costs)

    def add_summaries(limit: float) -> None:
        nonlocal used
        for i, level in enumerate(levels):
            if level and i not in summed and plan.summary(i):
                c = plan.cost(i, level, True)
                if used - costs[i] + c <= limit:
                    used += c - costs[i]
                    summed.add(i)

    folders: list[tuple[str, int]] = []
    if all(levels):
        add_summaries(room)
        return summed, folders
    add_summaries(room - SUMMARY_SHARE * room / 2)
    for folder, count in _unexpanded(plan.files, levels, summaries):
        c = estimate_tokens(render_folder(folder, count, summaries.folder_text(folder)))
        if used + c <= room:
            used += c
            folders.append((folder, count))
    add_summaries(room)
    lined = {folder for folder, _ in folders}
    for i, f in enumerate(plan.files):
        if levels[i] or lined.intersection(_ancestors(f.path)):
            continue
        with_text = plan.cost(i, "path", True) if plan.summary(i) else 1 << 40
        if used + with_text <= room:
            used += with_text
            summed.add(i)
        elif used + plan.cost(i, "path") <= room:
            used += plan.cost(i, "path")
        else:
            break
        levels[i] = "path"
    return summed, folders


def render_layout(lay: Layout) -> str:
    """The header, the files with symbols in rank order, the path lines, then the lines
    of folders none of whose files is shown."""
    parts = [
        _header(
            len(lay.files),
            lay.count("full"),
            lay.count("signatures"),
            lay.count("path"),
            lay.omitted,
            lay.count("part"),
        )
    ]
    paths = []
    summaries = lay.summaries
    for i, (f, level) in enumerate(zip(lay.files, lay.levels, strict=True)):
        summary = summaries.file_text(f.path) if summaries and i in lay.summed else ""
        if level == "path":
            paths.append(render_path(f, summary))
            continue
        if level == "full":
            text = render_full(f, lay.imported_by.get(f.path, ()))
        elif level == "part":
            text = lay.parts[i]
        elif level == "signatures":
            text = render_signatures(f)
        else:
            continue
        parts.append(with_summary(text, summary) if summary else text)
    if summaries:
        paths += [render_folder(p, k, summaries.folder_text(p)) for p, k in lay.folders]
    return "".join(parts + paths)


def render_sheet(sheet: Sheet, budget: int | None = None) -> str:
    """The sheet as text; with ``budget``, at most that many tokens by ``estimate_tokens``
    ('' when the budget cannot hold even the header line). With ``sheet.summaries`` the
    cached summaries are shown (see the module's docstring)."""
    lay = layout(sheet, budget)
    return render_layout(lay) if lay is not None else ""
