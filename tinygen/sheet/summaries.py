"""Summaries kept beside the sheet cache: one per file (keyed by its blob SHA), per folder
(keyed by its git tree SHA) and one overview of the repository (the root tree's SHA).

This module stores and looks them up; making them is :mod:`tinygen.summarize` (the
sheet never calls a model). Every record is keyed by content, the model that wrote it and
the version of the prompt that asked for it, so a record is never stale: a changed file
has another blob SHA, and a folder holding it another tree SHA, so after a commit that
changes one file only that file and its ancestor folders miss.

Folder keys are git's own tree SHAs, computed here from the walk's listing (mode and blob
of every tracked file, working-tree content for changed files): for a clean checkout they
equal ``git rev-parse HEAD:folder``, so a record made by any clone of the same commit (the
Action's cache, a teammate's run) is found again.

The store is one JSON file, ``.git/tinygen/summaries.json``, replaced atomically; a
writer merges what is on disk first, so two concurrent writers lose nothing but races
on the same key (whose records are equivalent). A file that cannot be read is set aside
with a warning and rebuilt.

A reader pays little for it: beside the store, ``summaries-index.bin`` keeps its records
already checked and each record's term bag (what the ranking's summary channel reads),
under the SHA-1 of the store's bytes and the tokenizer's version. A store that another
writer changed misses it and is parsed again; the first reader that needs the term bags
writes a new one. The index is only a cache: unreadable or stale, it is ignored. So is
``tree-shas.bin``, the folder SHAs of the last listing a reader hashed (under a digest of
that listing), which spares a warm read hashing every tree again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import os
import re
import subprocess
import unicodedata
import warnings
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, astuple, dataclass, field
from pathlib import Path
from typing import Literal

from tinygen.errors import RepoError, TinygenWarning
from tinygen.repo.atomic import replace_file
from tinygen.repo.git import git_env, state_dir
from tinygen.safejson import loads
from tinygen.sheet.model import Sheet
from tinygen.sheet.words import WORDS_VERSION, query_terms

STORE_NAME = "summaries.json"
STORE_FORMAT = 1
MAX_STORE_BYTES = 200_000_000  # far above any repository's summaries; a cap on what is read
INDEX_NAME = "summaries-index.bin"
SHAS_NAME = "tree-shas.bin"  # the folder SHAs of the last listing read (see folder_shas)
INDEX_VERSION = f"1.{WORDS_VERSION}"  # with the tokenizer's: the term bags are its output
MAX_SUMMARY_CHARS = 4000  # a record's text is cut here when read (a model may ramble)
ROOT = ""  # the repository's own folder: its record is the overview

Kind = Literal["file", "folder", "overview"]
_TREE_MODE_BYTES = b"40000 "


class SummaryStoreWarning(TinygenWarning):
    """The summary store could not be read."""


@dataclass(frozen=True)
class SummaryRecord:
    """One summary as the model gave it, with what it cost."""

    kind: Kind
    text: str  # what the file or folder is for; the overview's paragraphs
    model: str
    prompt: str  # the prompt version that asked for it
    entry_points: tuple[str, ...] = ()  # a file's main names, as the model named them
    input_tokens: int = 0
    output_tokens: int = 0
    path: str = ""  # where it was when made (for people reading the store; not a key)

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["entry_points"] = list(self.entry_points)
        return out

    @classmethod
    def from_json(cls, value: object) -> SummaryRecord | None:
        if not isinstance(value, dict):
            return None
        try:
            kind = value["kind"]
            if kind not in ("file", "folder", "overview"):
                return None
            points = value.get("entry_points", [])
            return cls(
                kind=kind,
                text=plain_text(str(value["text"]), paragraphs=kind == "overview"),
                model=str(value["model"]),
                prompt=str(value["prompt"]),
                entry_points=tuple(
                    plain_text(p, 100) for p in points[:20] if isinstance(p, str) and p.strip()
                ),
                input_tokens=int(value.get("input_tokens", 0)),
                output_tokens=int(value.get("output_tokens", 0)),
                path=str(value.get("path", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _preference(record: SummaryRecord, model: str | None) -> tuple[bool, int, str, str]:
    version = int(record.prompt) if record.prompt.isdigit() else -1
    return (record.model == model, version, record.prompt, record.model)


def plain_text(text: str, limit: int = MAX_SUMMARY_CHARS, *, paragraphs: bool = False) -> str:
    """A model's text made safe to print, store and put in a prompt or a Markdown file: no
    control, format (zero-width, direction, tag) or private-use characters, runs of
    whitespace as one space (blank-line paragraph breaks kept when asked), cut at
    ``limit``."""
    if text.isprintable() and len(text) <= limit and "  " not in text:
        return text.strip()  # the common case, at C speed
    text = text.replace("\r\n", "\n")
    chunks = re.split(r"\n\s*\n", text) if paragraphs else [text]
    kept = [" ".join(_visible(c).split()) for c in chunks]
    return "\n\n".join(k for k in kept if k)[:limit].strip()


_SPACES = frozenset({"Cc", "Zs", "Zl", "Zp"})  # line breaks, tabs, odd spaces: a space


def _visible(text: str) -> str:
    return "".join(
        c if c.isprintable() else (" " if unicodedata.category(c) in _SPACES else "") for c in text
    )


def record_key(kind: Kind, sha: str, model: str, prompt: str) -> str:
    return f"{kind}:{sha}:{model}:{prompt}"


def term_bag(text: str) -> dict[str, int]:
    """The terms of a summary as the ranking counts them (its BM25 document)."""
    return dict(Counter(query_terms(text)))


def ranked_text(kind: str, record: SummaryRecord) -> str:
    """What the ranking reads of a record looked up as ``kind`` (its key's, which a
    hand-edited store may make differ from ``record.kind``): a file's summary with its
    entry points, a folder's (or the overview's) summary alone."""
    if kind == "file":
        return " ".join((record.text, *record.entry_points))
    return record.text


class SummaryStore:
    """The records of one repository; ``folder`` None keeps them in memory only."""

    def __init__(
        self,
        folder: Path | None,
        records: dict[str, SummaryRecord] | None = None,
        digest: str | None = None,
        terms: dict[str, dict[str, int]] | None = None,
    ):
        self.folder = folder
        self.records: dict[str, SummaryRecord] = records or {}
        self._new: dict[str, SummaryRecord] = {}
        # the SHA-1 of the file ``records`` are exactly what of (None: no such file)
        self.digest = digest
        self._terms: dict[str, dict[str, int]] = terms or {}  # key -> term_bag
        # (kind, sha) -> keys, for lookups by content whatever the model
        self._by_content: dict[tuple[str, str], list[str]] = {}
        for key in self.records:
            self._index(key)

    @property
    def path(self) -> Path | None:
        return self.folder / STORE_NAME if self.folder is not None else None

    @classmethod
    def for_root(cls, root: Path) -> SummaryStore:
        """The store of the repository at ``root`` (in memory only when its git directory
        has no place for it)."""
        try:
            folder: Path | None = state_dir(root)
        except RepoError:
            folder = None
        return cls.load(folder)

    @classmethod
    def load(cls, folder: Path | None) -> SummaryStore:
        if folder is None:
            return cls(None)
        path = folder / STORE_NAME
        data = _read_bytes(path)
        if data is None:
            return cls(folder)
        digest = hashlib.sha1(data).hexdigest()
        indexed = _read_index(folder / INDEX_NAME, digest)
        if indexed is not None:
            return cls(folder, *indexed)
        records = _parse(data, path)
        if records is None:  # set aside
            return cls(folder)
        return cls(folder, records, digest)

    def _index(self, key: str) -> None:
        kind, sha, _rest = key.split(":", 2)
        self._by_content.setdefault((kind, sha), []).append(key)

    def get(self, kind: Kind, sha: str, model: str, prompt: str) -> SummaryRecord | None:
        return self.records.get(record_key(kind, sha, model, prompt))

    def best(self, kind: Kind, sha: str, model: str | None = None) -> SummaryRecord | None:
        """The record for this content by ``model`` if there is one, else by any model
        (the newest prompt version first): a reader shows what exists rather than nothing."""
        key = self.best_key(kind, sha, model)
        return self.records[key] if key is not None else None

    def best_key(self, kind: Kind, sha: str, model: str | None = None) -> str | None:
        """The key of :meth:`best`'s record."""
        keys = self._by_content.get((kind, sha))
        if not keys:
            return None
        # the asked model first, then the newest prompt version (numbers compared as
        # numbers), then the last model name: the same answer whatever the file's order
        return max(keys, key=lambda k: _preference(self.records[k], model))

    def term_bags(self) -> dict[str, dict[str, int]]:
        """Every record's :func:`term_bag` of its :func:`ranked_text`, by key: read with
        the store when its index was current, else made here (and the index written, when
        the records are exactly those of the file)."""
        missing = [key for key in self.records if key not in self._terms]
        if missing:
            for key in missing:
                kind = key.partition(":")[0]
                self._terms[key] = term_bag(ranked_text(kind, self.records[key]))
            if self.folder is not None and self.digest is not None and not self._new:
                _write_index(self.folder / INDEX_NAME, self.digest, self.records, self._terms)
        return self._terms

    def put(self, sha: str, record: SummaryRecord) -> None:
        key = record_key(record.kind, sha, record.model, record.prompt)
        if key not in self.records:
            self._index(key)
        self.records[key] = record
        self._new[key] = record
        self._terms.pop(key, None)

    def merge(self, other: SummaryStore) -> int:
        """Take the records of ``other`` that this store lacks (written by the next
        :meth:`save`); how many. Records are keyed by content: the other's are never stale,
        at worst unused."""
        added = 0
        for key, record in other.records.items():
            if key not in self.records:
                self.records[key] = record
                self._new[key] = record
                self._index(key)
                added += 1
        return added

    @property
    def unsaved(self) -> int:
        return len(self._new)

    def save(self) -> None:
        """Write the new records, merged with whatever the file holds now (another run
        may have added some since this store was loaded)."""
        if self.folder is None or not self._new:
            return
        path = self.folder / STORE_NAME
        merged = _read(path)
        merged.update(self._new)
        replace_file(path, _encode(merged))
        for key, record in merged.items():
            if key not in self.records:
                self.records[key] = record
                self._index(key)
        self._new.clear()
        # what was loaded may differ from what the file now holds for a few keys (a
        # concurrent writer's equivalent records): the index is left to the next load
        self.digest = None

    def prune(self, keep: Collection[tuple[str, str]], limit: int) -> int:
        """When the file holds more than ``limit`` records, drop every record whose
        (kind, SHA) is not in ``keep`` — summaries no current file or folder uses: older
        versions, other branches — so that a store refreshed on every push stays the size
        of the tree; how many were dropped."""
        if self.folder is None:
            return 0
        self.save()
        path = self.folder / STORE_NAME
        records = _read(path)
        if len(records) <= limit:
            return 0
        kept = {k: r for k, r in records.items() if tuple(k.split(":", 2)[:2]) in keep}
        replace_file(path, _encode(kept))
        self.records = kept
        self._by_content = {}
        for key in kept:
            self._index(key)
        self.digest = None
        return len(records) - len(kept)


