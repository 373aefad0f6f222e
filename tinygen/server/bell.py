"""Telling waiters that something changed, without them polling the database.

A :class:`Bell` rings for one job (a new event: progress, a state change) or for the queue
(a job was queued). The job store rings it: the SQLite store after its own writes (one
server per file, so every write is its own); the PostgreSQL store when a ``NOTIFY`` arrives
from any server, and after a reconnect for everything at once, since notifications sent
while it was away are lost.

Two kinds of waiter: the HTTP routes' event streams await a :class:`Subscription` on the
event loop (``call_soon_threadsafe`` hands the ring over from the ringing thread), and the
worker pool registers a plain callback for the queue. A waiter subscribes *before* it reads
the store, so a ring between its read and its wait is never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

log = logging.getLogger("tinygen.server")


class Subscription:
    """One waiter's interest in one job (``None``: every job); use as a context manager."""

    def __init__(self, bell: Bell, job_id: str | None, loop: asyncio.AbstractEventLoop) -> None:
        self.bell = bell
        self.job_id = job_id
        self._loop = loop
        self._event = asyncio.Event()

    def _ring(self) -> None:  # from any thread
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout: float) -> bool:
        """True when rung since the last wait; False after ``timeout`` seconds of quiet."""
        if not self._event.is_set():
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except TimeoutError:
                return False
        self._event.clear()
        return True

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bell._remove(self)


class Bell:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str | None, set[Subscription]] = {}
        self._queue_callbacks: list[Callable[[], None]] = []

    def subscribe(self, job_id: str | None) -> Subscription:
        """From a coroutine: a subscription to ``job_id``'s rings (None: all jobs)."""
        sub = Subscription(self, job_id, asyncio.get_running_loop())
        with self._lock:
            self._subs.setdefault(job_id, set()).add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.job_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.job_id]

    def on_queue(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the ringing thread; keep it short) when a job is queued."""
        with self._lock:
            self._queue_callbacks.append(callback)

    def ring_job(self, job_id: str) -> None:
        with self._lock:
            subs = [*self._subs.get(job_id, ()), *self._subs.get(None, ())]
        for sub in subs:
            sub._ring()

    def ring_queue(self) -> None:
        with self._lock:
            callbacks = list(self._queue_callbacks)
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("a queue waiter failed")

    def ring_all(self) -> None:
        """Everything may have changed (a reconnect, a shutdown): wake every waiter."""
        with self._lock:
            subs = [s for group in self._subs.values() for s in group]
        for sub in subs:
            sub._ring()
        self.ring_queue()

    def waiting(self) -> int:
        """Subscriptions open now (tests: a stream is waiting on the bell)."""
        with self._lock:
            return sum(len(s) for s in self._subs.values())


__all__ = ["Bell", "Subscription"]
