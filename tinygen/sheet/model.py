"""The reference sheet's data: one FileEntry per walked file, its Symbols, and run stats.

``Symbol`` is a NamedTuple rather than a dataclass because it is made straight from
cached tuples (``Symbol._make``), and that must stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tinygen.sheet.extract_common import linking_names
from tinygen.sheet.lines import symbol_lines

if TYPE_CHECKING:
    from tinygen.sheet.cache import ColdStore
    from tinygen.sheet.index import RankIndex
    from tinygen.sheet.summaries import Summaries


# The ``refs`` of a cached record made by a build that did not rank (see scan.analyze):
# the first build that ranks fills them (and the term bag) in and stores them; until then
# an entry computes them itself on first use.
PENDING = "\0"


class Symbol(NamedTuple):
    """One definition. ``line`` is the 1-based line of the ``def``/``class`` keyword (not of
    a decorator: the same line Python's ``ast`` reports); ``end_line`` is the last line."""

    name: str
    kind: (
        str  # class | function | method | constant | struct | interface | enum | type | trait | ...
    )
    line: int
    end_line: int
    signature: str  # the definition's header on one line, e.g. "def f(a: int = 1) -> str"
    parent: str = ""  # enclosing class/impl for methods ("Outer.Inner" when nested)
    doc: str = ""  # first line of its docstring, if any
    decorators: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "line": self.line,
            "end_line": self.end_line,
            "signature": self.signature,
        }
        if self.parent:
            out["parent"] = self.parent
        if self.doc:
            out["doc"] = self.doc
        if self.decorators:
            out["decorators"] = list(self.decorators)
        return out


