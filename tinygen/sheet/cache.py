"""The sheet cache: records keyed by "blob:language", plus the last run's resolved imports.

Two files in ``.git/tinygen/``:

* ``sheet-cache.bin``, the main file: ``MAGIC + crc32 + length + marshal((version, base
  id, {key: hot record}, (paths digest, {path: (blob, resolved imports)}))) +
  marshal({key: cold record})``. The hot part (scan.Record up to ``HOT``: what printing
  the sheet needs) is decoded on load; the cold part (symbols, imports, refs, term bags:
  for ranking, JSON, signatures) only when something asks for it (``ColdStore``);
* ``sheet-delta.bin``, ``MAGIC + crc32 + marshal((version, base id, {key: full record},
  {path: (blob, resolved imports)}))``: what later runs added on top of one main file.
  It counts only while its base id names the main file it was written against.

One file rather than one per blob because a warm run must load thousands of records in a
few milliseconds: ``marshal`` of flat tuples of strings and bytes is the fastest loader
in the standard library (the records keep their nested parts as marshal bytes, see
scan.Record). A run that scanned a few files writes only the small delta; the main file
is rewritten (and the delta dropped) when the delta grows past a fraction of it or the
set of paths changed. Both are replaced atomically (temp file + ``os.replace``), so a
concurrent run sees an old or a new file, never a torn one; when two runs race, the last
writer wins and the loser's records are only cache misses later, since every record is
keyed by content. Anything that fails to load (truncated, garbage) is discarded with a
warning and rebuilt; a file from another version is silently ignored.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import warnings
import zlib
from pathlib import Path
from typing import cast

from tinygen.errors import TinygenWarning
from tinygen.repo.atomic import replace_file
from tinygen.sheet.languages import grammar_versions
from tinygen.sheet.lines import LINES_VERSION
from tinygen.sheet.resolve import RESOLVER_VERSION
from tinygen.sheet.scan import EXTRACTOR_VERSION, HOT, Cold, Hot, Record
from tinygen.sheet.words import WORDS_VERSION

MAGIC = b"TGSHEET\x03"
CACHE_NAME = "sheet-cache.bin"
DELTA_NAME = "sheet-delta.bin"
# The code's own versions; version() adds the parsers' (a grammar upgrade rebuilds).
VERSION = f"{EXTRACTOR_VERSION}.{LINES_VERSION}.{WORDS_VERSION}.{RESOLVER_VERSION}"


def version() -> str:
    return f"{VERSION};{grammar_versions()}"


# The delta may hold this many records (and resolved paths) on top of the main file's
# count / DELTA_FRACTION before the next write folds it into a new main file.
DELTA_MIN = 64
DELTA_FRACTION = 16

Records = dict[str, tuple[object, ...]]  # key -> full record (a Record as a tuple)
HotRecords = dict[str, Hot]
Resolution = dict[str, tuple[str, tuple[str, ...]]]  # path -> (blob, resolved imports)


class SheetCacheWarning(TinygenWarning):
    """The sheet cache could not be read and is being rebuilt."""


def cache_key(blob: str, language: str | None) -> str:
    return f"{blob}:{language or ''}"


def _read(path: Path) -> tuple[tuple[object, ...], memoryview] | None:
    """(the decoded first section, the rest of the payload) of one cache file; None when
    missing, of another version, or unusable (warned)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        warnings.warn(
            f"cannot read the sheet cache {path} ({exc}); rebuilding it",
            SheetCacheWarning,
            stacklevel=3,
        )
        return None
    try:
        if raw[: len(MAGIC)] != MAGIC:
            if raw[: len(MAGIC) - 1] == MAGIC[:-1] and len(raw) > len(MAGIC):
                return None  # another layout version: silently rebuilt
            raise ValueError("unknown header")
        view = memoryview(raw)[len(MAGIC) :]
        crc = int.from_bytes(view[:4], "big")
        if zlib.crc32(view[4:]) != crc or len(view) < 8:
            raise ValueError("checksum mismatch")
        size = int.from_bytes(view[4:8], "big")
        data = marshal.loads(view[8 : 8 + size])
        if not (isinstance(data, tuple) and len(data) == 4 and isinstance(data[2], dict)):
            raise ValueError("unexpected content")
    except (ValueError, EOFError, TypeError) as exc:
        warnings.warn(
            f"the sheet cache {path} is corrupt ({exc}); rebuilding it",
            SheetCacheWarning,
            stacklevel=3,
        )
        return None
    if data[0] != version():
        return None  # another tinygen's: silently rebuilt
    return data, view[8 + size :]


def _write(path: Path, first: object, rest: bytes = b"") -> bool:
    """Write atomically; a failure is a warning, never an error (it is a cache)."""
    head = marshal.dumps(first)  # type: ignore[arg-type]  # plain tuples and dicts
    body = len(head).to_bytes(4, "big") + head + rest
    blob = MAGIC + zlib.crc32(body).to_bytes(4, "big") + body
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, blob)
        return True
    except OSError as exc:
        warnings.warn(
            f"cannot write the sheet cache {path} ({exc})", SheetCacheWarning, stacklevel=3
        )
        return False


