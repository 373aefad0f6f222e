"""One server per job database: an exclusive lock on ``<db>.lock`` for the server's lifetime.

At start a server fails the jobs its store still has as ``running`` (a dead server left
them). That is only right if no other live server runs them, so a second server on the same
database is refused (exit code 6) instead of failing the first one's jobs. The operating
system drops the lock when the process dies, even by SIGKILL, so a crash never leaves a
stale lock behind. The file holds who holds it, for the refusal message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from tinygen.errors import ConfigError


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


class DatabaseLock:
    """Hold with :meth:`acquire` (raises ConfigError when another server holds it)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.path = lock_path(db_path)
        self._fh: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    def acquire(self, owner: str) -> None:
        """``owner`` describes this server (address, pid) for a second one's message."""
        if self._fh is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        except OSError as exc:
            raise ConfigError(
                f"cannot open the job database lock {self.path}: {exc}",
                hint="set the job database (`db_path`) to a writable path",
                settings=("db_path",),
            ) from exc
        if not _try_lock(fh):
            fh.seek(0)
            other = fh.read().strip() or "another process"
            fh.close()
            raise ConfigError(
                f"the job database {self.db_path} is in use by another tinygen server ({other})",
                hint="stop that server, or give this one another job database (`db_path`)",
                settings=("db_path",),
            )
        fh.seek(0)
        fh.truncate()
        fh.write(owner)
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            fh.close()  # closing the file releases the lock


def _try_lock(fh: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def owner_text(url: str) -> str:
    return f"{url}, pid {os.getpid()}"


__all__ = ["DatabaseLock", "lock_path", "owner_text"]