def _encode(records: Mapping[str, SummaryRecord]) -> bytes:
    payload = {
        "format": STORE_FORMAT,
        "records": {k: r.to_json() for k, r in sorted(records.items())},
    }
    # a lone surrogate (a file name that is not UTF-8) must not make the file unreadable
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def _read(path: Path) -> dict[str, SummaryRecord]:
    data = _read_bytes(path)
    return (_parse(data, path, writer=True) or {}) if data is not None else {}


def _read_bytes(path: Path) -> bytes | None:
    try:
        size = path.stat().st_size
        if size > MAX_STORE_BYTES:
            warnings.warn(
                f"the summary store {path} is {size:,} bytes, more than the "
                f"{MAX_STORE_BYTES:,} tinygen reads; it is ignored (delete it to start again)",
                SummaryStoreWarning,
                stacklevel=4,
            )
            return None
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        warnings.warn(f"cannot read {path}: {exc}", SummaryStoreWarning, stacklevel=4)
        return None


def _parse(data: bytes, path: Path, *, writer: bool = False) -> dict[str, SummaryRecord] | None:
    """The valid records of the store ``data`` (read from ``path``); None when it is
    unusable. A reader leaves such a file alone (it may be a newer tinygen's); a writer,
    about to replace it, sets it aside as ``.json.bad`` first."""
    try:
        what = f"the summary store {path}"
        if len(data) <= MAX_STORE_BYTES and b"\\ud" not in data and b"\\uD" not in data:
            # Our own file, written as UTF-8 without escapes but for control characters:
            # without a surrogate escape the plain parser gives the same value (a nesting
            # too deep for it raises RecursionError, set aside below like any other).
            value = json.loads(data.decode("utf-8"))
        else:  # over the cap (refused), or a lone surrogate to repair
            value = loads(data, what, max_bytes=MAX_STORE_BYTES)
        if not isinstance(value, dict) or value.get("format") != STORE_FORMAT:
            raise ValueError("not a summary store of this version")
        records = value["records"]
        if not isinstance(records, dict):
            raise ValueError("no records")
    except Exception as exc:  # any unreadable store
        if writer:
            warnings.warn(
                f"the summary store {path} is unusable ({exc}); it is kept as "
                f"{path.name}.bad and a new one is started",
                SummaryStoreWarning,
                stacklevel=4,
            )
            with contextlib.suppress(OSError):
                os.replace(path, path.with_suffix(".json.bad"))
        else:
            warnings.warn(
                f"the summary store {path} is unusable ({exc}); no summaries are used "
                "(`tinygen summarize` starts a new one)",
                SummaryStoreWarning,
                stacklevel=4,
            )
        return None
    out: dict[str, SummaryRecord] = {}
    for key, raw in records.items():
        record = SummaryRecord.from_json(raw)
        if record is not None and isinstance(key, str) and key.count(":") >= 3:
            out[key] = record
    return out


