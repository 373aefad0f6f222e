"""The job store's interface (:class:`JobStore`) and the data it keeps.

A job moves ``queued → running → succeeded | failed | cancelled`` (or ``queued →
cancelled``). Every change of state and every progress message is an :class:`Event` with a
store-wide increasing ``seq``, which is what ``GET /jobs/{id}/events`` streams; a job's
events are written one at a time (under the job's row), so a reader resuming after a
``seq`` never misses one of that job's events.

Claiming is the one operation that must be exact: a job is handed to one worker only,
whatever the number of threads, processes and servers, and the worker holds it under a
*lease* it renews (:meth:`JobStore.renew`). A job whose lease ran out lost its worker (the
process died, the machine went away): :meth:`JobStore.expire` marks it failed, and it is
never run again — it may have spent model calls, or be half delivered. Finishing is guarded
(``state = 'running'``), so a job marked failed meanwhile is never overwritten.

Two implementations: :class:`~tinygen.server.sqlite_store.SQLiteJobStore` (embedded, one
server per file) and :class:`~tinygen.server.postgres_store.PostgresJobStore` (any number
of servers on one PostgreSQL database); :func:`tinygen.server.lifecycle.open_store` picks one from the settings.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import statistics
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from tinygen.server.bell import Bell

DEFAULT_LEASE = 30.0  # seconds a claim holds a job without renewal
DAY = 86400.0


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
    vote: int | None = None
    max_cost: float | None = None  # US dollars; the server's own limit caps it


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
    lease_until: float | None = None  # while running: when its worker counts as lost
    client_key: str | None = None  # who submitted it (a key's fingerprint, never the key)
    cost_usd: float | None = None  # what its model calls cost (from its result)


EventKind = Literal["state", "progress"]


@dataclass(frozen=True)
class Event:
    seq: int
    job_id: str
    kind: EventKind
    stage: str
    message: str
    time: float


@dataclass(frozen=True)
class SpendCap:
    """The most one client key may spend on model calls within ``window`` seconds."""

    usd: float
    window: float = DAY


@dataclass(frozen=True)
class StoreHealth:
    kind: Literal["sqlite", "postgresql"]
    ok: bool  # the database answers
    notifications: bool  # changes from other servers arrive (always true for SQLite)


class QueueFull(Exception):
    """The queue already holds ``queued`` jobs (see JobStore.retry_after)."""

    def __init__(self, queued: int) -> None:
        super().__init__(f"the job queue is full ({queued} jobs waiting)")
        self.queued = queued


class SpendCapReached(Exception):
    """The client key spent its cap within the window; ``retry_after``: seconds until the
    oldest counted job leaves the window."""

    def __init__(self, spent: float, cap: SpendCap, retry_after: int) -> None:
        hours = cap.window / 3600
        super().__init__(
            f"this key has spent ${spent:.2f} on model calls in the last {hours:g} h "
            f"(its cap is ${cap.usd:.2f})"
        )
        self.spent = spent
        self.cap = cap
        self.retry_after = retry_after


class StoreUnavailable(Exception):
    """The job database cannot be reached now (the store reconnects by itself)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"the job database is unavailable: {what}")


class JobStore(Protocol):
    """Where jobs and their events live. Every method is thread-safe; any method may raise
    StoreUnavailable while the database cannot be reached."""

    bell: Bell  # rung when a job's events change or a job is queued, by any server
    exclusive: bool  # one server per database: at start every `running` job is a dead one's

    def add(
        self,
        spec: JobSpec,
        *,
        max_queued: int,
        client_key: str | None = None,
        spend_cap: SpendCap | None = None,
    ) -> Job:
        """Queue a new job, or raise QueueFull when ``max_queued`` jobs are waiting, or
        SpendCapReached when ``client_key`` spent ``spend_cap`` — one check with the insert,
        whatever the number of servers."""
        ...

    def claim(self, runner: str, *, lease: float = DEFAULT_LEASE) -> Job | None:
        """Move the oldest queued job to ``running`` for ``runner``, held for ``lease``
        seconds; None when none waits."""
        ...

    def renew(self, job_ids: list[str], *, lease: float = DEFAULT_LEASE) -> list[str]:
        """Extend the leases of these running jobs; the ids still held (a job missing was
        finished, or failed as lost meanwhile)."""
        ...

    def expire(self, reason: str) -> list[str]:
        """Fail the running jobs whose lease ran out (their worker is gone); their ids."""
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
        """Fail every running job (the caller knows no live worker holds one: an exclusive
        store at start); their ids."""
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

    def health(self) -> StoreHealth: ...

    def close(self) -> None: ...


def new_job_id() -> str:
    """Sortable by time and unique across processes: 20260101-120000-1f2e3d4c5b6a."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(6)


def key_fingerprint(token: str) -> str:
    """What the store keeps of a client's key: enough to tell keys apart, useless to a
    reader of the database."""
    return "key-" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


def spec_json(spec: JobSpec) -> str:
    return json.dumps(asdict(spec))


def spec_of(data: dict[str, Any]) -> JobSpec:
    return JobSpec(**{**data, "checks": tuple(data.get("checks") or ())})


def cost_of(result: dict[str, Any] | None) -> float | None:
    """The cost a result reports (``cost_usd``), or None when unknown."""
    value = (result or {}).get("cost_usd")
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def final_message(error: dict[str, Any] | None, result: dict[str, Any] | None) -> str:
    """The text of a job's final state event."""
    return str((error or {}).get("message") or (result or {}).get("status") or "")


def spend_retry_after(oldest: float | None, window: float, now: float) -> int:
    """Seconds until the oldest counted job's cost leaves the window."""
    if oldest is None:
        return 1
    return max(1, min(int(window), math.ceil(oldest + window - now)))


def typical_retry_after(durations: list[float], workers: int) -> int:
    """Roughly when a queue slot frees up: the workers together finish a job every
    typical / workers seconds (not when the whole queue has drained)."""
    typical = statistics.median(durations) if durations else 10.0
    return max(1, min(600, round(typical / max(1, workers))))


__all__ = [
    "DAY",
    "DEFAULT_LEASE",
    "Event",
    "Job",
    "JobSpec",
    "JobState",
    "JobStore",
    "QueueFull",
    "SpendCap",
    "SpendCapReached",
    "StoreHealth",
    "StoreUnavailable",
    "cost_of",
    "final_message",
    "key_fingerprint",
    "new_job_id",
    "spec_json",
    "spec_of",
    "spend_retry_after",
    "typical_retry_after",
]
