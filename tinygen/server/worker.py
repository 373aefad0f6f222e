"""A bounded pool of worker threads that take jobs from a JobStore and run them.

Each worker loops: claim the oldest queued job (an exact, transactional claim in the
store), run it with the executor, record the outcome. Idle workers sleep until the store's
bell says a job was queued (by any server), or ``poll_interval`` passes.

Stopping a job is cooperative: the executor calls ``progress(stage, message)`` at every
stage boundary, and that call raises :class:`~tinygen.server.errors.JobCancelled` once the
job was cancelled, or :class:`~tinygen.server.errors.ServerStopping` once a shutdown gave
up waiting. The pipeline lets the exception propagate and removes its temporary worktree
on the way out.

Failures of the pool itself (the store refusing a write, a thread dying) are survived: see
:class:`WorkerPool`.

Leases: a claim holds its job for ``lease`` seconds; the supervisor renews the leases of the
jobs this pool runs every third of that, and fails any job whose lease ran out — on a shared
database that is how a server that died (or lost its machine) has its jobs noticed by the
others ("interrupted (worker lost)"). A job this pool finds it no longer holds is stopped at
its next step.

Restart semantics: a job that was running when its server died is marked ``failed``, never
re-queued, because it may have spent model calls already and may be half-delivered —
running it again silently would bill and act twice. With an exclusive store (SQLite: one
server per file) that happens at start ("interrupted by restart"); on a shared one when the
lease runs out. Queued jobs simply run.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from tinygen.errors import TinygenError
from tinygen.redact import redact
from tinygen.server.errors import (
    LOST_REASON,
    JobCancelled,
    ServerStopping,
    WorkerLost,
    error_info,
)
from tinygen.server.jobs import DEFAULT_LEASE, Job, JobState, JobStore, StoreUnavailable

Progress = Callable[[str, str], None]
Executor = Callable[[Job, Progress], dict[str, Any]]  # job -> result (JSON-ready)

RESTART_REASON = "interrupted by restart"

log = logging.getLogger("tinygen.server")


class WorkerPool:
    """``workers`` threads that claim and run jobs, and a supervisor thread.

    No single failure stops the pool: an error around one job (the store refusing a write,
    say) is logged and the worker goes on with the next; recording a job's outcome is retried
    with backoff; a worker thread that died anyway is replaced by the supervisor, which first
    fails the job the dead thread was running, so no job stays ``running`` forever. The
    supervisor also renews this pool's leases, fails jobs whose lease ran out (any server's)
    and calls ``maintenance`` (pruning old jobs) every ``maintenance_interval``.

    ``name`` prefixes the workers' runner names (``<name>-1``, ...), which the store records
    with each job: by default host name and process id, unique across servers.
    """

    def __init__(
        self,
        store: JobStore,
        execute: Executor,
        *,
        workers: int = 2,
        poll_interval: float = 1.0,
        name: str | None = None,
        finish_retry_total: float = 60.0,
        maintenance: Callable[[], None] | None = None,
        maintenance_interval: float = 3600.0,
        lease: float = DEFAULT_LEASE,
    ) -> None:
        self.store = store
        self.execute = execute
        self.size = workers
        self.poll_interval = poll_interval
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.lease = lease
        self.finish_retry_total = finish_retry_total
        self.maintenance = maintenance
        self.maintenance_interval = maintenance_interval
        self.restarts = 0  # worker threads replaced after dying
        self._threads: list[threading.Thread | None] = [None] * workers
        self._current: list[str | None] = [None] * workers  # job id each slot runs
        self._supervisor: threading.Thread | None = None
        self._cond = threading.Condition()
        self._generation = 0  # bumped by wake(): no submission is missed between checks
        self._stopping = threading.Event()  # take no new jobs
        self._abort = threading.Event()  # stop running jobs at their next step
        self._lost: set[str] = set()  # jobs whose lease this pool lost: stop them
        self.expired = 0  # jobs (any server's) this pool failed as lost

    def start(self) -> list[str]:
        """Fail what a previous process left running (an exclusive store: every running job;
        a shared one: those whose lease ran out), then start the workers."""
        if self.store.exclusive:
            recovered = self.store.recover(RESTART_REASON)
        else:
            recovered = self.store.expire(LOST_REASON)
            self.expired += len(recovered)
        for job_id in recovered:
            log.warning("job %s was running when its server stopped: marked failed", job_id)
        self.store.bell.on_queue(self.wake)
        for slot in range(self.size):
            self._start_worker(slot)
        self._supervisor = threading.Thread(
            target=self._supervise, name=f"{self.name}-supervisor", daemon=True
        )
        self._supervisor.start()
        return recovered

    def _start_worker(self, slot: int) -> None:
        runner = f"{self.name}-{slot + 1}"
        thread = threading.Thread(target=self._loop, args=(slot, runner), name=runner, daemon=True)
        self._threads[slot] = thread
        thread.start()

    def wake(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    @property
    def running(self) -> list[str]:
        with self._cond:
            return sorted(j for j in self._current if j is not None)

    def live_workers(self) -> int:
        return sum(1 for t in self._threads if t is not None and t.is_alive())

    def stop(self, drain_timeout: float = 10.0, abort_timeout: float = 30.0) -> None:
        """Take no new jobs; give running ones ``drain_timeout`` seconds, then interrupt
        them at their next step. Queued jobs stay queued for the next start."""
        self._stopping.set()
        self.wake()
        threads = [t for t in self._threads if t is not None]
        for thread in threads:
            thread.join(drain_timeout)
        if any(t.is_alive() for t in threads):
            self._abort.set()
            for thread in threads:
                thread.join(abort_timeout)
        if self._supervisor is not None:
            self._supervisor.join(drain_timeout)
        # A thread still alive is stuck in a model call; its job stays `running` and the
        # next start marks it failed. The threads are daemons: they do not block exit.

    # -- the supervisor --------------------------------------------------------------------

    def _supervise(self) -> None:
        now = time.monotonic()
        next_maintenance = now + self.maintenance_interval
        next_lease = now + self.lease / 3
        while not self._stopping.wait(min(self.poll_interval, self.lease / 3)):
            try:
                self.revive()
                if time.monotonic() >= next_lease:
                    next_lease = time.monotonic() + self.lease / 3
                    self.keep_leases()
                if self.maintenance is not None and time.monotonic() >= next_maintenance:
                    next_maintenance = time.monotonic() + self.maintenance_interval
                    self.maintenance()
            except StoreUnavailable as exc:
                log.warning("the worker supervisor cannot reach the job database: %s", exc)
            except Exception:
                log.exception("the worker supervisor failed; trying again")

    def keep_leases(self) -> None:
        """Renew the leases of the jobs this pool runs (marking those it lost, to stop them
        at their next step), then fail any job whose lease ran out."""
        with self._cond:
            mine = [j for j in self._current if j is not None]
        if mine:
            held = set(self.store.renew(mine, lease=self.lease))
            lost = set(mine) - held
            with self._cond:
                # A job that ended meanwhile is not "lost": only those still in a slot.
                self._lost |= lost & {j for j in self._current if j is not None}
        expired = self.store.expire(LOST_REASON)
        self.expired += len(expired)
        for job_id in expired:
            log.warning("job %s lost its worker (its lease ran out): marked failed", job_id)

    def revive(self) -> int:
        """Replace dead worker threads (failing the job each was running); how many."""
        revived = 0
        for slot, thread in enumerate(self._threads):
            if self._stopping.is_set() or thread is None or thread.is_alive():
                continue
            with self._cond:
                orphan, self._current[slot] = self._current[slot], None
            if orphan is not None:
                log.error("worker %s died while running job %s", thread.name, orphan)
                error = {
                    "message": "the worker running this job stopped unexpectedly",
                    "hint": "submit the job again; the server log has the details",
                    "kind": "InternalError",
                    "exitCode": 1,
                }
                self._finish(orphan, JobState.FAILED, None, error)
            else:
                log.error("worker %s died; starting a new one", thread.name)
            self._start_worker(slot)
            self.restarts += 1
            revived += 1
        return revived

    # -- the workers -----------------------------------------------------------------------

    def _loop(self, slot: int, runner: str) -> None:
        while not self._stopping.is_set():
            try:
                self._step(slot, runner)
            except StoreUnavailable as exc:  # the store reconnects; try again shortly
                log.warning("%s: %s", runner, exc)
                self._stopping.wait(self.poll_interval)
            except Exception:  # a broken database must not end the worker
                log.exception("%s: error outside a job; going on", runner)
                self._stopping.wait(self.poll_interval)

    def _step(self, slot: int, runner: str) -> None:
        with self._cond:
            seen = self._generation
        job = self.store.claim(runner, lease=self.lease)
        if job is None:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._generation != seen or self._stopping.is_set(),
                    timeout=self.poll_interval,
                )
            return
        with self._cond:
            self._current[slot] = job.id
        # Only a normal return clears the slot: if the thread dies inside, the supervisor
        # sees the job id and fails the job.
        self._run(job)
        with self._cond:
            self._current[slot] = None
            self._lost.discard(job.id)

    def _run(self, job: Job) -> None:
        def progress(stage: str, message: str) -> None:
            if self._abort.is_set():
                raise ServerStopping()
            with self._cond:
                lost = job.id in self._lost
            if lost:
                raise WorkerLost()
            try:
                if self.store.cancel_requested(job.id):
                    raise JobCancelled()
                self.store.progress(job.id, stage, redact(message))
            except StoreUnavailable as exc:
                # A database blip must not fail a job that is doing fine: this step goes
                # unrecorded, the outcome is retried in _finish, and a cancel is seen at a
                # later step. (The lease covers a database away for longer.)
                log.warning("job %s: progress not recorded: %s", job.id, exc)

        state, result, error = JobState.SUCCEEDED, None, None
        try:
            progress("starting", f"{job.spec.repo_url}")
            result = self.execute(job, progress)
        except JobCancelled:
            state, error = (
                JobState.CANCELLED,
                {"message": "cancelled while running", "kind": "Cancelled"},
            )
        except TinygenError as exc:
            state, error = JobState.FAILED, error_info(exc)
        except Exception as exc:
            log.exception("job %s failed with an unexpected error", job.id)
            state, error = JobState.FAILED, error_info(exc)
        self._finish(job.id, state, result, error)

    def _finish(
        self,
        job_id: str,
        state: JobState,
        result: dict[str, Any] | None,
        error: dict[str, Any] | None,
    ) -> None:
        """Record the outcome, retrying a failing store with backoff (a locked or briefly
        unavailable database must not throw a finished result away)."""
        delay, waited = 0.05, 0.0
        while True:
            try:
                if not self.store.finish(job_id, state, result=result, error=error):
                    log.warning("job %s was no longer running when it ended (%s)", job_id, state)
                return
            except Exception:
                if waited >= self.finish_retry_total:
                    # The job stays `running`; the next start marks it failed.
                    log.exception("cannot record the end of job %s; giving up", job_id)
                    return
                log.warning("cannot record the end of job %s yet; retrying", job_id, exc_info=True)
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)


__all__ = [
    "LOST_REASON",
    "RESTART_REASON",
    "Executor",
    "Progress",
    "WorkerPool",
]