class FileEntry:
    """What the sheet knows about one file. Unparsed languages have no symbols or imports.

    A plain class rather than a dataclass so that parts can be lazy: entries built from
    the cache get the full-detail text of their symbols (``symbol_text()``) up front and
    fetch the rest (``symbols``, ``refs``, ``defs``, ``terms``) from the cache's cold
    store on first use, decoding their Symbols only then: printing the sheet of a large
    repository needs none of them, ranking needs the strings, JSON the symbols.
    """

    __slots__ = (
        "_body",
        "_cold",
        "_defs",
        "_packed",
        "_refs",
        "_root",
        "_symbols",
        "_terms",
        "blob",
        "doc",
        "flags",
        "imports",
        "language",
        "lines",
        "path",
        "resolved",
        "score",
        "size",
    )

    def __init__(
        self,
        path: str,  # repository-relative, POSIX separators
        language: str | None,
        size: int,  # bytes
        lines: int,
        blob: str,  # git blob SHA-1 of the content that was read
        doc: str = "",  # first line of the module docstring
        imports: tuple[str, ...] = (),  # as written: "os.path", "..utils", "./foo", "crate::x"
        resolved: tuple[str, ...] = (),  # repository paths those imports resolve to
        symbols: tuple[Symbol, ...] = (),
        refs: str = "",  # identifiers the file uses, space-separated (split only when ranking)
        flags: tuple[str, ...] = (),  # "non-utf8", "crlf", "symlink", "syntax-error"
        score: float = 0.0,  # PageRank score (0 when not ranked)
        *,
        symbol_text: str | None = None,  # cached ``lines.symbol_lines`` of the symbols
        cold: tuple[ColdStore, str] | None = None,  # (store, key): the rest, on demand
    ) -> None:
        self.path = path
        self.language = language
        self.size = size
        self.lines = lines
        self.blob = blob
        self.doc = doc
        self.imports = imports
        self.resolved = resolved
        self.flags = flags
        self.score = score
        self._refs = refs
        self._root = ""  # where to read the file when its refs are PENDING
        self._symbols: tuple[Symbol, ...] | None = symbols
        self._packed: bytes | None = None
        self._body = symbol_text
        self._defs: str | None = None
        self._terms: bytes | None = None  # marshal of {word part: count}; None: not known
        self._cold = cold
        if cold is not None:
            self._symbols = None

    def _fetch(self) -> None:
        assert self._cold is not None
        store, key = self._cold
        self._cold = None
        _imports, self._packed, self._refs, self._defs, terms = store.get(key)
        self._terms = terms or None  # empty: pending, computed with the refs on first use
        self._root = store.root

    def rank_data_pending(self) -> bool:
        """Whether ``refs`` (and ``terms``) are not in the cache yet."""
        if self._cold is not None:
            self._fetch()
        return self._refs == PENDING

    @property
    def symbols(self) -> tuple[Symbol, ...]:
        if self._cold is not None:
            self._fetch()
        syms = self._symbols
        if syms is None:
            import marshal

            syms = self._symbols = tuple(map(Symbol._make, marshal.loads(self._packed or b"")))
            self._packed = None
        return syms

    @symbols.setter
    def symbols(self, value: tuple[Symbol, ...]) -> None:
        if self._cold is not None:
            self._fetch()
        self._symbols, self._packed = value, None
        self._body = self._defs = None

    @property
    def refs(self) -> str:
        """Identifiers the file uses, space-separated (split only when ranking)."""
        if self._cold is not None:
            self._fetch()
        if self._refs == PENDING:
            self._from_disk()
        return self._refs

    @refs.setter
    def refs(self, value: str) -> None:
        if self._cold is not None:
            self._fetch()
        self._refs = value

    def _from_disk(self) -> None:
        import marshal

        # Here, not at the top: scan imports this module (PENDING).
        from tinygen.sheet.scan import rank_data_from_disk

        packed = self._packed
        if packed is None:
            packed = marshal.dumps(tuple(tuple(s) for s in self.symbols))
        found = rank_data_from_disk(self._root, self.path, self.blob, self.size, self.doc, packed)
        # Not there as it was: no references or terms to offer.
        self._refs, self._terms = found or ("", marshal.dumps({}))

    def symbol_text(self) -> str:
        """The symbols as the full-detail render prints them."""
        if self._body is None:
            self._body = symbol_lines(self.symbols)
        return self._body

    @property
    def defs(self) -> str:
        """Names of the definitions that link files in the rank graph, space-separated."""
        if self._cold is not None:
            self._fetch()
        if self._defs is None:
            self._defs = linking_names(self.symbols)
        return self._defs

    @property
    def terms(self) -> bytes:
        """The content channel's term bag: marshal of {word part: count} (see scan.py)."""
        if self._cold is not None:
            self._fetch()
        if self._terms is None:
            if self._refs == PENDING and self._root:
                self._from_disk()
            else:
                self._no_terms()
        assert self._terms is not None
        return self._terms

    @terms.setter
    def terms(self, value: bytes) -> None:
        if self._cold is not None:
            self._fetch()
        self._terms = value

    def _no_terms(self) -> None:
        import marshal

        self._terms = marshal.dumps({})

    def _key(self) -> tuple[object, ...]:
        return (
            self.path,
            self.language,
            self.size,
            self.lines,
            self.blob,
            self.doc,
            self.imports,
            self.resolved,
            self.symbols,
            self.refs,
            self.flags,
            self.score,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FileEntry):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable (score), like the dataclass was

    def __repr__(self) -> str:
        return (
            f"FileEntry(path={self.path!r}, language={self.language!r}, lines={self.lines}, "
            f"blob={self.blob!r}, symbols={len(self.symbols)}, score={self.score!r})"
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "language": self.language,
            "size": self.size,
            "lines": self.lines,
            "blob": self.blob,
            "doc": self.doc,
            "imports": list(self.imports),
            "resolved_imports": list(self.resolved),
            "symbols": [s.as_dict() for s in self.symbols],
        }
        if self.flags:
            out["flags"] = list(self.flags)
        if self.score:
            out["score"] = round(self.score, 6)
        return out


@dataclass
class SheetStats:
    files_seen: int = 0  # every path the walk listed
    files_listed: int = 0  # entries in the sheet (seen minus skipped)
    parsed: int = 0  # entries with a tree-sitter grammar
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    cache_hits: int = 0
    cache_misses: int = 0
    non_utf8: int = 0
    workers: int = 1  # processes used for the files that were not cached
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "files_seen": self.files_seen,
            "files_listed": self.files_listed,
            "parsed": self.parsed,
            "skipped": dict(sorted(self.skipped.items())),
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "looked_up": self.looked_up,
            "non_utf8": self.non_utf8,
            "workers": self.workers,
            "seconds": round(self.seconds, 4),
        }

    @property
    def looked_up(self) -> int:
        """Files whose contents were looked up in the cache: every file read, skipped ones
        (binary, minified by content, ...) included; not those skipped by path or links."""
        return self.cache_hits + self.cache_misses

    def summary(self) -> str:
        """One line whose counts add up: seen = listed + skipped, and the cache's hits and
        misses are of the files looked up (which may be more than those listed)."""
        skipped = sum(self.skipped.values())
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items()))
        return (
            f"files seen {self.files_seen} = listed {self.files_listed} (parsed {self.parsed}) "
            f"+ skipped {skipped}" + (f" ({reasons})" if reasons else "") + "; "
            f"cache: {self.looked_up} file(s) looked up = hits {self.cache_hits} + misses "
            f"{self.cache_misses}; non-UTF-8 {self.non_utf8}; workers {self.workers}; "
            f"{self.seconds:.3f} s"
        )


