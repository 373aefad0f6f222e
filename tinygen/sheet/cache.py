"""The sheet cache: one file in ``.git/tinygen/`` mapping "blob:language" to a Record.

One file rather than one per blob because a warm run must load thousands of records in a
few tens of milliseconds: ``marshal`` of plain tuples is the fastest loader in the
standard library. The file is ``MAGIC + crc32 + marshal((version, {key: record}))``;
it is replaced atomically (temp file + ``os.replace``), so a concurrent run sees either
the old or the new file, never a torn one, and the last writer wins. Anything that fails
to load (truncated, garbage, another version) is discarded with a warning and rebuilt.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import tempfile
import warnings
import zlib
from pathlib import Path

from tinygen.sheet.scan import EXTRACTOR_VERSION, Record

MAGIC = b"TGSHEET\x01"
CACHE_NAME = "sheet-cache.bin"

CacheData = dict[str, tuple[object, ...]]


class SheetCacheWarning(UserWarning):
    """The sheet cache could not be read and is being rebuilt."""


def cache_key(blob: str, language: str | None) -> str:
    return f"{blob}:{language or ''}"


def load(path: Path) -> CacheData:
    """The cached records, or {} (with a warning when the file exists but is unusable)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        warnings.warn(
            f"cannot read the sheet cache {path} ({exc}); rebuilding it",
            SheetCacheWarning,
            stacklevel=2,
        )
        return {}
    try:
        if raw[: len(MAGIC)] != MAGIC:
            raise ValueError("unknown header")
        crc = int.from_bytes(raw[len(MAGIC) : len(MAGIC) + 4], "big")
        payload = raw[len(MAGIC) + 4 :]
        if zlib.crc32(payload) != crc:
            raise ValueError("checksum mismatch")
        version, data = marshal.loads(payload)
        if not isinstance(data, dict):
            raise ValueError("unexpected content")
    except (ValueError, EOFError, TypeError) as exc:
        warnings.warn(
            f"the sheet cache {path} is corrupt ({exc}); rebuilding it",
            SheetCacheWarning,
            stacklevel=2,
        )
        return {}
    if version != EXTRACTOR_VERSION:
        return {}  # an older tinygen wrote it: silently rebuilt
    return data


def save(path: Path, data: CacheData) -> None:
    """Write atomically; a failure to write is a warning, never an error (it is a cache)."""
    payload = marshal.dumps((EXTRACTOR_VERSION, data))
    blob = MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload
    tmp_name = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".sheet-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp_name, path)
        tmp_name = ""
    except OSError as exc:
        warnings.warn(
            f"cannot write the sheet cache {path} ({exc})", SheetCacheWarning, stacklevel=2
        )
    finally:
        if tmp_name:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def as_record(value: tuple[object, ...]) -> Record | None:
    """A cached value as a Record, or None when its shape is wrong (treated as a miss)."""
    if len(value) != len(Record._fields):
        return None
    return Record(*value)  # type: ignore[arg-type]
