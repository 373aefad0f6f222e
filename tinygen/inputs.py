"""Reading untrusted inputs with a size cap, refused before they are read whole.

Every input tinygen reads from outside has a documented cap (docs/cli.md, "Input limits"):
a file or stream is read at most one byte past its cap, so ``tinygen apply /dev/zero`` or
an endless pipe stops at the cap with :class:`~tinygen.errors.InputError` (exit 2) instead
of growing until the kernel kills the process.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from tinygen.errors import InputError

MAX_PATCH_BYTES = 50_000_000  # `tinygen apply`: a diff from a file or stdin
MAX_REQUEST_BYTES = 400_000  # `tinygen run @FILE` or `-`: 100,000 characters of UTF-8 at most
MAX_EVENT_BYTES = 25_000_000  # the Action's event payload (GitHub caps webhooks at 25 MB)
MAX_RECORD_BYTES = 100_000_000  # one run record file (run.json, calls.jsonl)

_CHUNK = 1 << 20


def size_text(n: int) -> str:
    """``25 MB``, ``400 kB``, ``512 bytes``: decimal units, as the caps are written."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    if n >= 1_000:
        return f"{n / 1_000:g} kB"
    return f"{n} bytes"


def too_large(what: str, limit: int, hint: str | None = None) -> InputError:
    return InputError(
        f"{what} is larger than {size_text(limit)}, the most tinygen reads",
        hint=hint or "give a smaller input",
    )


def read_stream(stream: BinaryIO, limit: int, what: str, hint: str | None = None) -> bytes:
    """All of ``stream``, or InputError once it passes ``limit`` bytes (reads limit + 1 at
    most, in chunks, so a short input allocates little)."""
    chunks: list[bytes] = []
    got = 0
    while got <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - got))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        got += len(chunk)
    raise too_large(what, limit, hint)


def read_file(path: Path, limit: int, what: str, hint: str | None = None) -> bytes:
    """The bytes of ``path`` (a file, a pipe, a device), capped as :func:`read_stream`.
    OSError is left to the caller, which knows how to word it."""
    with path.open("rb") as fh:
        return read_stream(fh, limit, what, hint)


__all__ = [
    "MAX_EVENT_BYTES",
    "MAX_PATCH_BYTES",
    "MAX_RECORD_BYTES",
    "MAX_REQUEST_BYTES",
    "read_file",
    "read_stream",
    "size_text",
    "too_large",
]