def _path_only(f: FileEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"path": f.path, "language": f.language, "lines": f.lines}
    if f.score:
        out["score"] = round(f.score, 6)
    return out


@dataclass
class Sheet:
    root: Path
    files: list[FileEntry]  # rank order when built with a query, else path order
    stats: SheetStats
    paths: frozenset[str]  # every walked path, skipped ones included
    skipped: dict[str, str] = field(default_factory=dict)  # path -> reason
    mentioned: list[str] = field(default_factory=list)  # paths the query names, most specific first
    query: str = ""
    ranked: bool = False  # files carry rank scores
    index: RankIndex | None = None  # the rank index of ``files`` (built when ranking)
    # every tracked path in the work tree -> (git mode, blob SHA; None when the work
    # tree's content differs from the index and the walk did not read it): what the
    # folders' tree SHAs are computed from (sheet.summaries)
    tracked: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    # the cached summaries of its files and folders (sheet.summaries), when asked for and
    # found: ranked as a channel and shown by the render; None shows and ranks as before
    summaries: Summaries | None = None

    def by_path(self) -> dict[str, FileEntry]:
        return {f.path: f for f in self.files}

    def as_dict(
        self,
        shown: list[tuple[FileEntry, str]] | None = None,
        folders: list[tuple[str, int]] | None = None,
    ) -> dict[str, Any]:
        """Every file; with ``shown`` ((entry, level) pairs from a budgeted layout), those
        files only, each with its ``detail`` ("full", "part", "signatures", "path"; a
        file shown as a path only has no symbols listed). With summaries, each file's
        ``summary``, the ``overview``, and ``folders``: every folder with a summary, or
        with ``folders`` ((folder, files held) from a budgeted layout) those."""
        if shown is None:
            files = [f.as_dict() for f in self.files]
        else:
            files = []
            for f, level in shown:
                item = f.as_dict() if level != "path" else _path_only(f)
                item["detail"] = level
                files.append(item)
        out: dict[str, Any] = {
            "root": str(self.root),
            "query": self.query,
            "mentioned": list(self.mentioned),
            "files": files,
            "stats": self.stats.as_dict(),
        }
        if self.summaries:
            self._add_summaries(out, folders)
        return out

    def _add_summaries(self, out: dict[str, Any], folders: list[tuple[str, int]] | None) -> None:
        assert self.summaries is not None
        for item in out["files"]:
            text = self.summaries.file_text(item["path"])
            if text:
                item["summary"] = text
        if folders is None:
            held: dict[str, int] = {}
            for f in self.files:
                parts = f.path.split("/")[:-1]
                for i in range(len(parts)):
                    folder = "/".join(parts[: i + 1])
                    held[folder] = held.get(folder, 0) + 1
            folders = [(p, held.get(p, 0)) for p in sorted(self.summaries.folders)]
        out["folders"] = [
            {"path": p, "files": k, "summary": self.summaries.folder_text(p)} for p, k in folders
        ]
        overview = self.summaries.overview
        out["overview"] = overview.text if overview is not None else None

    def to_json(
        self,
        shown: list[tuple[FileEntry, str]] | None = None,
        folders: list[tuple[str, int]] | None = None,
    ) -> str:
        """One JSON object; non-ASCII text as is, unless a file name is not UTF-8 (kept as
        lone surrogates by the walk): then everything non-ASCII is \\u-escaped, so that
        the output is valid UTF-8 whatever the names."""
        import json

        data = self.as_dict(shown, folders)
        text = json.dumps(data, ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = json.dumps(data)
        return text


__all__ = ["PENDING", "FileEntry", "Sheet", "SheetStats", "Symbol"]
