"""The job store on PostgreSQL: any number of `tinygen serve` processes, one queue.

Why psycopg 3 and its pool rather than a Postgres job library (procrastinate): the
contract is ours — a job is never run twice, a lost worker's job fails instead of being
retried, its events are the stream clients read — and each piece is a few lines of SQL
here, while a library's retry, scheduling and worker model would have to be worked around.

- **Schema**: ``tinygen_schema`` holds the version; the server migrates at start inside
  one transaction under an advisory lock, so two servers starting at once migrate once.
- **Claims**: ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)``: each
  queued job goes to one worker, and claimers never wait on each other. The claim sets a
  lease (database time, so machines' clocks do not matter); the worker renews it and any
  server fails a job whose lease ran out (:meth:`expire`).
- **Limits**: ``add`` takes a transaction-level advisory lock, so the queue bound and a
  key's spending cap are checked and the job inserted as one step across servers.
- **Notifications**: triggers ``NOTIFY tinygen_events`` (payload: the job id) on every
  event and ``tinygen_queue`` on every new job; one ``LISTEN`` connection per server rings
  the store's :class:`~tinygen.server.bell.Bell`, so event streams and idle workers on
  every server wake at once instead of polling. A job's events are written while its row
  is locked, so their ``seq`` order is the order they become visible.
- **Failures**: a lost connection raises :class:`~tinygen.server.jobs.StoreUnavailable`
  (the routes answer 503); the pool replaces broken connections and the listener
  reconnects with backoff, ringing every waiter afterwards (notifications sent meanwhile
  are lost). Nothing is kept in the process: queued jobs wait in the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from tinygen.errors import ConfigError
from tinygen.redact import redact
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
    StoreUnavailable,
    cost_of,
    final_message,
    new_job_id,
    spec_of,
    spend_retry_after,
    typical_retry_after,
)

log = logging.getLogger("tinygen.server")

# pg_advisory_xact_lock(LOCK_SPACE, n): n = 1 migrating the schema, 2 adding a job.
LOCK_SPACE, MIGRATE, ADD = 7461, 1, 2
EVENTS_CHANNEL, QUEUE_CHANNEL = "tinygen_events", "tinygen_queue"
NOW = "extract(epoch FROM now())::float8"  # the database's clock, the same for every server
# Dead peers are noticed by the kernel instead of a connection waiting forever.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5}

_SCHEMA = [
    # version 1
    f"""
    CREATE TABLE tinygen_jobs (
        pos bigserial UNIQUE,
        id text PRIMARY KEY,
        state text NOT NULL,
        spec jsonb NOT NULL,
        stage text,
        created_at double precision NOT NULL,
        started_at double precision,
        finished_at double precision,
        result jsonb,
        error jsonb,
        cancel_requested boolean NOT NULL DEFAULT false,
        runner text,
        lease_until double precision,
        client_key text,
        cost_usd double precision
    );
    CREATE INDEX tinygen_jobs_queued ON tinygen_jobs (pos) WHERE state = 'queued';
    CREATE INDEX tinygen_jobs_running ON tinygen_jobs (lease_until) WHERE state = 'running';
    CREATE INDEX tinygen_jobs_by_state ON tinygen_jobs (state, pos);
    CREATE INDEX tinygen_jobs_spend ON tinygen_jobs (client_key, finished_at)
        WHERE cost_usd IS NOT NULL;
    CREATE TABLE tinygen_events (
        seq bigserial PRIMARY KEY,
        job_id text NOT NULL REFERENCES tinygen_jobs (id) ON DELETE CASCADE,
        kind text NOT NULL,
        stage text NOT NULL,
        message text NOT NULL,
        time double precision NOT NULL
    );
    CREATE INDEX tinygen_events_by_job ON tinygen_events (job_id, seq);
    CREATE FUNCTION tinygen_notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{EVENTS_CHANNEL}', NEW.job_id);
        RETURN NULL;
    END $$;
    CREATE TRIGGER tinygen_event_added AFTER INSERT ON tinygen_events
        FOR EACH ROW EXECUTE FUNCTION tinygen_notify_event();
    CREATE FUNCTION tinygen_notify_queue() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{QUEUE_CHANNEL}', '');
        RETURN NULL;
    END $$;
    CREATE TRIGGER tinygen_job_queued AFTER INSERT ON tinygen_jobs
        FOR EACH ROW EXECUTE FUNCTION tinygen_notify_queue();
    """,
]
SCHEMA_VERSION = len(_SCHEMA)

_COLUMNS = (
    "id, state, spec, stage, created_at, started_at, finished_at, result, error, "
    "cancel_requested, runner, lease_until, client_key, cost_usd"
)


def describe(url: str) -> str:
    """The database a URL names, without its password: ``user@host:port/dbname``."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(an unreadable database URL)"
    host = str(parts.get("host") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"{user}{host}{port}/{parts.get('dbname') or ''}"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0] if text else type(exc).__name__)


