"""The job store: a small interface (:class:`JobStore`) and its SQLite implementation.

A job moves ``queued → running → succeeded | failed | cancelled`` (or ``queued →
cancelled``). Every change of state and every progress message is an :class:`Event` with a
store-wide increasing ``seq``, which is what ``GET /jobs/{id}/events`` streams.

Claiming is the one operation that must be exact: :meth:`SQLiteJobStore.claim` moves the
oldest queued job to ``running`` inside one ``BEGIN IMMEDIATE`` transaction with a
``WHERE state = 'queued'`` guard and a check of the rows changed, so a job is handed to one
worker only, even with several processes on the same file. Finishing is guarded the same
way (``WHERE state = 'running'``), so a job marked failed by a restart is never overwritten.

A distributed queue replaces this class by implementing the same protocol (README: "HTTP
service").
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol

from tinygen.errors import ConfigError


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobSpec:
    """What a client asked for."""

    repo_url: str
    prompt: str
    ref: str | None = None
    model: str | None = None
    checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    id: str
    state: JobState
    spec: JobSpec
    stage: str | None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None  # {"message", "hint", "kind", "exitCode"}
    cancel_requested: bool = False
    runner: str | None = None  # the worker that claimed it


EventKind = Literal["state", "progress"]


@dataclass(frozen=True)
class Event:
    seq: int
    job_id: str
    kind: EventKind
    stage: str
    message: str
    time: float


class QueueFull(Exception):
    """The queue already holds ``queued`` jobs (see JobStore.retry_after)."""

    def __init__(self, queued: int) -> None:
        super().__init__(f"the job queue is full ({queued} jobs waiting)")
        self.queued = queued


class JobStore(Protocol):
    """Where jobs and their events live. Every method is thread-safe."""

    def add(self, spec: JobSpec, *, max_queued: int) -> Job:
        """Queue a new job, or raise QueueFull when ``max_queued`` jobs are waiting."""
        ...

    def claim(self, runner: str) -> Job | None:
        """Move the oldest queued job to ``running`` for ``runner``; None when none waits."""
        ...

    def get(self, job_id: str) -> Job | None: ...

    def recent(self, *, limit: int = 20, state: JobState | None = None) -> list[Job]:
        """The most recent jobs first."""
        ...

    def progress(self, job_id: str, stage: str, message: str) -> None:
        """Record a progress event and the job's current stage."""
        ...

    def events(self, job_id: str, after: int = 0) -> list[Event]:
        """The job's events with ``seq > after``, oldest first."""
        ...

    def finish(
        self,
        job_id: str,
        state: JobState,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """End a running job; False when it was not running any more."""
        ...

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued job now, or flag a running one; None when unknown."""
        ...

    def cancel_requested(self, job_id: str) -> bool: ...

    def recover(self, reason: str) -> list[str]:
        """At startup: fail the jobs a dead server left running; their ids."""
        ...

    def counts(self) -> dict[str, int]:
        """Number of jobs per state."""
        ...

    def retry_after(self, workers: int) -> int:
        """Seconds a client turned away should wait, from recent job durations."""
        ...

    def prune(self, before: float) -> int:
        """Delete finished jobs (and their events) that ended before ``before``; how many."""
        ...

    def close(self) -> None: ...


def new_job_id() -> str:
    """Sortable by time and unique across processes: 20260101-120000-1f2e3d4c5b6a."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(6)


_SCHEMA = [
    # version 1
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        spec TEXT NOT NULL,
        stage TEXT,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        result TEXT,
        error TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        runner TEXT
    );
    CREATE INDEX jobs_by_state ON jobs (state);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL REFERENCES jobs (id),
        kind TEXT NOT NULL,
        stage TEXT NOT NULL,
        message TEXT NOT NULL,
        time REAL NOT NULL
    );
    CREATE INDEX events_by_job ON events (job_id, seq);
    """,
]

_COLUMNS = (
    "id, state, spec, stage, created_at, started_at, finished_at, result, error, "
    "cancel_requested, runner"
)


def _loads(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


def _job(row: sqlite3.Row) -> Job:
    spec = json.loads(row["spec"])
    spec["checks"] = tuple(spec.get("checks") or ())
    return Job(
        id=row["id"],
        state=JobState(row["state"]),
        spec=JobSpec(**spec),
        stage=row["stage"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        result=_loads(row["result"]),
        error=_loads(row["error"]),
        cancel_requested=bool(row["cancel_requested"]),
        runner=row["runner"],
    )


class SQLiteJobStore:
    """The embedded job store: one SQLite file (WAL mode), one connection behind a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: every transaction below is explicit.
            self._db = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._lock = threading.RLock()
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the job database {path}: {exc}",
                hint="set the job database (`db_path`) to a writable path",
                settings=("db_path",),
            ) from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front, so a read followed
        by a write in it cannot interleave with another writer (thread or process)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _migrate(self) -> None:
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(_SCHEMA):
                raise ConfigError(
                    f"the job database {self.path} was written by a newer tinygen",
                    hint="upgrade tinygen, or use another job database (`db_path`)",
                    settings=("db_path",),
                )
            for number, script in enumerate(_SCHEMA[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    @staticmethod
    def _event(
        db: sqlite3.Connection, job_id: str, kind: EventKind, stage: str, message: str
    ) -> None:
        db.execute(
            "INSERT INTO events (job_id, kind, stage, message, time) VALUES (?, ?, ?, ?, ?)",
            (job_id, kind, stage, message, time.time()),
        )

    # -- the JobStore protocol ---------------------------------------------------------

    def add(self, spec: JobSpec, *, max_queued: int) -> Job:
        job_id = new_job_id()
        with self._tx() as db:
            queued = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
            if queued >= max_queued:
                raise QueueFull(queued)
            db.execute(
                "INSERT INTO jobs (id, state, spec, stage, created_at) VALUES (?, ?, ?, ?, ?)",
                (job_id, JobState.QUEUED, json.dumps(asdict(spec)), "queued", time.time()),
            )
            self._event(db, job_id, "state", JobState.QUEUED, "waiting for a worker")
        job = self.get(job_id)
        assert job is not None
        return job

    def claim(self, runner: str) -> Job | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE state = 'queued' ORDER BY rowid LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            changed = db.execute(
                "UPDATE jobs SET state = 'running', started_at = ?, runner = ?, stage = 'starting'"
                " WHERE id = ? AND state = 'queued'",
                (time.time(), runner, row["id"]),
            ).rowcount
            if changed != 1:  # someone else took it (cannot happen under IMMEDIATE; be exact)
                return None
            self._event(db, row["id"], "state", JobState.RUNNING, f"started by {runner}")
        return self.get(row["id"])

    def get(self, job_id: str) -> Job | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def recent(self, *, limit: int = 20, state: JobState | None = None) -> list[Job]:
        if state is None:
            rows = self._read(f"SELECT {_COLUMNS} FROM jobs ORDER BY rowid DESC LIMIT ?", (limit,))
        else:
            rows = self._read(
                f"SELECT {_COLUMNS} FROM jobs WHERE state = ? ORDER BY rowid DESC LIMIT ?",
                (str(state), limit),
            )
        return [_job(r) for r in rows]

    def progress(self, job_id: str, stage: str, message: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET stage = ? WHERE id = ? AND state = 'running'", (stage, job_id)
            )
            self._event(db, job_id, "progress", stage, message)

    def events(self, job_id: str, after: int = 0) -> list[Event]:
        rows = self._read(
            "SELECT seq, job_id, kind, stage, message, time FROM events"
            " WHERE job_id = ? AND seq > ? ORDER BY seq",
            (job_id, after),
        )
        return [Event(**dict(r)) for r in rows]

    def finish(
        self,
        job_id: str,
        state: JobState,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        if not state.finished:
            raise ValueError(f"{state} is not a final state")
        with self._tx() as db:
            changed = db.execute(
                "UPDATE jobs SET state = ?, stage = NULL, finished_at = ?, result = ?, error = ?"
                " WHERE id = ? AND state = 'running'",
                (
                    str(state),
                    time.time(),
                    json.dumps(result) if result is not None else None,
                    json.dumps(error) if error is not None else None,
                    job_id,
                ),
            ).rowcount
            if changed == 1:
                message = (error or {}).get("message") or (result or {}).get("status") or ""
                self._event(db, job_id, "state", state, str(message))
        return changed == 1

    def cancel(self, job_id: str) -> Job | None:
        with self._tx() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            if row["state"] == JobState.QUEUED:
                error = {"message": "cancelled before it started", "kind": "Cancelled"}
                db.execute(
                    "UPDATE jobs SET state = 'cancelled', stage = NULL, finished_at = ?, error = ?"
                    " WHERE id = ? AND state = 'queued'",
                    (time.time(), json.dumps(error), job_id),
                )
                self._event(db, job_id, "state", JobState.CANCELLED, error["message"])
            elif row["state"] == JobState.RUNNING:
                db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
                self._event(
                    db, job_id, "progress", "cancel", "cancel requested; stopping at the next step"
                )
        return self.get(job_id)

    def cancel_requested(self, job_id: str) -> bool:
        rows = self._read("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,))
        return bool(rows and rows[0][0])

    def recover(self, reason: str) -> list[str]:
        error = {"message": reason, "kind": "Interrupted"}
        with self._tx() as db:
            ids = [
                r["id"]
                for r in db.execute("SELECT id FROM jobs WHERE state = 'running' ORDER BY rowid")
            ]
            for job_id in ids:
                db.execute(
                    "UPDATE jobs SET state = 'failed', stage = NULL, finished_at = ?, error = ?"
                    " WHERE id = ? AND state = 'running'",
                    (time.time(), json.dumps(error), job_id),
                )
                self._event(db, job_id, "state", JobState.FAILED, reason)
        return ids

    def counts(self) -> dict[str, int]:
        rows = self._read("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return {str(s): 0 for s in JobState} | {r[0]: r[1] for r in rows}

    def retry_after(self, workers: int) -> int:
        rows = self._read(
            "SELECT finished_at - started_at FROM jobs WHERE state = 'succeeded'"
            " ORDER BY rowid DESC LIMIT 20"
        )
        typical = statistics.median([r[0] for r in rows]) if rows else 10.0
        # Roughly when a queue slot frees up: the workers together finish a job every
        # typical / workers seconds (not when the whole queue has drained).
        return max(1, min(600, round(typical / max(1, workers))))

    def prune(self, before: float) -> int:
        with self._tx() as db:
            ids = [
                r["id"]
                for r in db.execute(
                    "SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled')"
                    " AND COALESCE(finished_at, created_at) < ?",
                    (before,),
                )
            ]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                db.execute(f"DELETE FROM events WHERE job_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM jobs WHERE id IN ({marks})", chunk)
        return len(ids)

    def close(self) -> None:
        with self._lock:
            self._db.close()


__all__ = [
    "Event",
    "Job",
    "JobSpec",
    "JobState",
    "JobStore",
    "QueueFull",
    "SQLiteJobStore",
    "new_job_id",
]