_Indexed = tuple[dict[str, SummaryRecord], str, dict[str, dict[str, int]]]


def _read_index(path: Path, digest: str) -> _Indexed | None:
    """(records, digest, term bags) from the index when it is of the store whose bytes
    have ``digest``, else None."""
    head = _index_head(digest)
    try:
        data = path.read_bytes()
        if not data.startswith(head):
            return None
        rows, terms = marshal.loads(memoryview(data)[len(head) :])
        records = {key: SummaryRecord(*row) for key, row in rows.items()}
    except (OSError, EOFError, ValueError, TypeError):
        return None  # no index, or one this code did not write: the store is parsed
    if not isinstance(terms, dict) or terms.keys() != records.keys():
        return None
    return records, digest, terms


def _index_head(digest: str) -> bytes:
    return f"tinygen summaries index {INDEX_VERSION} {digest}\n".encode()


def _write_index(
    path: Path, digest: str, records: dict[str, SummaryRecord], terms: dict[str, dict[str, int]]
) -> None:
    rows = {key: astuple(r) for key, r in records.items()}
    data = _index_head(digest) + marshal.dumps((rows, terms))
    with contextlib.suppress(OSError):  # a cache: a read-only .git only costs the next run
        replace_file(path, data)


# ---------------------------------------------------------------------------------------
# Tree SHAs