def _job(row: dict[str, Any]) -> Job:
    return Job(
        id=row["id"],
        state=JobState(row["state"]),
        spec=spec_of(row["spec"]),
        stage=row["stage"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        result=row["result"],
        error=row["error"],
        cancel_requested=row["cancel_requested"],
        runner=row["runner"],
        lease_until=row["lease_until"],
        client_key=row["client_key"],
        cost_usd=row["cost_usd"],
    )


Cursor = psycopg.Cursor[dict[str, Any]]


class PostgresJobStore:
    """The JobStore protocol on PostgreSQL. ``url``: a libpq connection URL or string."""

    exclusive = False

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        connect_timeout: float = 10.0,
        wait_timeout: float = 5.0,
        listen: bool = True,
    ) -> None:
        self.url = url
        self.where = describe(url)
        self.bell = Bell()
        try:
            with psycopg.connect(url, connect_timeout=int(connect_timeout)) as conn:
                self._migrate(conn)
        except psycopg.Error as exc:
            raise ConfigError(
                f"cannot open the job database {self.where}: {_reason(exc)}",
                hint="check the database URL (`database_url`) and that PostgreSQL is running "
                "and reachable",
                settings=("database_url",),
            ) from exc
        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(2, pool_size),
            kwargs={"row_factory": dict_row, "connect_timeout": int(connect_timeout), **KEEPALIVES},
            check=ConnectionPool.check_connection,  # a connection broken while idle is replaced
            timeout=wait_timeout,
            name="tinygen-jobs",
            open=False,
        )
        self._pool.open()
        self._listener = _Listener(url, self.bell, connect_timeout) if listen else None
        if self._listener is not None:
            self._listener.start()

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_SPACE, MIGRATE))
            conn.execute("CREATE TABLE IF NOT EXISTS tinygen_schema (version integer NOT NULL)")
            row = conn.execute("SELECT version FROM tinygen_schema").fetchone()
            version = row[0] if row else 0
            if row is None:
                conn.execute("INSERT INTO tinygen_schema (version) VALUES (0)")
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"the job database {self.where} was written by a newer tinygen "
                    f"(schema {version}; this one knows {SCHEMA_VERSION})",
                    hint="upgrade tinygen on every server, or use another job database "
                    "(`database_url`)",
                    settings=("database_url",),
                )
            for number, script in enumerate(_SCHEMA[version:], start=version + 1):
                conn.execute(script.encode())  # several statements, no parameters
                conn.execute("UPDATE tinygen_schema SET version = %s", (number,))
                log.info("job database %s: schema version %d", self.where, number)

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        """One transaction on a pooled connection (committed when the block ends)."""
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                yield cur
        except PoolTimeout as exc:
            raise StoreUnavailable(f"no connection to {self.where}") from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(_reason(exc)) from exc

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._tx() as cur:
            return cur.execute(sql, args).fetchall()

    @staticmethod
    def _event(cur: Cursor, job_id: str, kind: EventKind, stage: str, message: str) -> None:
        """Record an event; the caller holds the job's row lock (the order of ``seq``)."""
        cur.execute(
            "INSERT INTO tinygen_events (job_id, kind, stage, message, time)"
            f" VALUES (%s, %s, %s, %s, {NOW})",
            (job_id, kind, stage, message),
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
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_SPACE, ADD))
            counted = cur.execute(
                f"SELECT count(*) AS queued, {NOW} AS now FROM tinygen_jobs WHERE state = 'queued'"
            ).fetchone()
            assert counted is not None
            if counted["queued"] >= max_queued:
                raise QueueFull(counted["queued"])
            if spend_cap is not None and client_key is not None:
                spend = cur.execute(
                    "SELECT COALESCE(sum(cost_usd), 0) AS spent, min(finished_at) AS oldest"
                    " FROM tinygen_jobs WHERE client_key = %s AND finished_at >= %s"
                    " AND cost_usd IS NOT NULL",
                    (client_key, counted["now"] - spend_cap.window),
                ).fetchone()
                assert spend is not None
                if spend["spent"] >= spend_cap.usd:
                    retry = spend_retry_after(spend["oldest"], spend_cap.window, counted["now"])
                    raise SpendCapReached(spend["spent"], spend_cap, retry)
            row = cur.execute(
                "INSERT INTO tinygen_jobs (id, state, spec, stage, created_at, client_key)"
                f" VALUES (%s, 'queued', %s, 'queued', {NOW}, %s) RETURNING {_COLUMNS}",
                (new_job_id(), Jsonb(_spec_dict(spec)), client_key),
            ).fetchone()
            assert row is not None
            self._event(cur, row["id"], "state", JobState.QUEUED, "waiting for a worker")
        self.bell.ring_queue()  # this server's workers at once; others through NOTIFY
        return _job(row)

    def claim(self, runner: str, *, lease: float = DEFAULT_LEASE) -> Job | None:
        with self._tx() as cur:
            row = cur.execute(
                "UPDATE tinygen_jobs SET state = 'running', stage = 'starting', runner = %s,"
                f" started_at = {NOW}, lease_until = {NOW} + %s"
                " WHERE state = 'queued' AND id = (SELECT id FROM tinygen_jobs"
                " WHERE state = 'queued' ORDER BY pos LIMIT 1 FOR UPDATE SKIP LOCKED)"
                f" RETURNING {_COLUMNS}",
                (runner, lease),
            ).fetchone()
            if row is None:
                return None
            self._event(cur, row["id"], "state", JobState.RUNNING, f"started by {runner}")
        return _job(row)

    def renew(self, job_ids: list[str], *, lease: float = DEFAULT_LEASE) -> list[str]:
        if not job_ids:
            return []
        rows = self._rows(
            f"UPDATE tinygen_jobs SET lease_until = {NOW} + %s"
            " WHERE id = ANY(%s) AND state = 'running' RETURNING id",
            (lease, list(job_ids)),
        )
        return [r["id"] for r in rows]

    def _fail_running(self, where: str, reason: str) -> list[str]:
        with self._tx() as cur:
            rows = cur.execute(
                f"UPDATE tinygen_jobs SET state = 'failed', stage = NULL, finished_at = {NOW},"
                f" lease_until = NULL, error = %s WHERE state = 'running' AND {where}"
                " RETURNING id, pos",
                (Jsonb({"message": reason, "kind": "Interrupted"}),),
            ).fetchall()
            ids = [r["id"] for r in sorted(rows, key=lambda r: r["pos"])]
            for job_id in ids:
                self._event(cur, job_id, "state", JobState.FAILED, reason)
        return ids

    def expire(self, reason: str) -> list[str]:
        return self._fail_running(f"lease_until < {NOW}", reason)

    def recover(self, reason: str) -> list[str]:
        return self._fail_running("true", reason)

    def get(self, job_id: str) -> Job | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM tinygen_jobs WHERE id = %s", (job_id,))
        return _job(rows[0]) if rows else None

    def recent(self, *, limit: int = 20, state: JobState | None = None) -> list[Job]:
        if state is None:
            rows = self._rows(
                f"SELECT {_COLUMNS} FROM tinygen_jobs ORDER BY pos DESC LIMIT %s", (limit,)
            )
        else:
            rows = self._rows(
                f"SELECT {_COLUMNS} FROM tinygen_jobs WHERE state = %s ORDER BY pos DESC LIMIT %s",
                (str(state), limit),
            )
        return [_job(r) for r in rows]

    def progress(self, job_id: str, stage: str, message: str) -> None:
        with self._tx() as cur:
            # Locks the row (also when the job is not running any more): events in order.
            cur.execute(
                "UPDATE tinygen_jobs SET stage = CASE WHEN state = 'running' THEN %s"
                " ELSE stage END WHERE id = %s",
                (stage, job_id),
            )
            if cur.rowcount == 1:
                self._event(cur, job_id, "progress", stage, message)

    def events(self, job_id: str, after: int = 0) -> list[Event]:
        rows = self._rows(
            "SELECT seq, job_id, kind, stage, message, time FROM tinygen_events"
            " WHERE job_id = %s AND seq > %s ORDER BY seq",
            (job_id, after),
        )
        return [Event(**r) for r in rows]

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
        with self._tx() as cur:
            cur.execute(
                f"UPDATE tinygen_jobs SET state = %s, stage = NULL, finished_at = {NOW},"
                " result = %s, error = %s, cost_usd = %s, lease_until = NULL"
                " WHERE id = %s AND state = 'running'",
                (
                    str(state),
                    Jsonb(result) if result is not None else None,
                    Jsonb(error) if error is not None else None,
                    cost_of(result),
                    job_id,
                ),
            )
            changed = cur.rowcount == 1
            if changed:
                self._event(cur, job_id, "state", state, final_message(error, result))
        return changed

    def cancel(self, job_id: str) -> Job | None:
        with self._tx() as cur:
            row = cur.execute(
                "SELECT state FROM tinygen_jobs WHERE id = %s FOR UPDATE", (job_id,)
            ).fetchone()
            if row is None:
                return None
            if row["state"] == JobState.QUEUED:
                error = {"message": "cancelled before it started", "kind": "Cancelled"}
                cur.execute(
                    "UPDATE tinygen_jobs SET state = 'cancelled', stage = NULL,"
                    f" finished_at = {NOW}, error = %s WHERE id = %s",
                    (Jsonb(error), job_id),
                )
                self._event(cur, job_id, "state", JobState.CANCELLED, error["message"])
            elif row["state"] == JobState.RUNNING:
                cur.execute(
                    "UPDATE tinygen_jobs SET cancel_requested = true WHERE id = %s", (job_id,)
                )
                self._event(
                    cur, job_id, "progress", "cancel", "cancel requested; stopping at the next step"
                )
            job = cur.execute(
                f"SELECT {_COLUMNS} FROM tinygen_jobs WHERE id = %s", (job_id,)
            ).fetchone()
        return _job(job) if job is not None else None

    def cancel_requested(self, job_id: str) -> bool:
        rows = self._rows("SELECT cancel_requested FROM tinygen_jobs WHERE id = %s", (job_id,))
        return bool(rows and rows[0]["cancel_requested"])

    def counts(self) -> dict[str, int]:
        rows = self._rows("SELECT state, count(*) AS n FROM tinygen_jobs GROUP BY state")
        return {str(s): 0 for s in JobState} | {r["state"]: r["n"] for r in rows}

    def retry_after(self, workers: int) -> int:
        rows = self._rows(
            "SELECT finished_at - started_at AS took FROM tinygen_jobs WHERE state = 'succeeded'"
            " ORDER BY pos DESC LIMIT 20"
        )
        # Every server's workers take from this queue: count those seen lately.
        seen = self._rows(
            f"SELECT count(DISTINCT runner) AS n FROM tinygen_jobs WHERE started_at > {NOW} - 3600"
        )
        return typical_retry_after([r["took"] for r in rows], max(workers, seen[0]["n"]))

    def prune(self, before: float) -> int:
        rows = self._rows(
            "DELETE FROM tinygen_jobs WHERE state IN ('succeeded', 'failed', 'cancelled')"
            " AND COALESCE(finished_at, created_at) < %s RETURNING id",  # events cascade
            (before,),
        )
        return len(rows)

    def health(self) -> StoreHealth:
        listening = self._listener is not None and self._listener.connected.is_set()
        try:
            self._rows("SELECT 1 AS one")
        except StoreUnavailable:
            return StoreHealth("postgresql", ok=False, notifications=listening)
        return StoreHealth("postgresql", ok=True, notifications=listening)

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
        self._pool.close()


