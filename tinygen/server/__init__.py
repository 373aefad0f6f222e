"""The HTTP service behind `tinygen serve`: jobs in SQLite, a bounded worker pool, FastAPI.

``jobs`` (the store), ``worker`` (the pool) and ``config`` import no web framework;
``app`` needs the ``server`` extra (``pip install 'tinygen[server]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygen.server.config import ServerConfig, check_bind
from tinygen.server.jobs import Event, Job, JobSpec, JobState, JobStore, QueueFull, SQLiteJobStore
from tinygen.server.worker import JobCancelled, WorkerPool

if TYPE_CHECKING:
    from tinygen.server.app import create_app, serve_in_thread


def __getattr__(name: str) -> Any:
    # FastAPI is imported only when the application itself is wanted.
    if name in ("create_app", "serve_in_thread"):
        from tinygen.server import app

        return getattr(app, name)
    raise AttributeError(name)


__all__ = [
    "Event",
    "Job",
    "JobCancelled",
    "JobSpec",
    "JobState",
    "JobStore",
    "QueueFull",
    "SQLiteJobStore",
    "ServerConfig",
    "WorkerPool",
    "check_bind",
    "create_app",
    "serve_in_thread",
]
