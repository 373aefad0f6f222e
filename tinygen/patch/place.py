"""Find where a hunk's before-text is in a file, by content, and build its replacement.

A *location* is where the hunk's non-blank before-lines (context and removed) occur as
consecutive non-blank lines of the file, compared without surrounding whitespace, with
indentation that differs by one constant prefix (or not at all). Every location of every
strategy counts towards ambiguity, so a loose match elsewhere can never hide behind an
exact one: a hunk is placed only when exactly one location fits (or the diff's verified line
numbers single one out, see ``tinygen.patch.apply``).

At a location the replacement is built with the strictest strategy that fits:

- ``exact`` — the lines are identical;
- ``trailing-whitespace`` — identical once trailing whitespace is ignored;
- ``reindent`` — the hunk is quoted with more or less indentation than the file; its added
  lines are re-indented by the same prefix;
- ``blank-lines`` — blank lines differ between hunk and file; accepted only where the
  difference is in pure context (a gap with changes must have the same blank lines).

Context lines are always copied from the file (its whitespace and line endings win).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tinygen.patch.model import FileLine, Hunk, Line


def _indent(s: str) -> str:
    return s[: len(s) - len(s.lstrip())]


def _blank(s: str) -> bool:
    return not s.strip()


@dataclass(frozen=True)
class Indent:
    """How the file's indentation relates to the hunk's: ``add`` = the file has ``prefix``
    more, ``remove`` = the hunk has ``prefix`` more."""

    kind: str = "same"
    prefix: str = ""

    def apply(self, text: str) -> str | None:
        if self.kind == "same" or _blank(text):
            return text
        if self.kind == "add":
            return self.prefix + text
        return text[len(self.prefix) :] if text.startswith(self.prefix) else None


def indent_transform(pairs: list[tuple[str, str]]) -> Indent | None:
    """The one indentation change mapping every hunk line to its file line, or None."""
    found: tuple[str, str] | None = None
    for file_text, hunk_text in pairs:
        fi, hi = _indent(file_text), _indent(hunk_text)
        if fi == hi:
            cur = ("same", "")
        elif fi.endswith(hi):
            cur = ("add", fi[: len(fi) - len(hi)])
        elif hi.endswith(fi):
            cur = ("remove", hi[: len(hi) - len(fi)])
        else:
            return None
        if found is None:
            found = cur
        elif found != cur:
            return None
    return Indent(*found) if found else Indent()


class FileIndex:
    """A file's lines plus an index of its non-blank lines by stripped content, built once
    per file: every search anchors on the rarest line it looks for, so placing many hunks
    never rescans the file. It also remembers the locations of each before-text (a
    before-text repeated in many hunks, or found in many places, is searched for once)."""

    def __init__(self, lines: list[FileLine]) -> None:
        self.lines = lines
        self.nb: list[int] = []  # indexes of the non-blank lines
        self.keys: list[str] = []  # their stripped contents
        self.by_key: dict[str, list[int]] = {}  # stripped content -> positions in nb
        self.blank_at: dict[str, list[int]] = {}  # a blank line's exact content -> line indexes
        for i, ln in enumerate(lines):
            key = ln.content.strip()
            if key:
                self.by_key.setdefault(key, []).append(len(self.nb))
                self.nb.append(i)
                self.keys.append(key)
            else:
                self.blank_at.setdefault(ln.content, []).append(i)
        counts = Counter(ln.eol for ln in lines if ln.eol)
        self.eol = max(sorted(counts), key=lambda e: counts[e]) if counts else "\n"
        self.located: dict[tuple[str, ...], list[int]] = {}
        self.lowest: dict[tuple[tuple[str, bool], ...], int] = {}

    def rarest(self, keys: Sequence[str]) -> int:
        """The position in ``keys`` of the key the file has fewest of (the first of equals)."""
        return min(range(len(keys)), key=lambda j: len(self.by_key.get(keys[j], ())))


@dataclass(frozen=True)
class Application:
    """A placed hunk: ``lines[start:end]`` of the file become ``new_lines``."""

    start: int
    end: int
    strategy: str
    new_lines: tuple[FileLine, ...]
    # The hunk's word on the file's last newline, when it reaches the end: True = the last
    # line has none, False = it has one, None = the hunk has no "\ No newline" markers.
    last_no_eol: bool | None
    # The hunk's optional lines (trailing bare empty lines) are part of the placement:
    # ``start``-``end`` spans them, and a check of the placement must count them too.
    with_optional: bool = False


@dataclass(frozen=True)
class Refusal:
    """A location that fits but where the hunk cannot be applied (e.g. re-indent fails)."""

    start: int
    reason: str


def used_lines(hunk: Hunk, drop_optional: bool) -> list[Line]:
    return [ln for ln in hunk.lines if not (drop_optional and ln.optional)]


def _window_level(index: FileIndex, s: int, old: list[Line]) -> tuple[str, Indent] | None:
    lines = index.lines
    if s < 0 or s + len(old) > len(lines):
        return None
    level = 0  # 0 exact, 1 trailing whitespace, 2 re-indent
    pairs: list[tuple[str, str]] = []
    for k, ln in enumerate(old):
        fc, hc = lines[s + k].content, ln.text
        if fc == hc:
            if not _blank(fc):
                pairs.append((fc, hc))
            continue
        fr, hr = fc.rstrip(), hc.rstrip()
        if fr == hr:
            level = max(level, 1)
            if fr:
                pairs.append((fc, hc))
            continue
        if fr.strip() != hr.strip() or not fr.strip():
            return None
        level = 2
        pairs.append((fc, hc))
    if level < 2:
        return ("exact" if level == 0 else "trailing-whitespace"), Indent()
    transform = indent_transform(pairs)
    if transform is None:
        return None
    return "reindent", transform


def locate(index: FileIndex, hunk: Hunk) -> list[int]:
    """Every location (file index of the first non-blank before-line; for a hunk whose
    before-lines are all blank, the window start) where the hunk's before-text fits, in
    file order. The list is shared by hunks with the same before-text: do not change it."""
    old = tuple(ln.text for ln in hunk.lines if ln.old and not ln.optional)
    found = index.located.get(old)
    if found is None:
        found = index.located[old] = _locate(index, old)
    return found


def _locate(index: FileIndex, old: tuple[str, ...]) -> list[int]:
    lines = index.lines
    nbk = [k for k, text in enumerate(old) if not _blank(text)]
    if not nbk:
        if not old:
            return []
        # Nothing but blank lines to anchor on: only an exact match counts ("   " is not "").
        j = min(range(len(old)), key=lambda k: len(index.blank_at.get(old[k], ())))
        return [
            s
            for p in index.blank_at.get(old[j], [])
            if 0 <= (s := p - j) <= len(lines) - len(old)
            and all(lines[s + k].content == text for k, text in enumerate(old))
        ]
    hk = [old[k].strip() for k in nbk]
    j = index.rarest(hk)
    found: list[int] = []
    for p in index.by_key.get(hk[j], []):
        q = p - j
        if q < 0 or index.keys[q : q + len(hk)] != hk:
            continue
        anchors = index.nb[q : q + len(hk)]
        pairs = [(lines[a].content, old[k]) for a, k in zip(anchors, nbk, strict=True)]
        if indent_transform(pairs) is not None:
            found.append(anchors[0])
    return found


def _eol_for(index: FileIndex, f: int, ln: Line, eol_from_diff: bool) -> str:
    if eol_from_diff:
        return ln.eol
    lines = index.lines
    if f - 1 >= 0 and lines[f - 1].eol:
        return lines[f - 1].eol
    if f < len(lines) and lines[f].eol:
        return lines[f].eol
    return index.eol


def _markers(used: list[Line]) -> bool | None:
    if not any(ln.eol == "" for ln in used):
        return None
    new = [ln for ln in used if ln.new]
    return bool(new) and new[-1].eol == ""


def build(index: FileIndex, hunk: Hunk, anchor: int, eol_from_diff: bool) -> Application | Refusal:
    """The replacement for the hunk at ``anchor`` (a result of :func:`locate`)."""
    for drop in (False, True):
        used = used_lines(hunk, drop)
        old = [ln for ln in used if ln.old]
        nbk = [k for k, ln in enumerate(old) if not _blank(ln.text)]
        s = anchor - (nbk[0] if nbk else 0)
        fit = _window_level(index, s, old)
        if fit is None:
            continue
        strategy, transform = fit
        out: list[FileLine] = []
        f = s
        for ln in used:
            if ln.op == " ":
                out.append(index.lines[f])
                f += 1
            elif ln.op == "-":
                f += 1
            else:
                text = transform.apply(ln.text)
                if text is None:
                    return Refusal(s, _reindent_reason(ln, transform))
                out.append(FileLine(text, _eol_for(index, f, ln, eol_from_diff)))
        return Application(s, f, strategy, tuple(out), _markers(used), with_optional=not drop)
    return _build_blank_lines(index, hunk, anchor, eol_from_diff)


def _reindent_reason(ln: Line, transform: Indent) -> str:
    return (
        f"the hunk is indented {len(transform.prefix)} characters more than the file, "
        f"but its added line {ln.text.strip()!r} is not; cannot re-indent it"
    )


def _build_blank_lines(
    index: FileIndex, hunk: Hunk, anchor: int, eol_from_diff: bool
) -> Application | Refusal:
    """Blank lines differ: align on the non-blank before-lines, check each gap."""
    used = used_lines(hunk, True)
    nb_pos = [i for i, ln in enumerate(used) if ln.old and not _blank(ln.text)]
    lines = index.lines
    q = index.nb.index(anchor)
    anchors = index.nb[q : q + len(nb_pos)]
    transform = indent_transform(
        [(lines[a].content, used[i].text) for a, i in zip(anchors, nb_pos, strict=True)]
    )
    if transform is None:  # pragma: no cover - locate() checked this
        return Refusal(anchor, "indentation does not match")
    out: list[FileLine] = []

    def emit_added(ln: Line, f: int) -> bool:
        text = transform.apply(ln.text)
        if text is None:
            return False
        out.append(FileLine(text, _eol_for(index, f, ln, eol_from_diff)))
        return True

    # Segments of hunk lines around the anchors: lead, the gaps, trail.
    bounds = [-1, *nb_pos, len(used)]
    start = end = anchor
    for seg_no in range(len(bounds) - 1):
        seg = used[bounds[seg_no] + 1 : bounds[seg_no + 1]]
        changes = any(ln.op != " " for ln in seg)
        n_old = sum(1 for ln in seg if ln.old)
        if seg_no == 0:
            f0 = anchor - (n_old if changes else 0)
            start = f0
            file_gap = list(range(f0, anchor))
        elif seg_no == len(bounds) - 2:
            last = anchors[-1]
            file_gap = list(range(last + 1, last + 1 + (n_old if changes else 0)))
        else:
            file_gap = list(range(anchors[seg_no - 1] + 1, anchors[seg_no]))
        if file_gap and (file_gap[0] < 0 or file_gap[-1] >= len(lines)):
            return Refusal(anchor, "blank lines around the change are not in the file")
        if any(not _blank(lines[f].content) for f in file_gap):
            return Refusal(anchor, "blank lines around the change are not in the file")
        if not changes:
            out.extend(lines[f] for f in file_gap)
        elif len(file_gap) != n_old:
            return Refusal(
                anchor,
                f"the hunk has {n_old} blank line(s) where the file has {len(file_gap)}, "
                "next to lines it changes; quote the blank lines exactly",
            )
        else:
            it = iter(file_gap)
            for ln in seg:
                if ln.op == " ":
                    out.append(lines[next(it)])
                elif ln.op == "-":
                    next(it)
                elif not emit_added(ln, file_gap[0] if file_gap else anchor):
                    return Refusal(anchor, _reindent_reason(ln, transform))
        if seg_no < len(nb_pos):
            a = anchors[seg_no]
            if used[nb_pos[seg_no]].op == " ":
                out.append(lines[a])
            end = a + 1
        else:
            end = max(end, file_gap[-1] + 1 if file_gap and changes else end)
    return Application(start, end, "blank-lines", tuple(out), _markers(used))


STRATEGIES = ("exact", "trailing-whitespace", "reindent", "blank-lines")


def rank(app: Application | Refusal) -> int:
    """How strict a placement is: the index of its strategy in STRATEGIES; a refusal (or
    anything else) ranks after them all."""
    if isinstance(app, Refusal) or app.strategy not in STRATEGIES:
        return len(STRATEGIES)
    return STRATEGIES.index(app.strategy)


def _fit_level(index: FileIndex, hunk: Hunk, anchor: int) -> int:
    """The rank :func:`build` gives at ``anchor`` unless it refuses there (only a reindent
    or blank-lines fit can be refused), without building the replacement."""
    for drop in (False, True):
        old = [ln for ln in used_lines(hunk, drop) if ln.old]
        nbk = [k for k, ln in enumerate(old) if not _blank(ln.text)]
        fit = _window_level(index, anchor - (nbk[0] if nbk else 0), old)
        if fit is not None:
            return STRATEGIES.index(fit[0])
    return STRATEGIES.index("blank-lines")


@dataclass
class Placements:
    """Every placement of one hunk, in file order, each built when first asked for: a
    before-text found in many places (repeated lines) costs only the placements looked at.
    Either lazy over ``anchors`` (results of :func:`locate`) or a fixed list (``built``)."""

    index: FileIndex
    hunk: Hunk
    eol_from_diff: bool
    anchors: Sequence[int] | None = None
    built: dict[int, Application | Refusal] = field(default_factory=dict)

    @classmethod
    def of(cls, index: FileIndex, hunk: Hunk, apps: Sequence[Application | Refusal]) -> Placements:
        return cls(index, hunk, False, None, dict(enumerate(apps)))

    def __len__(self) -> int:
        return len(self.anchors) if self.anchors is not None else len(self.built)

    def __getitem__(self, k: int) -> Application | Refusal:
        app = self.built.get(k)
        if app is None:
            if self.anchors is None or not 0 <= k < len(self.anchors):
                raise IndexError(k)
            app = self.built[k] = build(self.index, self.hunk, self.anchors[k], self.eol_from_diff)
        return app

    def first(self, n: int) -> list[Application | Refusal]:
        return [self[k] for k in range(min(n, len(self)))]

    def starting_at(self, start: int) -> list[Application | Refusal]:
        """The placements whose ``start`` is ``start``. A placement starts at its anchor
        or as many lines before it as the before-text has before its first non-blank line,
        so only those two anchors are built."""
        if self.anchors is None:
            return [a for a in self.built.values() if a.start == start]
        old = [ln for ln in self.hunk.lines if ln.old and not ln.optional]
        lead = next((k for k, ln in enumerate(old) if not _blank(ln.text)), 0)
        out = []
        for anchor in dict.fromkeys((start, start + lead)):
            k = bisect.bisect_left(self.anchors, anchor)
            if k < len(self.anchors) and self.anchors[k] == anchor and self[k].start == start:
                out.append(self[k])
        return out

    def any_ranked_below(self, r: int) -> bool:
        """Whether some placement is stricter than rank ``r``. The lowest fit level over the
        locations is computed once per before-text; only when it is a reindent or
        blank-lines fit (which a hunk's added lines may turn into a refusal) are the
        placements themselves built."""
        if self.anchors is None:
            return any(rank(a) < r for a in self.built.values())
        key = tuple((ln.text, ln.optional) for ln in self.hunk.lines if ln.old)
        lowest = self.index.lowest.get(key)
        if lowest is None:
            levels = (_fit_level(self.index, self.hunk, a) for a in self.anchors)
            lowest = self.index.lowest[key] = min(levels, default=len(STRATEGIES))
        if lowest >= r:
            return False
        if lowest <= STRATEGIES.index("trailing-whitespace"):
            return True  # exact and trailing-whitespace fits are never refused
        return any(rank(self[k]) < r for k in range(len(self)))


__all__ = [
    "STRATEGIES",
    "Application",
    "FileIndex",
    "Indent",
    "Placements",
    "Refusal",
    "build",
    "indent_transform",
    "locate",
    "rank",
]
