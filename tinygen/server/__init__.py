"""The HTTP service behind `tinygen serve`: jobs in SQLite (one server) or PostgreSQL (many
servers), a bounded worker pool, FastAPI.

``jobs`` (the store interface), ``sqlite_store``, ``postgres_store`` (psycopg, imported only
for a PostgreSQL database), ``worker`` (the pool), ``lifecycle`` (start-up checks, the
database held, the workers run), ``config``, ``inputs`` and ``errors`` import no web
framework; ``serving`` (create_app, uvicorn), ``routes`` and ``auth`` (the request gate)
need the ``server`` extra (``pip install 'tinygen[server]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygen.server.config import ServerConfig, check_bind
from tinygen.server.errors import JobCancelled
from tinygen.server.jobs import Event, Job, JobSpec, JobState, JobStore, QueueFull
from tinygen.server.lifecycle import open_store
from tinygen.server.sqlite_store import SQLiteJobStore
from tinygen.server.worker import WorkerPool

if TYPE_CHECKING:
    from tinygen.server.serving import create_app, serve_in_thread


def __getattr__(name: str) -> Any:
    if name in ("create_app", "serve_in_thread"):
        # FastAPI (heavy): imported only when the application itself is wanted
        from tinygen.server import serving

        return getattr(serving, name)
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
    "open_store",
    "serve_in_thread",
]
