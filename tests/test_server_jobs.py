"""The job store (real SQLite files) and the worker pool: exact claims, queue bounds,
cancellation, restart recovery. The pool runs a small executor given to it here — the
executor is the pool's parameter, not a replaced tinygen function."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tinygen.errors import ConfigError, LLMAuthError
from tinygen.server.errors import SHUTDOWN_REASON
from tinygen.server.jobs import Job, JobSpec, JobState, QueueFull, SQLiteJobStore
from tinygen.server.worker import RESTART_REASON, Progress, WorkerPool


def spec(n: int = 0) -> JobSpec:
    return JobSpec(repo_url="https://github.com/o/r", prompt=f"job {n}")


@pytest.fixture
def store(tmp_path: Path) -> SQLiteJobStore:
    return SQLiteJobStore(tmp_path / "db" / "jobs.sqlite3")


def wait_until(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_claims_are_exact_across_threads_and_connections(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    stores = [SQLiteJobStore(path) for _ in range(3)]  # three connections, as three processes
    ids = [stores[0].add(spec(i), max_queued=1000).id for i in range(150)]
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(store: SQLiteJobStore, name: str) -> None:
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


def test_fifo_order_states_and_events(store: SQLiteJobStore) -> None:
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


def test_queue_bound_counts_waiting_jobs_only(store: SQLiteJobStore) -> None:
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


def test_cancel_queued_and_running(store: SQLiteJobStore) -> None:
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


def test_recover_fails_running_jobs_and_keeps_queued(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    old = SQLiteJobStore(path)
    a = old.add(spec(1), max_queued=5)
    b = old.add(spec(2), max_queued=5)
    old.claim("w")
    old.close()  # the process died with `a` running

    new = SQLiteJobStore(path)
    assert new.recover(RESTART_REASON) == [a.id]
    failed = new.get(a.id)
    assert failed is not None and failed.state == JobState.FAILED
    assert failed.error == {"message": RESTART_REASON, "kind": "Interrupted"}
    assert new.get(b.id).state == JobState.QUEUED  # type: ignore[union-attr]
    # The old worker, if it were still alive, cannot overwrite the recorded failure.
    assert not new.finish(a.id, JobState.SUCCEEDED, result={"status": "approved"})
    assert new.get(a.id).state == JobState.FAILED  # type: ignore[union-attr]


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


def test_pool_runs_every_job_once_within_its_bound(store: SQLiteJobStore) -> None:
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


def test_pool_records_failures_redacted(store: SQLiteJobStore) -> None:
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


def test_pool_cancels_at_the_next_step(store: SQLiteJobStore) -> None:
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


def test_pool_start_recovers_and_stop_interrupts(store: SQLiteJobStore) -> None:
    left = store.add(spec(0), max_queued=5)
    store.claim("dead-worker")  # left running by a previous process
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
    assert store.get(left.id).error["message"] == RESTART_REASON  # type: ignore[index,union-attr]
    stopped = store.get(running.id)
    assert stopped is not None and stopped.state == JobState.FAILED
    assert stopped.error is not None and stopped.error["message"] == SHUTDOWN_REASON
    assert store.get(waiting.id).state == JobState.QUEUED  # type: ignore[union-attr]


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

    def claim(self, runner: str) -> Job | None:
        if self.fail_claim > 0:
            self.fail_claim -= 1
            raise sqlite3.OperationalError("database is locked")
        return super().claim(runner)


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
def test_a_dead_worker_is_replaced_and_its_job_failed(store: SQLiteJobStore) -> None:
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


def test_retry_after_is_one_slot_not_the_whole_queue(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    store = SQLiteJobStore(path)
    for i in range(3):
        store.add(spec(i), max_queued=100)
        job = store.claim("w")
        assert job is not None and store.finish(job.id, JobState.SUCCEEDED, result={})
    for i in range(40):
        store.add(spec(i), max_queued=100)
    with sqlite3.connect(path) as db:  # make the finished jobs take 40 s each
        db.execute("UPDATE jobs SET started_at = finished_at - 40 WHERE state = 'succeeded'")
    assert store.retry_after(workers=4) == 10  # 40 s / 4 workers, whatever the queue
    assert store.retry_after(workers=100) == 1


def test_prune_drops_old_finished_jobs_and_run_records(tmp_path: Path) -> None:
    import os

    from tinygen.server.prune import DAY, prune

    path = tmp_path / "jobs.sqlite3"
    store = SQLiteJobStore(path)
    old, new = store.add(spec(1), max_queued=10), store.add(spec(2), max_queued=10)
    for _ in range(2):
        job = store.claim("w")
        assert job is not None and store.finish(job.id, JobState.SUCCEEDED, result={})
    waiting = store.add(spec(3), max_queued=10)
    now = time.time()
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE jobs SET created_at = ?, finished_at = ? WHERE id = ?",
            (now - 40 * DAY, now - 40 * DAY, old.id),
        )
        db.execute("UPDATE jobs SET created_at = ? WHERE id = ?", (now - 40 * DAY, waiting.id))
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
