"""Rendering the sheet as text, optionally within a token budget.

Three levels of detail, highest-ranked files first: *full* (header with language, size
and module docstring, imports and imported-by, every symbol with its signature, lines
and docstring line), *signatures* (the symbols' signatures only), *path* (one line).

With a budget (see ``layout``), the top-ranked files matter most to a model, so they get
full detail first, even when that leaves the tail unlisted: files in full while they fit
in ``FULL_SHARE`` (60 %) of the budget (the top file whenever it fits the budget at
all), then signatures up to ``SIGNATURE_SHARE`` (85 %), then paths in the rest; the files
that do not fit are cut and counted in the header ("N not shown"). When a whole level
fits (every remaining file as signatures, or everything listed with room to spare), the
spare room goes to more detail instead, top files first. A top file too large for full
detail and for signatures is shown in part: the symbols the request names first.

Token estimate (see ``estimate_tokens``): ceil(ASCII characters / 3) + one per non-ASCII
character. Every chunk is estimated
on its own and the chunk estimates summed, which can only overshoot the estimate of the
joined text, so the rendered text never exceeds the budget by this estimate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tinygen.sheet.lines import indent
from tinygen.sheet.model import FileEntry, Sheet

CHARS_PER_TOKEN = 3.0
MAX_IMPORTED_BY = 8
FULL_SHARE = 0.60  # of the budget (after the header line) for files in full detail
SIGNATURE_SHARE = 0.85  # ... for files in full detail and as signatures together


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


def _file_head(f: FileEntry) -> str:
    lang = f.language or "other"
    head = f"## {shown(f.path)} ({lang}, {f.lines} lines)"
    if f.flags:
        head += " [" + ", ".join(f.flags) + "]"
    return head


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


def render_path(f: FileEntry) -> str:
    return f"- {shown(f.path)}\n"


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
    from tinygen.sheet.lines import symbol_lines
    from tinygen.sheet.words import word_parts

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


class _Costs:
    """Prefix sums of chunk estimates, computed only as far as the search looks."""

    def __init__(self, files: Sequence[FileEntry], render: Callable[[FileEntry], str]) -> None:
        self.files = files
        self.render = render
        self.prefix = [0]

    def upto(self, k: int) -> int:
        while len(self.prefix) <= k:
            f = self.files[len(self.prefix) - 1]
            self.prefix.append(self.prefix[-1] + estimate_tokens(self.render(f)))
        return self.prefix[k]

    def span(self, a: int, b: int) -> int:
        return self.upto(b) - self.upto(a) if b > a else 0


def _max_true(lo: int, hi: int, ok: Callable[[int], bool]) -> int:
    """Largest k in [lo, hi] with ok(k), given ok is monotone (true then false) and ok(lo)."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _extend(costs: _Costs, start: int, limit: float) -> int:
    """Largest k >= start with costs.span(start, k) <= limit: files taken in order until
    the next one does not fit (looks at one file past the end, never the whole list)."""
    k, n = start, len(costs.files)
    while k < n and costs.span(start, k + 1) <= limit:
        k += 1
    return k


@dataclass(frozen=True)
class Layout:
    """Which files are shown at which level: files[:full] in full detail, the next
    ``signatures`` as signatures, the next ``paths`` as paths; the rest are not shown."""

    files: Sequence[FileEntry]
    full: int
    signatures: int
    paths: int
    imported_by: dict[str, list[str]]
    part: str = ""  # files[0] shown in part (render_part); then full == signatures == 0

    @property
    def omitted(self) -> int:
        return len(self.files) - self.full - self.signatures - self.paths - bool(self.part)

    def detailed(self) -> list[FileEntry]:
        return list(self.files[: bool(self.part) + self.full + self.signatures])


def layout(sheet: Sheet, budget: int | None) -> Layout | None:
    """The levels of detail that fit ``budget`` (None: everything in full); None when
    not even the header fits.

    Policy, in rank order: everything in full when it fits; else files in full while
    they fit in FULL_SHARE of the room (the top file whenever it fits the room at all),
    signatures up to SIGNATURE_SHARE (all remaining files when they all fit), paths in
    what is left, the rest cut. When that lists every file and room is left, more files
    are promoted to full detail (top first), then to signatures. When the top file fits
    neither in full nor as signatures, it is shown in part (``render_part``) in what
    SIGNATURE_SHARE leaves, rather than not at all.
    """
    files: Sequence[FileEntry] = sheet.files
    if budget is not None and not sheet.ranked:
        from tinygen.sheet.rank import rank_files

        files = rank_files(sheet.files, sheet.query, sheet.index)[0]
    rev = imported_by_map(files)
    n = len(files)
    if budget is None:
        return Layout(files, n, 0, 0, rev)
    # Reserve the header at its widest so the counts can be filled in afterwards.
    room = budget - header_tokens(n)
    if room < 0:
        return None
    full = _Costs(files, lambda f: render_full(f, rev.get(f.path, ())))
    sigs = _Costs(files, render_signatures)
    paths = _Costs(files, render_path)
    if _extend(full, 0, room) == n:
        return Layout(files, n, 0, 0, rev)
    # Full detail within FULL_SHARE; the top file in full whenever it fits at all.
    nf = _extend(full, 0, FULL_SHARE * room)
    if nf == 0 and full.upto(1) <= room:
        nf = 1
    used = full.upto(nf)
    # Signatures up to SIGNATURE_SHARE, or for every remaining file when they all fit.
    ns = _extend(sigs, nf, max(SIGNATURE_SHARE * room - used, 0.0)) - nf
    if _extend(sigs, nf, room - used) == n:
        ns = n - nf
    used += sigs.span(nf, nf + ns)
    if nf == ns == 0 and n:
        part = render_part(files[0], sheet.query, SIGNATURE_SHARE * room)
        if part is not None:
            used = estimate_tokens(part)
            np_ = _extend(paths, 1, room - used) - 1
            return Layout(files, 0, 0, np_, rev, part)
    np_ = _extend(paths, nf + ns, room - used) - nf - ns
    if nf + ns + np_ < n:
        return Layout(files, nf, ns, np_, rev)

    # Everything is listed: spend what is left on detail, top files first.
    def cost(k: int, s: int) -> int:
        return full.upto(k) + sigs.span(k, k + s) + paths.span(k + s, n)

    detailed = nf + ns
    nf = _max_true(nf, n, lambda k: cost(k, max(detailed - k, 0)) <= room)
    lo = max(detailed - nf, 0)
    ns = _max_true(lo, n - nf, lambda s: cost(nf, s) <= room)
    return Layout(files, nf, ns, n - nf - ns, rev)


def render_layout(lay: Layout) -> str:
    files, nf, ns, np_ = lay.files, lay.full, lay.signatures, lay.paths
    parts = [_header(len(files), nf, ns, np_, lay.omitted, int(bool(lay.part)))]
    if lay.part:
        parts.append(lay.part)
        parts.extend(render_path(f) for f in files[1 : 1 + np_])
        return "".join(parts)
    parts.extend(render_full(f, lay.imported_by.get(f.path, ())) for f in files[:nf])
    parts.extend(render_signatures(f) for f in files[nf : nf + ns])
    parts.extend(render_path(f) for f in files[nf + ns : nf + ns + np_])
    return "".join(parts)


def render_sheet(sheet: Sheet, budget: int | None = None) -> str:
    """The sheet as text; with ``budget``, at most that many tokens by ``estimate_tokens``
    ('' when the budget cannot hold even the header line)."""
    lay = layout(sheet, budget)
    return render_layout(lay) if lay is not None else ""
