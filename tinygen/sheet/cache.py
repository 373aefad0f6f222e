"""The sheet cache: records keyed by "blob:language", plus the last run's resolved imports.

Two files in ``.git/tinygen/``, each ``MAGIC + crc32 + marshal(payload)``:

* ``sheet-cache.bin``, the main file: ``(version, base id, {key: record}, (paths digest,
  {path: (blob, resolved imports)}))``;
* ``sheet-delta.bin``, what later runs added on top of one main file: ``(version, base
  id, {key: record}, {path: (blob, resolved imports)})``. It counts only while its base
  id names the main file it was written against.

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
import tempfile
import warnings
import zlib
from pathlib import Path

from tinygen.sheet.lines import LINES_VERSION
from tinygen.sheet.scan import EXTRACTOR_VERSION, Record
from tinygen.sheet.words import WORDS_VERSION

MAGIC = b"TGSHEET\x02"
CACHE_NAME = "sheet-cache.bin"
DELTA_NAME = "sheet-delta.bin"
VERSION = f"{EXTRACTOR_VERSION}.{LINES_VERSION}.{WORDS_VERSION}"
# The delta may hold this many records (and resolved paths) on top of the main file's
# count / DELTA_FRACTION before the next write folds it into a new main file.
DELTA_MIN = 64
DELTA_FRACTION = 16

Records = dict[str, tuple[object, ...]]
Resolution = dict[str, tuple[str, tuple[str, ...]]]  # path -> (blob, resolved imports)


class SheetCacheWarning(UserWarning):
    """The sheet cache could not be read and is being rebuilt."""


def cache_key(blob: str, language: str | None) -> str:
    return f"{blob}:{language or ''}"


def as_record(value: tuple[object, ...]) -> Record | None:
    """A cached value as a Record, or None when its shape is wrong (treated as a miss)."""
    if len(value) != len(Record._fields):
        return None
    return Record(*value)  # type: ignore[arg-type]


def _read(path: Path) -> object | None:
    """The payload of one cache file; None when missing or unusable (warned)."""
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
        crc = int.from_bytes(raw[len(MAGIC) : len(MAGIC) + 4], "big")
        payload = raw[len(MAGIC) + 4 :]
        if zlib.crc32(payload) != crc:
            raise ValueError("checksum mismatch")
        data = marshal.loads(payload)
        if not (isinstance(data, tuple) and len(data) == 4 and isinstance(data[2], dict)):
            raise ValueError("unexpected content")
    except (ValueError, EOFError, TypeError) as exc:
        warnings.warn(
            f"the sheet cache {path} is corrupt ({exc}); rebuilding it",
            SheetCacheWarning,
            stacklevel=3,
        )
        return None
    return data if data[0] == VERSION else None  # another tinygen's: silently rebuilt


def _write(path: Path, payload: object) -> bool:
    """Write atomically; a failure is a warning, never an error (it is a cache)."""
    data = marshal.dumps(payload)  # type: ignore[arg-type]  # plain tuples and dicts
    blob = MAGIC + zlib.crc32(data).to_bytes(4, "big") + data
    tmp_name = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".sheet-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp_name, path)
        tmp_name = ""
        return True
    except OSError as exc:
        warnings.warn(
            f"cannot write the sheet cache {path} ({exc})", SheetCacheWarning, stacklevel=3
        )
        return False
    finally:
        if tmp_name:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


class SheetCache:
    """The records and resolution of the main file with its delta applied."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.main_path = folder / CACHE_NAME
        self.delta_path = folder / DELTA_NAME
        self.base_id = b""
        self.main_count = 0
        self.digest = ""
        self.records: Records = {}
        self.resolution: Resolution = {}
        self.delta_records: Records = {}
        self.delta_resolution: Resolution = {}

    @classmethod
    def load(cls, folder: Path) -> SheetCache:
        self = cls(folder)
        main = _read(self.main_path)
        if not isinstance(main, tuple):
            return self
        _version, base_id, records, resolution = main
        if isinstance(resolution, tuple) and len(resolution) == 2:
            self.digest, self.resolution = resolution
        self.base_id, self.records, self.main_count = base_id, records, len(records)
        delta = _read(self.delta_path)
        if isinstance(delta, tuple) and delta[1] == base_id and isinstance(delta[3], dict):
            self.delta_records, self.delta_resolution = delta[2], delta[3]
            self.records.update(self.delta_records)
            self.resolution.update(self.delta_resolution)
        return self

    def save(
        self,
        new: Records,
        used: Records,
        digest: str,
        resolution: Resolution,
    ) -> None:
        """Store this run's ``new`` records and ``resolution`` (every path's), as a delta
        when that stays small, else as a new main file keeping ``used`` and, within
        reason, the records of other versions (branch switches)."""
        changed = {p: v for p, v in resolution.items() if self.resolution.get(p) != v}
        if not new and not changed and digest == self.digest:
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
            _write(self.delta_path, (VERSION, self.base_id, records, resolved))
            return
        keep: Records = {**used, **new}
        if len(self.records) <= 2 * len(keep) + 1000:
            for k, v in self.records.items():
                keep.setdefault(k, v)
        base_id = os.urandom(8)
        if _write(self.main_path, (VERSION, base_id, keep, (digest, resolution))):
            with contextlib.suppress(OSError):
                self.delta_path.unlink()


def load(folder: Path) -> SheetCache:
    """The cache in ``folder`` (empty when there is none or it is unusable)."""
    return SheetCache.load(folder)
