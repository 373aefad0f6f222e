"""Rendering the sheet as text, optionally within a token budget.

Three levels of detail, highest-ranked files first: *full* (header with language, size
and module docstring, imports and imported-by, every symbol with its signature, lines
and docstring line), *signatures* (the symbols' signatures only), *path* (one line).
With a budget, a binary search picks how many files get full detail (keeping at least as
many at the signature level as at full detail while there are files left), then how many
of the rest get signatures; every remaining file is listed by path, or when even the
paths do not fit, the top paths that do.

Token estimate (see ``estimate_tokens``): ceil(characters / 3). Every chunk is estimated
on its own and the chunk estimates summed, which can only overshoot the estimate of the
joined text, so the rendered text never exceeds the budget by this estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tinygen.sheet.lines import indent
from tinygen.sheet.model import FileEntry, Sheet

CHARS_PER_TOKEN = 3.0
MAX_IMPORTED_BY = 8


def estimate_tokens(text: str) -> int:
    """A conservative token count for code-heavy text: ceil(len(text) / 3).

    Not measured against a real tokenizer (none is available offline here); BPE
    tokenizers typically give 3.5-4 characters per token on source code, so this should
    overestimate by roughly 15-30 %, erring on the side of staying inside the budget.
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _file_head(f: FileEntry) -> str:
    lang = f.language or "other"
    head = f"## {f.path} ({lang}, {f.lines} lines)"
    if f.flags:
        head += " [" + ", ".join(f.flags) + "]"
    return head


def render_full(f: FileEntry, imported_by: Sequence[str]) -> str:
    parts = [_file_head(f)]
    if f.doc:
        parts.append(f" — {f.doc}")
    parts.append("\n")
    if f.resolved:
        parts.append("  imports: " + ", ".join(f.resolved) + "\n")
    elif f.imports:
        external = [m for m in f.imports if not m.startswith((".", "/"))]
        if external:
            more = ", ..." if len(external) > 20 else ""
            parts.append("  uses: " + ", ".join(external[:20]) + more + "\n")
    if imported_by:
        shown = ", ".join(imported_by[:MAX_IMPORTED_BY])
        more_n = len(imported_by) - MAX_IMPORTED_BY
        parts.append(
            f"  imported by: {shown}" + (f" (+{more_n} more)" if more_n > 0 else "") + "\n"
        )
    parts.append(f.symbol_text())
    return "".join(parts)


def render_signatures(f: FileEntry) -> str:
    lines = [f"{indent(s.parent)}{s.signature}\n" for s in f.symbols if s.kind != "constant"]
    return _file_head(f) + "\n" + "".join(lines)


def render_path(f: FileEntry) -> str:
    return f"- {f.path}\n"


def imported_by_map(files: Sequence[FileEntry]) -> dict[str, list[str]]:
    rev: dict[str, list[str]] = {}
    for f in sorted(files, key=lambda e: e.path):
        for target in f.resolved:
            rev.setdefault(target, []).append(f.path)
    return rev


def _header(n: int, full: int, sigs: int, paths: int, omitted: int) -> str:
    text = f"# reference sheet: {n} files ({full} in full, {sigs} as signatures, {paths} as paths"
    return text + (f", {omitted} not shown)\n" if omitted else ")\n")


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


@dataclass(frozen=True)
class Layout:
    """Which files are shown at which level: files[:full] in full detail, the next
    ``signatures`` as signatures, the next ``paths`` as paths; the rest are not shown."""

    files: Sequence[FileEntry]
    full: int
    signatures: int
    paths: int
    imported_by: dict[str, list[str]]

    @property
    def omitted(self) -> int:
        return len(self.files) - self.full - self.signatures - self.paths

    def detailed(self) -> list[FileEntry]:
        return list(self.files[: self.full + self.signatures])


def layout(sheet: Sheet, budget: int | None) -> Layout | None:
    """The levels of detail that fit ``budget`` (None: everything in full); None when
    not even the header fits."""
    files: Sequence[FileEntry] = sheet.files
    if budget is not None and not sheet.ranked:
        from tinygen.sheet.rank import rank_files

        files = rank_files(sheet.files, sheet.query)[0]
    rev = imported_by_map(files)
    n = len(files)
    if budget is None:
        return Layout(files, n, 0, 0, rev)
    # Reserve the header at its widest so the counts can be filled in afterwards.
    room = budget - estimate_tokens(_header(n, n, n, n, n))
    if room < 0:
        return None
    full = _Costs(files, lambda f: render_full(f, rev.get(f.path, ())))
    sigs = _Costs(files, render_signatures)
    paths = _Costs(files, render_path)
    if paths.upto(n) > room:
        k = _max_true(0, n, lambda k: paths.upto(k) <= room)
        return Layout(files, 0, 0, k, rev)

    def cost(nf: int, ns: int) -> int:
        return full.upto(nf) + sigs.span(nf, nf + ns) + paths.span(nf + ns, n)

    nf = _max_true(0, n, lambda k: cost(k, min(k, n - k)) <= room)
    ns = _max_true(min(nf, n - nf), n - nf, lambda s: cost(nf, s) <= room)
    return Layout(files, nf, ns, n - nf - ns, rev)


def render_layout(lay: Layout) -> str:
    files, nf, ns, np_ = lay.files, lay.full, lay.signatures, lay.paths
    parts = [_header(len(files), nf, ns, np_, lay.omitted)]
    parts.extend(render_full(f, lay.imported_by.get(f.path, ())) for f in files[:nf])
    parts.extend(render_signatures(f) for f in files[nf : nf + ns])
    parts.extend(render_path(f) for f in files[nf + ns : nf + ns + np_])
    return "".join(parts)


def render_sheet(sheet: Sheet, budget: int | None = None) -> str:
    """The sheet as text; with ``budget``, at most that many tokens by ``estimate_tokens``
    ('' when the budget cannot hold even the header line)."""
    lay = layout(sheet, budget)
    return render_layout(lay) if lay is not None else ""