Tracked = tuple[str, str, str]  # (path, mode, SHA): a tracked path as git's tree holds it


def tree_shas(entries: Iterable[Tracked]) -> dict[str, str]:
    """git's tree SHA of every folder holding ``entries`` ("" for the root), computed the
    way git writes trees: entries sorted by name with folders compared as ``name/``."""
    # folder -> {name: (sort key, the entry as the tree object holds it)}
    folders: dict[str, dict[bytes, tuple[bytes, bytes]]] = {ROOT: {}}
    modes: dict[str, bytes] = {}
    for path, mode, sha in entries:
        parent, _, name = path.rpartition("/")
        here = folders.get(parent)
        if here is None:
            here = folders[parent] = {}
            up = parent.rpartition("/")[0]
            while up not in folders:  # a folder not seen yet (the root always is)
                folders[up] = {}
                up = up.rpartition("/")[0]
        head = modes.get(mode)
        if head is None:
            head = modes[mode] = mode.encode() + b" "
        raw = name.encode("utf-8", "surrogateescape")
        here[raw] = (raw, head + raw + b"\0" + bytes.fromhex(sha))
    shas: dict[str, str] = {}
    # deepest first, so that a folder's subfolders are in it when it is written
    for folder in sorted(folders, key=lambda p: p.count("/") + (p != ROOT), reverse=True):
        body = b"".join([entry for _key, entry in sorted(folders[folder].values())])
        digest = hashlib.sha1(b"tree %d\0%s" % (len(body), body)).digest()
        shas[folder] = digest.hex()
        if folder != ROOT:
            parent, _, name = folder.rpartition("/")
            raw = name.encode("utf-8", "surrogateescape")
            folders[parent][raw] = (raw + b"/", _TREE_MODE_BYTES + raw + b"\0" + digest)
    return shas


