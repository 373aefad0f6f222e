"""The summary store's index, ``summaries-index.bin`` beside it: the store's records
already checked and each record's term bag (what the ranking's summary channel reads),
under the SHA-1 of the store's bytes and the tokenizer's version, so that a reader pays
little for the store. A store that another writer changed misses it and is parsed again;
the first reader that needs the term bags writes a new one. The index is only a cache:
unreadable or stale, it is ignored.
"""

from __future__ import annotations

import contextlib
import marshal
from dataclasses import astuple
from pathlib import Path

from tinygen.repo.atomic import replace_file
from tinygen.sheet.summary_record import SummaryRecord
from tinygen.sheet.words import WORDS_VERSION

INDEX_NAME = "summaries-index.bin"
INDEX_VERSION = f"1.{WORDS_VERSION}"  # with the tokenizer's: the term bags are its output

_Indexed = tuple[dict[str, SummaryRecord], str, dict[str, dict[str, int]]]


def read_index(path: Path, digest: str) -> _Indexed | None:
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


def write_index(
    path: Path, digest: str, records: dict[str, SummaryRecord], terms: dict[str, dict[str, int]]
) -> None:
    rows = {key: astuple(r) for key, r in records.items()}
    data = _index_head(digest) + marshal.dumps((rows, terms))
    with contextlib.suppress(OSError):  # a cache: a read-only .git only costs the next run
        replace_file(path, data)
