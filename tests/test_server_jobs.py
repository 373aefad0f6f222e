"""The job store contract, run against both stores with the same cases — SQLite files and a
real PostgreSQL database (a throwaway cluster, tests/postgres.py) — and the worker pool on
each: exact claims, queue bounds, spending caps, leases, cancellation, restart recovery,
the bell. The pool runs a small executor given to it here — the executor is the pool's
parameter, not a replaced tinygen function."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tinygen.errors import ConfigError, LLMAuthError
from tinygen.server.errors import LOST_REASON, SHUTDOWN_REASON
from tinygen.server.jobs import (
    Job,
    JobSpec,
    JobState,
    JobStore,
    QueueFull,
    SpendCap,
    SpendCapReached,
)
from tinygen.server.sqlite_store import SQLiteJobStore
from tinygen.server.worker import RESTART_REASON, Progress, WorkerPool

Opener = Callable[[], JobStore]


def spec(n: int = 0) -> JobSpec:
    return JobSpec(repo_url="https://github.com/o/r", prompt=f"job {n}")


@pytest.fixture(params=["sqlite", "postgresql"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens a new store on one database: each call is another connection, as another
    process (or, for PostgreSQL, another server) would have."""
    opened: list[JobStore] = []
    if request.param == "sqlite":
        path = tmp_path / "db" / "jobs.sqlite3"

        def make() -> JobStore:
            return SQLiteJobStore(path)
    else:
        from tinygen.server.postgres_store import PostgresJobStore

        url = request.getfixturevalue("pg_url")

        def make() -> JobStore:
            return PostgresJobStore(url, pool_size=4)

    def opener() -> JobStore:
        store = make()
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(connect: Opener) -> JobStore:
    return connect()


@pytest.fixture
def peer(store: JobStore, connect: Opener) -> JobStore:
    """Where another server writes: a second store on the database where several servers
    share one (PostgreSQL); the store itself where a database has one server (SQLite)."""
    return store if store.exclusive else connect()


def execute(store: JobStore, statement: str, *args: Any) -> None:
    """Change the database behind the store's back (to age jobs): ``{jobs}`` is the jobs
    table, ``?`` a parameter."""
    if isinstance(store, SQLiteJobStore):
        with sqlite3.connect(store.path) as db:
            db.execute(statement.format(jobs="jobs"), args)
        return
    import psycopg

    from tinygen.server.postgres_store import PostgresJobStore

    assert isinstance(store, PostgresJobStore)
    with psycopg.connect(store.url) as conn:
        conn.execute(statement.format(jobs="tinygen_jobs").replace("?", "%s"), args)


def finish_one(store: JobStore, result: dict[str, Any] | None = None) -> Job:
    job = store.claim("w")
    assert job is not None and store.finish(job.id, JobState.SUCCEEDED, result=result or {})
    return job