def hash_objects(root: Path, paths: list[str]) -> dict[str, str]:
    """git's blob SHAs of working-tree files (as ``git add`` would store them)."""
    if not paths:
        return {}
    proc = subprocess.run(
        ["git", "hash-object", "--stdin-paths"],
        cwd=root,
        input="\n".join(paths).encode("utf-8", "surrogateescape") + b"\n",
        capture_output=True,
        env=git_env(),
        check=False,
    )
    if proc.returncode != 0:
        return {}
    shas = proc.stdout.decode().split()
    return dict(zip(paths, shas, strict=False)) if len(shas) == len(paths) else {}


def _link_sha(root: Path, path: str) -> str | None:
    """git's blob SHA of a symlink: of the text of its target."""
    try:
        target = os.fsencode(os.readlink(root / path))
    except OSError:
        return None
    h = hashlib.sha1(b"blob %d\0" % len(target))
    h.update(target)
    return h.hexdigest()


def folder_shas(sheet: Sheet, cache: Path | None = None) -> dict[str, str]:
    """The git tree SHA of every folder of the sheet's working tree ("" for the root);
    with ``cache`` (the state folder), kept there for the next call with the same
    listing."""
    known = {f.path: f.blob for f in sheet.files if f.blob}
    entries: list[Tracked] = []
    unknown: list[str] = []
    for path, (mode, blob) in sheet.tracked.items():
        sha = blob or known.get(path)
        if sha is None and mode == "120000":
            sha = _link_sha(sheet.root, path)  # (git hash-object would follow the link)
        if sha is None:
            unknown.append(path)
        else:
            entries.append((path, mode, sha))
    if unknown:
        # changed in the work tree and not read by the walk (skipped: too large, binary);
        # only regular files are given to git, whose one failure would fail them all
        hashable = [
            p
            for p in unknown
            if "\n" not in p
            and sheet.tracked[p][0] != "160000"
            and os.path.isfile(sheet.root / p)
            and not os.path.islink(sheet.root / p)
        ]
        hashed = hash_objects(sheet.root, hashable)
        for path in unknown:
            if path in hashed:
                entries.append((path, sheet.tracked[path][0], hashed[path]))
            else:
                # No SHA to be had: a made-up one, so its folders miss rather than match.
                fake = hashlib.sha1(f"unknown:{path}".encode("utf-8", "surrogateescape"))
                entries.append((path, sheet.tracked[path][0], fake.hexdigest()))
    return _cached_tree_shas(entries, cache) if cache is not None else tree_shas(entries)


