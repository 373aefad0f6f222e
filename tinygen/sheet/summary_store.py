"""The summary store: every record of one repository, keyed by content, the model that
wrote it and the version of the prompt that asked for it (see
:mod:`tinygen.sheet.summary_record`), so a record is never stale: a changed file has
another blob SHA, and a folder holding it another tree SHA, so after a commit that
changes one file only that file and its ancestor folders miss.

The store is one JSON file, ``.git/tinygen/summaries.json``, replaced atomically; a
writer merges what is on disk first, so two concurrent writers lose nothing but races
on the same key (whose records are equivalent). A file that cannot be read is set aside
with a warning and rebuilt. Loading reads its index first
(:mod:`tinygen.sheet.summary_index`), which spares a reader parsing the file again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Collection, Mapping
from pathlib import Path

from tinygen.errors import RepoError, TinygenWarning
from tinygen.repo.atomic import replace_file
from tinygen.repo.git import state_dir
from tinygen.safejson import loads
from tinygen.sheet.summary_index import INDEX_NAME, read_index, write_index
from tinygen.sheet.summary_record import (
    Kind,
    SummaryRecord,
    ranked_text,
    record_key,
    term_bag,
)

STORE_NAME = "summaries.json"
STORE_FORMAT = 1
MAX_STORE_BYTES = 200_000_000  # far above any repository's summaries; a cap on what is read


class SummaryStoreWarning(TinygenWarning):
    """The summary store could not be read."""


def _preference(record: SummaryRecord, model: str | None) -> tuple[bool, int, str, str]:
    version = int(record.prompt) if record.prompt.isdigit() else -1
    return (record.model == model, version, record.prompt, record.model)


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
        indexed = read_index(folder / INDEX_NAME, digest)
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
                write_index(self.folder / INDEX_NAME, self.digest, self.records, self._terms)
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
        self.save()  # what this store holds is now all the file held when it was read, and more
        if len(self.records) <= limit:
            return 0  # the usual case: the file is not read a second time
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