def _spec_dict(spec: JobSpec) -> dict[str, Any]:
    return {
        "repo_url": spec.repo_url,
        "prompt": spec.prompt,
        "ref": spec.ref,
        "model": spec.model,
        "checks": list(spec.checks),
        "vote": spec.vote,
        "max_cost": spec.max_cost,
    }


class _Listener:
    """One ``LISTEN`` connection that rings the bell for every notification; it reconnects
    with backoff and rings everything after each (re)connect."""

    def __init__(self, url: str, bell: Bell, connect_timeout: float) -> None:
        self.url = url
        self.bell = bell
        self.connect_timeout = connect_timeout
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tinygen-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=int(self.connect_timeout),
                    **KEEPALIVES,  # type: ignore[arg-type]
                ) as conn:
                    conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                    conn.execute(f"LISTEN {QUEUE_CHANNEL}")
                    self.bell.ring_all()  # what was sent while nobody listened
                    self.connected.set()
                    delay = 0.2
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            if note.channel == QUEUE_CHANNEL:
                                self.bell.ring_queue()
                            else:
                                self.bell.ring_job(note.payload)
            except psycopg.Error as exc:
                if self.connected.is_set():
                    log.warning("lost the job database's notifications: %s", _reason(exc))
            if self.connected.is_set():
                self.connected.clear()
                self.bell.ring_all()
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)


__all__ = ["SCHEMA_VERSION", "PostgresJobStore", "describe"]