def _cached_tree_shas(entries: list[Tracked], folder: Path) -> dict[str, str]:
    """:func:`tree_shas`, kept in ``folder`` under a digest of ``entries``: a warm read
    hashes the listing (a few ms on Django's 6,890 paths) instead of every tree."""
    listing = "\0".join([f"{path}\0{mode}\0{sha}" for path, mode, sha in entries])
    digest = hashlib.sha1(listing.encode("utf-8", "surrogateescape")).hexdigest()
    head = f"tinygen tree shas 1 {digest}\n".encode()
    path = folder / SHAS_NAME
    with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
        data = path.read_bytes()
        if data.startswith(head):
            shas = marshal.loads(memoryview(data)[len(head) :])
            if isinstance(shas, dict) and ROOT in shas:
                return shas
    shas = tree_shas(entries)
    with contextlib.suppress(OSError):  # a cache: a read-only .git only costs the next run
        replace_file(path, head + marshal.dumps(shas))
    return shas


# ---------------------------------------------------------------------------------------
# What a reader (map, ranking, the brainstorm pass) sees


@dataclass
class Summaries:
    """The summaries found for one sheet: by file path, by folder path, the overview."""

    files: dict[str, SummaryRecord] = field(default_factory=dict)
    folders: dict[str, SummaryRecord] = field(default_factory=dict)
    overview: SummaryRecord | None = None
    # the term bags of ``files`` and ``folders`` when the store had them (see term_bags)
    file_terms: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)
    folder_terms: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)

    def __bool__(self) -> bool:
        return bool(self.files or self.folders or self.overview)

    def file_text(self, path: str) -> str:
        record = self.files.get(path)
        return record.text if record is not None else ""

    def folder_text(self, path: str) -> str:
        record = self.folders.get(path)
        return record.text if record is not None else ""

    def file_bags(self) -> dict[str, dict[str, int]]:
        """Each file's term bag (its summary and entry points), as the ranking reads it."""
        if self.file_terms.keys() == self.files.keys():
            return self.file_terms  # (all from the store)
        return {
            path: _bag(self.file_terms, path, "file", record) for path, record in self.files.items()
        }

    def folder_bags(self) -> dict[str, dict[str, int]]:
        """Each folder's term bag (its summary)."""
        if self.folder_terms.keys() == self.folders.keys():
            return self.folder_terms
        return {
            path: _bag(self.folder_terms, path, "folder", record)
            for path, record in self.folders.items()
        }

    def along(self, paths: Iterable[str], limit: int = 12) -> list[tuple[str, str]]:
        """(folder, summary) of the folders holding ``paths``, outermost first, each once,
        at most ``limit``: the context of the files a request is about."""
        out: dict[str, str] = {}
        for path in paths:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                folder = "/".join(parts[:i])
                record = self.folders.get(folder)
                if record is not None and folder not in out:
                    out[folder] = record.text
                    if len(out) >= limit:
                        return list(out.items())
        return list(out.items())


def _bag(
    terms: dict[str, dict[str, int]], path: str, kind: str, record: SummaryRecord
) -> dict[str, int]:
    bag = terms.get(path)
    return bag if bag is not None else term_bag(ranked_text(kind, record))


def load_summaries(
    sheet: Sheet,
    store: SummaryStore | None = None,
    model: str | None = None,
    shas: Mapping[str, str] | None = None,
) -> Summaries:
    """What the store holds for this sheet's files and folders (``model``'s when it has
    them, else any model's)."""
    if store is None:
        store = SummaryStore.for_root(sheet.root)
    found = Summaries()
    if not store.records:
        return found
    records, bags = store.records, store.term_bags()
    for f in sheet.files:
        key = store.best_key("file", f.blob, model) if f.blob else None
        if key is not None:
            found.files[f.path] = records[key]
            found.file_terms[f.path] = bags[key]
    shas = shas if shas is not None else folder_shas(sheet, store.folder)
    for folder, sha in shas.items():
        if folder == ROOT:
            found.overview = store.best("overview", sha, model)
        else:
            key = store.best_key("folder", sha, model)
            if key is not None:
                found.folders[folder] = records[key]
                found.folder_terms[folder] = bags[key]
    return found


__all__ = [
    "ROOT",
    "Kind",
    "Summaries",
    "SummaryRecord",
    "SummaryStore",
    "SummaryStoreWarning",
    "folder_shas",
    "load_summaries",
    "record_key",
    "tree_shas",
]
