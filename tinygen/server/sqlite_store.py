"""The embedded job store: one SQLite file (WAL mode), one connection behind a lock.

One server per file (``tinygen.server.lock``), so the store is ``exclusive``: at start every
job still ``running`` was left by a dead server. Every write is a ``BEGIN IMMEDIATE``
transaction, which takes the write lock up front: a read followed by a write in it cannot
interleave with another writer, so a claim (``WHERE state = 'queued'`` and a check of the
rows changed) hands a job to one worker only, even with several connections on the file.

The bell is rung in-process after each write: every writer is this server.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tinygen.errors import ConfigError
from tinygen.server.bell import Bell
from tinygen.server.jobs import (
    DEFAULT_LEASE,
    Event,
    EventKind,
    Job,
    JobSpec,
    JobState,
    QueueFull,
    SpendCap,
    SpendCapReached,
    StoreHealth,
    cost_of,
    final_message,
    new_job_id,
    spec_json,
    spec_of,
    spend_retry_after,
    typical_retry_after,
)

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
    # version 2: leases, the submitting key, the cost of a finished job
    """
    ALTER TABLE jobs ADD COLUMN lease_until REAL;
    ALTER TABLE jobs ADD COLUMN client_key TEXT;
    ALTER TABLE jobs ADD COLUMN cost_usd REAL;
    CREATE INDEX jobs_spend ON jobs (client_key, finished_at);
    """,
]

_COLUMNS = (
    "id, state, spec, stage, created_at, started_at, finished_at, result, error, "
    "cancel_requested, runner, lease_until, client_key, cost_usd"
)


def _loads(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


def _dumps(value: dict[str, Any] | None) -> str | None:
    return json.dumps(value) if value is not None else None


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        state=JobState(row["state"]),
        spec=spec_of(json.loads(row["spec"])),
        stage=row["stage"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        result=_loads(row["result"]),
        error=_loads(row["error"]),
        cancel_requested=bool(row["cancel_requested"]),
        runner=row["runner"],
        lease_until=row["lease_until"],
        client_key=row["client_key"],
        cost_usd=row["cost_usd"],
    )


class SQLiteJobStore:
    """The JobStore protocol on one SQLite file."""

    exclusive = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bell = Bell()
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
        """One write transaction (BEGIN IMMEDIATE: the write lock up front)."""
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

    def add(
        self,
        spec: JobSpec,
        *,
        max_queued: int,
        client_key: str | None = None,
        spend_cap: SpendCap | None = None,
    ) -> Job:
        job_id = new_job_id()
        now = time.time()
        with self._tx() as db:
            queued = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
            if queued >= max_queued:
                raise QueueFull(queued)
            if spend_cap is not None and client_key is not None:
                spent, oldest = db.execute(
                    "SELECT COALESCE(SUM(cost_usd), 0), MIN(finished_at) FROM jobs"
                    " WHERE client_key = ? AND finished_at >= ? AND cost_usd IS NOT NULL",
                    (client_key, now - spend_cap.window),
                ).fetchone()
                if spent >= spend_cap.usd:
                    retry = spend_retry_after(oldest, spend_cap.window, now)
                    raise SpendCapReached(spent, spend_cap, retry)
            db.execute(
                "INSERT INTO jobs (id, state, spec, stage, created_at, client_key)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, JobState.QUEUED, spec_json(spec), "queued", now, client_key),
            )
            self._event(db, job_id, "state", JobState.QUEUED, "waiting for a worker")
        self.bell.ring_job(job_id)
        self.bell.ring_queue()
        job = self.get(job_id)
        assert job is not None
        return job

    def claim(self, runner: str, *, lease: float = DEFAULT_LEASE) -> Job | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE state = 'queued' ORDER BY rowid LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            now = time.time()
            changed = db.execute(
                "UPDATE jobs SET state = 'running', started_at = ?, runner = ?,"
                " stage = 'starting', lease_until = ? WHERE id = ? AND state = 'queued'",
                (now, runner, now + lease, row["id"]),
            ).rowcount
            if changed != 1:  # someone else took it (cannot happen under IMMEDIATE; be exact)
                return None
            self._event(db, row["id"], "state", JobState.RUNNING, f"started by {runner}")
        self.bell.ring_job(row["id"])
        return self.get(row["id"])

    def renew(self, job_ids: list[str], *, lease: float = DEFAULT_LEASE) -> list[str]:
        if not job_ids:
            return []
        held = []
        with self._tx() as db:
            until = time.time() + lease
            for job_id in job_ids:
                if db.execute(
                    "UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'running'",
                    (until, job_id),
                ).rowcount:
                    held.append(job_id)
        return held

    def _fail_running(self, where: str, args: tuple[Any, ...], reason: str) -> list[str]:
        error = {"message": reason, "kind": "Interrupted"}
        with self._tx() as db:
            ids = [
                r["id"]
                for r in db.execute(
                    f"SELECT id FROM jobs WHERE state = 'running' AND {where} ORDER BY rowid", args
                )
            ]
            for job_id in ids:
                db.execute(
                    "UPDATE jobs SET state = 'failed', stage = NULL, finished_at = ?, error = ?"
                    " WHERE id = ? AND state = 'running'",
                    (time.time(), json.dumps(error), job_id),
                )
                self._event(db, job_id, "state", JobState.FAILED, reason)
        for job_id in ids:
            self.bell.ring_job(job_id)
        return ids

    def expire(self, reason: str) -> list[str]:
        return self._fail_running("lease_until < ?", (time.time(),), reason)

    def recover(self, reason: str) -> list[str]:
        return self._fail_running("1 = 1", (), reason)

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
        self.bell.ring_job(job_id)

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
                "UPDATE jobs SET state = ?, stage = NULL, finished_at = ?, result = ?, error = ?,"
                " cost_usd = ?, lease_until = NULL WHERE id = ? AND state = 'running'",
                (
                    str(state),
                    time.time(),
                    _dumps(result),
                    _dumps(error),
                    cost_of(result),
                    job_id,
                ),
            ).rowcount
            if changed == 1:
                self._event(db, job_id, "state", state, final_message(error, result))
        if changed == 1:
            self.bell.ring_job(job_id)
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
        self.bell.ring_job(job_id)
        return self.get(job_id)

    def cancel_requested(self, job_id: str) -> bool:
        rows = self._read("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,))
        return bool(rows and rows[0][0])

    def counts(self) -> dict[str, int]:
        rows = self._read("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return {str(s): 0 for s in JobState} | {r[0]: r[1] for r in rows}

    def retry_after(self, workers: int) -> int:
        rows = self._read(
            "SELECT finished_at - started_at FROM jobs WHERE state = 'succeeded'"
            " ORDER BY rowid DESC LIMIT 20"
        )
        return typical_retry_after([r[0] for r in rows], workers)

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

    def health(self) -> StoreHealth:
        try:
            self._read("SELECT 1")
        except sqlite3.Error:
            return StoreHealth("sqlite", ok=False, notifications=True)
        return StoreHealth("sqlite", ok=True, notifications=True)

    def close(self) -> None:
        with self._lock:
            self._db.close()


__all__ = ["SQLiteJobStore"]
