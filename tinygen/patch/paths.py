"""Which repository files a diff's sections name: ``a/``/``b/`` prefixes, ``./``, partial
paths, and files that the diff itself creates, renames or deletes on the way."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from tinygen.patch.model import FilePatch


class Texts:
    """The files as the diff goes: each touched path's text before the diff and now
    (None = the file does not exist)."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = files
        self.state: dict[str, str | None] = {}
        self.before: dict[str, str | None] = {}

    def exists(self, p: str) -> bool:
        """Without reading the file (reading may fail: a binary file, say)."""
        if p in self.state:
            return self.state[p] is not None
        return p in self.files

    def current(self, p: str) -> str | None:
        if p in self.state:
            return self.state[p]
        try:
            text = self.files[p]
        except KeyError:
            text = None
        self.before.setdefault(p, text)
        return text

    def set(self, p: str, text: str | None) -> None:
        if p not in self.before:
            self.current(p)
        self.state[p] = text

    def changes(self) -> tuple[dict[str, str | None], dict[str, str | None]]:
        """(before, after) of the files whose text the diff changed."""
        after = {p: t for p, t in self.state.items() if t != self.before.get(p)}
        return {p: self.before.get(p) for p in after}, after


class Paths:
    """Resolve the diff's paths against the repository's files."""

    def __init__(self, files: Mapping[str, str], known: Collection[str] | None) -> None:
        self.files = files
        self._known = known
        self._sorted: list[str] | None = None
        self._names: dict[str, list[str]] | None = None

    def known(self) -> list[str]:
        """The repository's files, sorted (once: a diff may name many missing files)."""
        if self._sorted is None:
            self._sorted = sorted(self._known if self._known is not None else self.files.keys())
        return self._sorted

    def resolve(self, raw: str, prefixed: bool, texts: Texts, *, suffix: bool = True) -> str:
        raw = _strip_dot(raw)
        stripped = raw[2:] if raw[:2] in ("a/", "b/") else raw
        order = [stripped, raw] if prefixed else [raw, stripped]
        for cand in order:
            if cand and texts.exists(cand):
                return cand
        # A partial path naming one file only ("utils.py" for "src/pkg/utils.py"); never for
        # a file the diff creates, which is new exactly where it says.
        for cand in dict.fromkeys(order) if suffix else ():
            matches = self._by_name().get(cand.rsplit("/", 1)[-1], [])
            matches = [k for k in matches if k.endswith("/" + cand)]
            if len(matches) == 1:
                return matches[0]
        return order[0]

    def _by_name(self) -> dict[str, list[str]]:
        """The known files by their last path component, in sorted order."""
        if self._names is None:
            self._names = {}
            for k in self.known():
                self._names.setdefault(k.rsplit("/", 1)[-1], []).append(k)
        return self._names


@dataclass(frozen=True)
class Section:
    """One file section of the diff with its paths resolved: ``old`` None = a creation,
    ``new`` None = a deletion, both set and different = a rename."""

    fp: FilePatch
    old: str | None
    new: str | None

    @property
    def name(self) -> str:
        return self.new or self.old or self.fp.display_path


def resolve_section(fp: FilePatch, paths: Paths, texts: Texts) -> Section:
    """``fp`` with its paths resolved against the files as the diff has left them so far."""
    prefixed = fp.git_header or (
        (fp.old_path or "a/").startswith("a/") and (fp.new_path or "b/").startswith("b/")
    )
    old = paths.resolve(fp.old_path, prefixed, texts) if fp.old_path is not None else None
    # Only a file's own path may be completed from a suffix, never a creation or a rename
    # target: those are new exactly where the diff says.
    same = fp.old_path is not None and _bare(fp.old_path) == _bare(fp.new_path or "")
    new = (
        paths.resolve(fp.new_path, prefixed, texts, suffix=same)
        if fp.new_path is not None
        else None
    )
    if old is not None and texts.current(old) is None:
        fp = _for_missing_file(fp)
        # Context-free additions to a file that does not exist are how models create files.
        if fp.hunks and not any(h.old_lines for h in fp.hunks):
            old = None
    return Section(fp, old, new)


def _for_missing_file(fp: FilePatch) -> FilePatch:
    """A SEARCH/REPLACE block with several readings, for a file that does not exist: the
    one reading with an empty SEARCH (creating the file), if there is exactly one."""
    hunks = []
    for hunk in fp.hunks:
        creating = [h for h in hunk.alternatives if not h.old_lines]
        hunks.append(creating[0] if len(creating) == 1 else hunk)
    return dataclasses.replace(fp, hunks=hunks)


def _strip_dot(p: str) -> str:
    while p.startswith("./"):
        p = p[2:]
    return p


def _bare(p: str) -> str:
    p = _strip_dot(p)
    return p[2:] if p[:2] in ("a/", "b/") else p


__all__ = ["Paths", "Section", "Texts", "resolve_section"]