class ColdStore:
    """The cold parts of the records: the main file's section, decoded on first use,
    under the records of the delta and of this run."""

    def __init__(self, section: memoryview | bytes = b"") -> None:
        self._section = section
        self._decoded: dict[str, Cold] | None = None if section else {}
        self.extra: dict[str, Cold] = {}
        self.root = ""  # the work tree the entries read PENDING refs from (FileEntry.refs)

    def _main(self) -> dict[str, Cold]:
        if self._decoded is None:
            try:
                data = marshal.loads(self._section)
            except (ValueError, EOFError, TypeError):
                data = None  # checked by the crc already: only a bug gets here
            self._decoded = data if isinstance(data, dict) else {}
            self._section = b""
        return self._decoded

    def get(self, key: str) -> Cold:
        value = self.extra.get(key)
        if value is None:
            value = self._main().get(key)
        if value is None or len(value) != len(Record._fields) - HOT:
            return _NO_COLD
        return value


_NO_COLD: Cold = (marshal.dumps(()), marshal.dumps(()), "", "", marshal.dumps({}))


class SheetCache:
    """The hot records and resolution of the main file with its delta applied, and the
    cold parts behind ``cold``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.main_path = folder / CACHE_NAME
        self.delta_path = folder / DELTA_NAME
        self.base_id = b""
        self.main_count = 0
        self.digest = ""
        self.records: HotRecords = {}
        self.cold = ColdStore()
        self.resolution: Resolution = {}
        self.delta_records: Records = {}  # key -> full record
        self.delta_resolution: Resolution = {}
        self.enabled = True

    @classmethod
    def disabled(cls) -> SheetCache:
        """An empty cache that saves nothing (no folder to keep it in)."""
        self = cls(Path())
        self.enabled = False
        return self

    @classmethod
    def load(cls, folder: Path) -> SheetCache:
        self = cls(folder)
        main = _read(self.main_path)
        if main is None:
            return self
        (_version, base_id, records, resolution), section = main
        if isinstance(resolution, tuple) and len(resolution) == 2:
            self.digest, self.resolution = resolution
        self.base_id = cast(bytes, base_id)
        self.records = cast(HotRecords, records)
        self.main_count = len(self.records)
        self.cold = ColdStore(section)
        delta = _read(self.delta_path)
        if delta is not None and delta[0][1] == base_id and isinstance(delta[0][3], dict):
            self.delta_records = cast(Records, delta[0][2])
            self.delta_resolution = cast(Resolution, delta[0][3])
            for key, value in self.delta_records.items():
                if len(value) == len(Record._fields):
                    self.records[key] = cast(Hot, value[:HOT])
                    self.cold.extra[key] = cast(Cold, value[HOT:])
            self.resolution.update(self.delta_resolution)
        return self

    def add(self, key: str, record: Record) -> None:
        """A record scanned in this run, so that entries can read its cold part."""
        self.cold.extra[key] = cast(Cold, record[HOT:])

    def save(
        self,
        new: Records,
        used: HotRecords,
        digest: str,
        resolution: Resolution,
    ) -> None:
        """Store this run's ``new`` (full) records and ``resolution`` (every path's), as
        a delta when that stays small, else as a new main file keeping the ``used`` hot
        records and, within reason, the records of other versions (branch switches)."""
        changed = {p: v for p, v in resolution.items() if self.resolution.get(p) != v}
        if not self.enabled or (not new and not changed and digest == self.digest):
            return
        limit = DELTA_MIN + self.main_count // DELTA_FRACTION
        if (
            self.base_id
            and digest == self.digest
            and len(self.delta_records) + len(new) <= limit
            and len(self.delta_resolution) + len(changed) <= limit
        ):
            records = {**self.delta_records, **new}
            resolved = {**self.delta_resolution, **changed}
            _write(self.delta_path, (version(), self.base_id, records, resolved))
            return
        hot: HotRecords = {k: cast(Hot, v[:HOT]) for k, v in new.items()}
        hot.update(used)
        if len(self.records) <= 2 * len(hot) + 1000:
            for k, v in self.records.items():
                hot.setdefault(k, v)
        cold = {k: new[k][HOT:] if k in new else self.cold.get(k) for k in hot}
        base_id = os.urandom(8)
        if _write(
            self.main_path, (version(), base_id, hot, (digest, resolution)), marshal.dumps(cold)
        ):
            with contextlib.suppress(OSError):
                self.delta_path.unlink()


def load(folder: Path) -> SheetCache:
    """The cache in ``folder`` (empty when there is none or it is unusable)."""
    return SheetCache.load(folder)
