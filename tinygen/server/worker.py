"""A bounded pool of worker threads that take jobs from a JobStore and run them.

Each worker loops: claim the oldest queued job (an exact, transactional claim in the
store), run it with the executor, record the outcome. Idle workers sleep until a job is
submitted in this process (:meth:`WorkerPool.wake`) or ``poll_interval`` passes (jobs queued
by another process).

Stopping a job is cooperative: the executor calls ``progress(stage, message)`` at every
stage boundary, and that call raises :class:`JobCancelled` once the job was cancelled, or
:class:`ServerStopping` once a shutdown gave up waiting. The pipeline lets the exception
propagate and removes its temporary worktree on the way out.

Restart semantics: at start, jobs the store still has as ``running`` were interrupted by a
crash or a kill; they are marked ``failed`` ("interrupted by restart"), not re-queued,
because they may have spent model calls already and may be half-delivered — running them
again silently would bill and act twice. Queued jobs simply run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from tinygen.errors import TinygenError
from tinygen.redact import redact
from tinygen.server.jobs import Job, JobState, JobStore

Progress = Callable[[str, str], None]
Executor = Callable[[Job, Progress], dict[str, Any]]  # job -> result (JSON-ready)

RESTART_REASON = "interrupted by restart"
SHUTDOWN_REASON = "interrupted by server shutdown"

log = logging.getLogger("tinygen.server")


class JobInterrupted(TinygenError):
    """Raised from a job's progress callback to stop it at the next step."""


class JobCancelled(JobInterrupted):
    def __init__(self) -> None:
        super().__init__("cancelled")


class ServerStopping(JobInterrupted):
    def __init__(self) -> None:
        super().__init__(SHUTDOWN_REASON, hint="submit the job again")


def error_info(exc: BaseException) -> dict[str, Any]:
    """What a client sees of a failure: message, hint, kind, exit code — all redacted."""
    if isinstance(exc, TinygenError):
        return {
            "message": redact(exc.message),
            "hint": redact(exc.hint) if exc.hint else None,
            "kind": type(exc).__name__,
            "exitCode": int(exc.exit_code),
        }
    return {
        "message": redact(f"internal error: {type(exc).__name__}: {exc}"),
        "hint": "this is a bug in tinygen; the server log has the traceback",
        "kind": "InternalError",
        "exitCode": 1,
    }


class WorkerPool:
    def __init__(
        self,
        store: JobStore,
        execute: Executor,
        *,
        workers: int = 2,
        poll_interval: float = 1.0,
        name: str = "worker",
    ) -> None:
        self.store = store
        self.execute = execute
        self.size = workers
        self.poll_interval = poll_interval
        self.name = name
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()
        self._generation = 0  # bumped by wake(): no submission is missed between checks
        self._stopping = threading.Event()  # take no new jobs
        self._abort = threading.Event()  # stop running jobs at their next step
        self._running: set[str] = set()

    def start(self) -> list[str]:
        """Fail what a previous process left running, then start the workers."""
        recovered = self.store.recover(RESTART_REASON)
        for job_id in recovered:
            log.warning("job %s was running when the server stopped: marked failed", job_id)
        for index in range(self.size):
            thread = threading.Thread(
                target=self._loop, args=(f"{self.name}-{index + 1}",), daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return recovered

    def wake(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    @property
    def running(self) -> list[str]:
        with self._cond:
            return sorted(self._running)

    def stop(self, drain_timeout: float = 10.0, abort_timeout: float = 30.0) -> None:
        """Take no new jobs; give running ones ``drain_timeout`` seconds, then interrupt
        them at their next step. Queued jobs stay queued for the next start."""
        self._stopping.set()
        self.wake()
        for thread in self._threads:
            thread.join(drain_timeout)
        if any(t.is_alive() for t in self._threads):
            self._abort.set()
            for thread in self._threads:
                thread.join(abort_timeout)
        # A thread still alive is stuck in a model call; its job stays `running` and the
        # next start marks it failed. The threads are daemons: they do not block exit.

    def _loop(self, runner: str) -> None:
        while not self._stopping.is_set():
            with self._cond:
                seen = self._generation
            try:
                job = self.store.claim(runner)
            except Exception:  # a broken database must not kill the worker silently
                log.exception("%s: cannot claim a job", runner)
                job = None
            if job is None:
                with self._cond:
                    self._cond.wait_for(
                        lambda: self._generation != seen or self._stopping.is_set(),  # noqa: B023
                        timeout=self.poll_interval,
                    )
                continue
            with self._cond:
                self._running.add(job.id)
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._running.discard(job.id)

    def _run(self, job: Job) -> None:
        def progress(stage: str, message: str) -> None:
            if self._abort.is_set():
                raise ServerStopping()
            if self.store.cancel_requested(job.id):
                raise JobCancelled()
            self.store.progress(job.id, stage, redact(message))

        state, result, error = JobState.SUCCEEDED, None, None
        try:
            progress("starting", f"{job.spec.repo_url}")
            result = self.execute(job, progress)
        except JobCancelled:
            state, error = (
                JobState.CANCELLED,
                {"message": "cancelled while running", "kind": "Cancelled"},
            )
        except ServerStopping as exc:
            state, error = JobState.FAILED, error_info(exc)
        except TinygenError as exc:
            state, error = JobState.FAILED, error_info(exc)
        except Exception as exc:
            log.exception("job %s failed with an unexpected error", job.id)
            state, error = JobState.FAILED, error_info(exc)
        if not self.store.finish(job.id, state, result=result, error=error):
            log.warning("job %s was no longer running when it ended (%s)", job.id, state)


__all__ = [
    "RESTART_REASON",
    "SHUTDOWN_REASON",
    "Executor",
    "JobCancelled",
    "JobInterrupted",
    "Progress",
    "ServerStopping",
    "WorkerPool",
    "error_info",
]