def wait_until(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_claims_are_exact_across_threads_and_connections(connect: Opener) -> None:
    stores = [connect() for _ in range(3)]  # three connections, as three processes
    ids = [stores[0].add(spec(i), max_queued=1000).id for i in range(150)]
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(store: JobStore, name: str) -> None:
        while (job := store.claim(name)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claimer, args=(stores[i % 3], f"w{i}")) for i in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(claimed) == Counter(ids), "every job claimed exactly once"
    assert stores[1].counts()["running"] == 150 and stores[2].counts()["queued"] == 0


def test_fifo_order_states_and_events(store: JobStore) -> None:
    first, second = store.add(spec(1), max_queued=5), store.add(spec(2), max_queued=5)
    assert first.state == JobState.QUEUED and first.stage == "queued"
    job = store.claim("w1")
    assert job is not None and job.id == first.id and job.state == JobState.RUNNING
    assert job.runner == "w1" and job.started_at is not None
    store.progress(job.id, "sheet", "mapping")
    assert store.get(job.id).stage == "sheet"  # type: ignore[union-attr]
    assert store.finish(job.id, JobState.SUCCEEDED, result={"status": "approved", "diff": "d"})
    done = store.get(job.id)
    assert done is not None and done.result == {"status": "approved", "diff": "d"}
    assert done.stage is None and done.finished_at is not None
    events = store.events(job.id)
    assert [(e.kind, e.stage) for e in events] == [
        ("state", "queued"),
        ("state", "running"),
        ("progress", "sheet"),
        ("state", "succeeded"),
    ]
    assert [e.seq for e in store.events(job.id, after=events[1].seq)] == [e.seq for e in events[2:]]
    assert [j.id for j in store.recent()] == [second.id, first.id]
    assert [j.id for j in store.recent(state=JobState.SUCCEEDED)] == [first.id]
    with pytest.raises(ValueError):
        store.finish(second.id, JobState.RUNNING)


def test_queue_bound_counts_waiting_jobs_only(store: JobStore) -> None:
    store.add(spec(1), max_queued=2)
    store.add(spec(2), max_queued=2)
    with pytest.raises(QueueFull) as full:
        store.add(spec(3), max_queued=2)
    assert full.value.queued == 2 and "queue is full" in str(full.value)
    store.claim("w")  # one leaves the queue: room for one more
    store.add(spec(3), max_queued=2)
    assert store.counts() == {
        "queued": 2,
        "running": 1,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
    }
    assert 1 <= store.retry_after(workers=2) <= 600


def test_cancel_queued_and_running(store: JobStore) -> None:
    running = store.add(spec(1), max_queued=5)
    queued = store.add(spec(2), max_queued=5)
    store.claim("w")
    gone = store.cancel(queued.id)
    assert gone is not None and gone.state == JobState.CANCELLED
    assert store.claim("w") is None, "a cancelled job is never claimed"
    flagged = store.cancel(running.id)
    assert flagged is not None and flagged.state == JobState.RUNNING and flagged.cancel_requested
    assert store.cancel_requested(running.id) and not store.cancel_requested(queued.id)
    assert store.cancel("no-such-job") is None


def test_recover_fails_running_jobs_and_keeps_queued(connect: Opener) -> None:
    old = connect()
    a = old.add(spec(1), max_queued=5)
    b = old.add(spec(2), max_queued=5)
    old.claim("w")
    old.close()  # the process died with `a` running

    new = connect()
    assert new.recover(RESTART_REASON) == [a.id]
    failed = new.get(a.id)
    assert failed is not None and failed.state == JobState.FAILED
    assert failed.error == {"message": RESTART_REASON, "kind": "Interrupted"}
    assert new.get(b.id).state == JobState.QUEUED  # type: ignore[union-attr]
    # The old worker, if it were still alive, cannot overwrite the recorded failure.
    assert not new.finish(a.id, JobState.SUCCEEDED, result={"status": "approved"})
    assert new.get(a.id).state == JobState.FAILED  # type: ignore[union-attr]


def test_leases_are_renewed_and_a_lost_workers_job_fails_once(
    store: JobStore, peer: JobStore
) -> None:
    kept, lost, waiting = (store.add(spec(i), max_queued=5) for i in range(3))
    held = store.claim("alive", lease=60)
    assert held is not None and held.id == kept.id and held.lease_until is not None
    assert held.lease_until - held.started_at == pytest.approx(60)  # type: ignore[operator]
    gone = store.claim("dead", lease=0)  # its worker never renews
    assert gone is not None and gone.id == lost.id
    time.sleep(0.01)
    assert store.renew([kept.id], lease=120) == [kept.id]
    renewed = store.get(kept.id)
    assert renewed is not None and renewed.lease_until > held.lease_until  # type: ignore[operator]

    assert peer.expire(LOST_REASON) == [lost.id], "whichever server notices first"
    assert store.expire(LOST_REASON) == [], "and only once"
    failed = store.get(lost.id)
    assert failed is not None and failed.state == JobState.FAILED
    assert failed.error == {"message": LOST_REASON, "kind": "Interrupted"}
    assert [e.message for e in store.events(lost.id)][-1] == LOST_REASON
    assert store.renew([lost.id, kept.id], lease=60) == [kept.id], "a lost job is not held"
    assert not store.finish(lost.id, JobState.SUCCEEDED, result={}), "nor finished"
    assert store.get(waiting.id).state == JobState.QUEUED  # type: ignore[union-attr]
    assert store.claim("next") is not None and store.claim("next") is None, "never re-queued"
    assert store.renew([]) == []


def test_spending_caps_hold_per_key(store: JobStore, peer: JobStore) -> None:
    cap = SpendCap(usd=1.0, window=3600)
    for key, cost in (("key-a", 0.6), ("key-a", 0.5), ("key-b", 0.2)):
        store.add(spec(), max_queued=10, client_key=key, spend_cap=cap)
        finish_one(store, {"status": "approved", "cost_usd": cost})
    with pytest.raises(SpendCapReached) as spent:
        peer.add(spec(), max_queued=10, client_key="key-a", spend_cap=cap)
    assert spent.value.spent == pytest.approx(1.1) and spent.value.cap == cap
    assert 1 <= spent.value.retry_after <= 3600
    assert "$1.10" in str(spent.value) and "$1.00" in str(spent.value)
    other = peer.add(spec(), max_queued=10, client_key="key-b", spend_cap=cap)
    assert other.client_key == "key-b", "another key's spending is its own"
    assert peer.add(spec(), max_queued=10, client_key="key-a").state == JobState.QUEUED
    # Once the costs are older than the window, the key may spend again.
    execute(
        store, "UPDATE {jobs} SET finished_at = finished_at - 7200 WHERE client_key = ?", "key-a"
    )
    again = peer.add(spec(), max_queued=10, client_key="key-a", spend_cap=cap)
    assert again.state == JobState.QUEUED
    costs = sorted(j.cost_usd for j in store.recent(state=JobState.SUCCEEDED))  # type: ignore[type-var]
    assert costs == [0.2, 0.5, 0.6]


def test_the_queue_bound_holds_across_servers(connect: Opener) -> None:
    stores = [connect() for _ in range(4)]
    accepted: list[str] = []
    refused = 0
    lock = threading.Lock()

    def submit(store: JobStore) -> None:
        nonlocal refused
        for i in range(10):
            try:
                job = store.add(spec(i), max_queued=15)
            except QueueFull:
                with lock:
                    refused += 1
            else:
                with lock:
                    accepted.append(job.id)

    threads = [threading.Thread(target=submit, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == 15 and refused == 25
    assert stores[0].counts()["queued"] == 15


def test_the_bell_rings_for_another_servers_writes(store: JobStore, peer: JobStore) -> None:
    queued = threading.Event()
    store.bell.on_queue(queued.set)

    # Listening already (its first connect rings everything once, as after a reconnect).
    wait_until(lambda: store.health().notifications)

    async def scenario() -> list[bool]:
        rings = []
        with store.bell.subscribe(None) as everything:  # every job's events
            job = await asyncio.to_thread(peer.add, spec(), max_queued=5)
            rings.append(await everything.wait(30))
            with store.bell.subscribe(job.id) as bell:
                assert store.bell.waiting() == 2
                claimed = await asyncio.to_thread(peer.claim, "w")
                assert claimed is not None
                rings.append(await bell.wait(30))
                await asyncio.to_thread(peer.progress, job.id, "sheet", "mapping")
                rings.append(await bell.wait(30))
                await asyncio.to_thread(peer.finish, job.id, JobState.SUCCEEDED, result={})
                rings.append(await bell.wait(30))
                rings.append(await bell.wait(0.05))  # nothing more happened: no ring
        assert store.bell.waiting() == 0
        return rings

    assert asyncio.run(scenario()) == [True, True, True, True, False]
    assert queued.wait(30), "a job queued by another server wakes this one's workers"


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigError, match="newer tinygen"):
        SQLiteJobStore(path)
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(ConfigError, match="cannot open the job database"):
        SQLiteJobStore(blocked / "jobs.sqlite3")


def test_postgresql_schema_is_migrated_once_by_servers_starting_together(pg_url: str) -> None:
    import psycopg

    from tinygen.server.postgres_store import SCHEMA_VERSION, PostgresJobStore

    stores: list[JobStore] = []
    failures: list[BaseException] = []
    go = threading.Barrier(4)

    def open_one() -> None:
        go.wait()
        try:
            stores.append(PostgresJobStore(pg_url, pool_size=2, listen=False))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [] and len(stores) == 4
    job = stores[0].add(spec(), max_queued=5)
    assert stores[3].get(job.id) == job
    for store in stores:
        store.close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM tinygen_schema").fetchall() == [(SCHEMA_VERSION,)]
        conn.execute("UPDATE tinygen_schema SET version = 99")
    with pytest.raises(ConfigError) as newer:
        PostgresJobStore(pg_url, listen=False)
    assert "newer tinygen" in newer.value.message and newer.value.settings == ("database_url",)


# --- the worker pool ------------------------------------------------------------------------


class Recorder:
    """An executor that records which job ran on which thread, reporting two stages."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def __call__(self, job: Job, progress: Progress) -> dict[str, Any]:
        with self.lock:
            self.calls.append(job.spec.prompt)
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            progress("work", "half way")
            time.sleep(self.seconds)
            progress("work", "done")
        finally:
            with self.lock:
                self.active -= 1
        if job.spec.prompt == "fail":
            raise LLMAuthError("the API key sk-ant-api03-abcdefghijklmnop was refused", hint="x")
        if job.spec.prompt == "crash":
            raise KeyError("boom")
        return {"status": "approved", "diff": "", "prompt": job.spec.prompt}


def test_pool_runs_every_job_once_within_its_bound(store: JobStore) -> None:
    executor = Recorder(seconds=0.02)
    pool = WorkerPool(store, executor, workers=3, poll_interval=0.05)
    pool.start()
    ids = [store.add(spec(i), max_queued=100).id for i in range(30)]
    pool.wake()
    wait_until(lambda: store.counts()["succeeded"] == 30)
    pool.stop()
    assert Counter(executor.calls) == Counter(f"job {i}" for i in range(30))
    assert executor.peak <= 3
    assert {store.get(i).result["prompt"] for i in ids} == {f"job {i}" for i in range(30)}  # type: ignore[index,union-attr]


def test_pool_records_failures_redacted(store: JobStore) -> None:
    pool = WorkerPool(store, Recorder(), workers=1, poll_interval=0.05)
    pool.start()
    fail = store.add(JobSpec("https://github.com/o/r", "fail"), max_queued=5)
    crash = store.add(JobSpec("https://github.com/o/r", "crash"), max_queued=5)
    pool.wake()
    wait_until(lambda: store.counts()["failed"] == 2)
    pool.stop()
    failed = store.get(fail.id)
    assert failed is not None and failed.error is not None
    assert failed.error["kind"] == "LLMAuthError" and failed.error["exitCode"] == 7
    assert "sk-ant-api03" not in failed.error["message"] and "***" in failed.error["message"]
    crashed = store.get(crash.id)
    assert crashed is not None and crashed.error is not None
    assert crashed.error["kind"] == "InternalError" and "KeyError" in crashed.error["message"]


def test_pool_cancels_at_the_next_step(store: JobStore) -> None:
    started = threading.Event()
    go_on = threading.Event()
    reached: list[str] = []

    def executor(job: Job, progress: Progress) -> dict[str, Any]:
        progress("one", "first step")
        started.set()
        go_on.wait(30)
        progress("two", "second step")
        reached.append("two")
        return {"status": "approved"}

    pool = WorkerPool(store, executor, workers=1, poll_interval=0.05)
    pool.start()
    job = store.add(spec(), max_queued=5)
    pool.wake()
    assert started.wait(30)
    store.cancel(job.id)
    go_on.set()
    wait_until(lambda: store.get(job.id).state.finished)  # type: ignore[union-attr]
    pool.stop()
    assert store.get(job.id).state == JobState.CANCELLED and reached == []  # type: ignore[union-attr]


def test_pool_start_recovers_and_stop_interrupts(store: JobStore) -> None:
    left = store.add(spec(0), max_queued=5)
    # Left running by a previous process: one server per database knows it is dead; on a
    # shared one its lease must have run out.
    store.claim("dead-worker", lease=60 if store.exclusive else 0)
    reason = RESTART_REASON if store.exclusive else LOST_REASON
    started = threading.Event()
    go_on = threading.Event()

    def executor(job: Job, progress: Progress) -> dict[str, Any]:
        started.set()
        go_on.wait(30)
        progress("next", "after the long call")
        return {"status": "approved"}

    pool = WorkerPool(store, executor, workers=1, poll_interval=0.05)
    assert pool.start() == [left.id]
    running = store.add(spec(1), max_queued=5)
    waiting = store.add(spec(2), max_queued=5)
    pool.wake()
    assert started.wait(30)
    threading.Timer(0.5, go_on.set).start()  # the "model call" returns after the drain gave up
    pool.stop(drain_timeout=0.1)
    assert store.get(left.id).error["message"] == reason  # type: ignore[index,union-attr]
    stopped = store.get(running.id)
    assert stopped is not None and stopped.state == JobState.FAILED
    assert stopped.error is not None and stopped.error["message"] == SHUTDOWN_REASON
    assert store.get(waiting.id).state == JobState.QUEUED  # type: ignore[union-attr]


def test_pool_renews_its_leases_and_fails_jobs_whose_lease_ran_out(
    store: JobStore, peer: JobStore
) -> None:
    release = threading.Event()
    started = threading.Event()

    def executor(job: Job, progress: Progress) -> dict[str, Any]:
        started.set()
        release.wait(30)
        return {"status": "approved"}

    pool = WorkerPool(store, executor, workers=1, poll_interval=0.05, lease=1.0)
    pool.start()
    job = store.add(spec(1), max_queued=5)
    assert started.wait(30)
    abandoned = peer.add(spec(0), max_queued=5)
    assert peer.claim("a-server-that-died", lease=0.5) is not None  # nobody renews it
    first = store.get(job.id)
    assert first is not None and first.lease_until is not None
    # The supervisor renews every third of the lease: the lease moves on while it runs.
    wait_until(lambda: store.get(job.id).lease_until > first.lease_until + 0.2)  # type: ignore[union-attr,operator]
    wait_until(lambda: store.get(abandoned.id).state == JobState.FAILED)  # type: ignore[union-attr]
    assert store.get(abandoned.id).error == {"message": LOST_REASON, "kind": "Interrupted"}  # type: ignore[union-attr]
    assert store.get(job.id).state == JobState.RUNNING, "its own job is held"  # type: ignore[union-attr]
    release.set()
    wait_until(lambda: store.get(job.id).state == JobState.SUCCEEDED)  # type: ignore[union-attr]
    pool.stop()
    assert pool.expired == 1


def test_a_job_this_pool_lost_stops_at_its_next_step(store: JobStore, peer: JobStore) -> None:
    started = threading.Event()
    go_on = threading.Event()
    reached: list[str] = []

    def executor(job: Job, progress: Progress) -> dict[str, Any]:
        started.set()
        go_on.wait(30)
        progress("two", "second step")
        reached.append("two")
        return {"status": "approved"}

    pool = WorkerPool(store, executor, workers=1, poll_interval=0.05, lease=1.0)
    pool.start()
    job = store.add(spec(), max_queued=5)
    assert started.wait(30)
    # Another server decided this job's worker was gone (as after a long network cut).
    assert peer.recover("taken away") == [job.id]
    wait_until(lambda: job.id in pool._lost)
    go_on.set()
    wait_until(lambda: pool.running == [])
    pool.stop()
    assert reached == [], "no step after the lease was lost"
    ended = store.get(job.id)
    assert ended is not None and ended.state == JobState.FAILED
    assert ended.error is not None and ended.error["message"] == "taken away"


# --- the pool survives its store failing ------------------------------------------------------


class FlakyStore(SQLiteJobStore):
    """A real SQLite store whose first ``fail_finish`` finish() calls and first ``fail_claim``
    claim() calls raise sqlite3.OperationalError, as a locked database does."""

    def __init__(self, path: Path, *, fail_finish: int = 0, fail_claim: int = 0) -> None:
        super().__init__(path)
        self.fail_finish = fail_finish
        self.fail_claim = fail_claim

    def finish(self, job_id: str, state: JobState, **kwargs: Any) -> bool:
        if self.fail_finish > 0:
            self.fail_finish -= 1
            raise sqlite3.OperationalError("database is locked")
        return super().finish(job_id, state, **kwargs)

    def claim(self, runner: str, **kwargs: Any) -> Job | None:
        if self.fail_claim > 0:
            self.fail_claim -= 1
            raise sqlite3.OperationalError("database is locked")
        return super().claim(runner, **kwargs)


def test_a_failing_store_neither_kills_a_worker_nor_loses_a_result(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "jobs.sqlite3", fail_finish=3, fail_claim=2)
    pool = WorkerPool(store, Recorder(), workers=1, poll_interval=0.05)
    pool.start()
    ids = [store.add(spec(i), max_queued=10).id for i in range(3)]
    pool.wake()
    wait_until(lambda: store.counts()["succeeded"] == 3)
    assert pool.live_workers() == 1 and pool.restarts == 0
    pool.stop()
    assert [store.get(i).result["prompt"] for i in ids] == ["job 0", "job 1", "job 2"]  # type: ignore[index,union-attr]


class WorkerDeath(BaseException):
    """Ends a worker thread (it is no Exception, so the per-job handling does not catch it)."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_worker_is_replaced_and_its_job_failed(store: JobStore) -> None:
    def executor(job: Job, progress: Progress) -> dict[str, Any]:
        if job.spec.prompt == "job 0":
            raise WorkerDeath()
        return {"status": "approved"}

    pool = WorkerPool(store, executor, workers=1, poll_interval=0.05)
    pool.start()
    doomed = store.add(spec(0), max_queued=10)
    pool.wake()
    wait_until(lambda: store.get(doomed.id).state.finished)  # type: ignore[union-attr]
    after = store.add(spec(1), max_queued=10)
    pool.wake()
    wait_until(lambda: store.get(after.id).state == JobState.SUCCEEDED)  # type: ignore[union-attr]
    failed = store.get(doomed.id)
    assert failed is not None and failed.state == JobState.FAILED and failed.error is not None
    assert "stopped unexpectedly" in failed.error["message"]
    assert pool.restarts == 1 and pool.live_workers() == 1
    pool.stop()


def test_retry_after_is_one_slot_not_the_whole_queue(store: JobStore) -> None:
    for i in range(3):
        store.add(spec(i), max_queued=100)
        finish_one(store)
    for i in range(40):
        store.add(spec(i), max_queued=100)
    # make the finished jobs take 40 s each
    execute(store, "UPDATE {jobs} SET started_at = finished_at - 40 WHERE state = 'succeeded'")
    assert store.retry_after(workers=4) == 10  # 40 s / 4 workers, whatever the queue
    assert store.retry_after(workers=100) == 1


def test_prune_drops_old_finished_jobs_and_run_records(store: JobStore, tmp_path: Path) -> None:
    import os

    from tinygen.server.prune import DAY, prune

    old, new = store.add(spec(1), max_queued=10), store.add(spec(2), max_queued=10)
    for _ in range(2):
        finish_one(store)
    waiting = store.add(spec(3), max_queued=10)
    now = time.time()
    execute(
        store,
        "UPDATE {jobs} SET created_at = ?, finished_at = ? WHERE id = ?",
        now - 40 * DAY,
        now - 40 * DAY,
        old.id,
    )
    execute(store, "UPDATE {jobs} SET created_at = ? WHERE id = ?", now - 40 * DAY, waiting.id)
    cache = tmp_path / "clones"
    runs = cache / "github.com" / "o" / "r.git" / "tinygen" / "runs"
    (cache / "github.com" / "o" / "r.git" / "objects").mkdir(parents=True)
    (cache / "github.com" / "o" / "r.git" / "HEAD").write_text("ref: refs/heads/main\n")
    for name, age in (("old-run", 40), ("new-run", 1)):
        (runs / name).mkdir(parents=True)
        (runs / name / "run.json").write_text("{}")
        os.utime(runs / name, (now - age * DAY, now - age * DAY))

    prune(store, cache, keep_days=30, now=now)
    assert store.get(old.id) is None and store.events(old.id) == []
    assert store.get(new.id) is not None, "recent jobs stay"
    assert store.get(waiting.id) is not None, "queued jobs are never pruned"
    assert sorted(p.name for p in runs.iterdir()) == ["new-run"]
    assert (cache / "github.com" / "o" / "r.git" / "HEAD").exists(), "the clone stays"


def test_database_lock_admits_one_holder(tmp_path: Path) -> None:
    from tinygen.server.lock import DatabaseLock

    db = tmp_path / "jobs.sqlite3"
    first, second = DatabaseLock(db), DatabaseLock(db)
    first.acquire("http://127.0.0.1:8000, pid 1")
    with pytest.raises(ConfigError) as refused:
        second.acquire("http://127.0.0.1:8001, pid 2")
    assert str(db) in refused.value.message and "127.0.0.1:8000" in refused.value.message
    assert refused.value.settings == ("db_path",), "the CLI adds --db, naming the setting"
    first.release()
    second.acquire("http://127.0.0.1:8001, pid 2")
    assert second.held
    second.release()
