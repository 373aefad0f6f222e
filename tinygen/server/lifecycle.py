"""A server's life around its application, without the web framework: what is checked before
anything listens, the job database held, and the workers run (after cleaning up what a
killed server left) and stopped.

- :func:`prepared` — `tinygen serve`: the address is safe to listen on, the server extra
  is installed, every model jobs may
  use has its key, the job database is held and open; then :meth:`Prepared.run` serves in
  the foreground until stopped.
- :func:`held_database` — the job store (:func:`open_store`), with SQLite's lock taken first (one server per
  file: a second one is refused with exit code 6 instead of failing the first one's jobs).
- :func:`running_jobs` — the workers: a killed server's worktrees and run records cleaned
  up, old jobs pruned, the jobs it left running failed, the pool started; on exit event
  streams are told and the pool drained. While it runs, the clone cache's path is shown as
  ``<server cache>`` in what leaves the server (errors, job events).

``serving.create_app`` runs the last two in its lifespan; tests may call them directly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

from tinygen.config import load_settings
from tinygen.errors import ConfigError
from tinygen.llm.factory import make_provider
from tinygen.redact import hidden_paths
from tinygen.repo.clone import default_cache_dir
from tinygen.server.config import ServerConfig, check_bind
from tinygen.server.jobs import JobStore
from tinygen.server.lock import DatabaseLock, owner_text
from tinygen.server.prune import prune, recover_cache
from tinygen.server.sqlite_store import SQLiteJobStore
from tinygen.server.worker import Executor, WorkerPool

CACHE_SHOWN_AS = "<server cache>"


def server_url(config: ServerConfig) -> str:
    scheme = "https" if config.ssl_certfile else "http"
    return f"{scheme}://{config.host}:{config.port}"


def database_text(config: ServerConfig) -> str:
    """The job database, for a log line: the SQLite file, or the PostgreSQL database
    without its password."""
    if not config.database_url:
        return str(config.db_path)
    # psycopg (heavy): imported only for a PostgreSQL database
    from tinygen.server.postgres_store import describe

    return f"PostgreSQL {describe(config.database_url)}"


def check_model_keys(config: ServerConfig) -> None:
    """Every model jobs may use has its key (each provider checks its own; nothing is sent)."""
    own = load_settings(None)
    for model in config.models():
        make_provider(own.replace(model=model))


def serving_module() -> ModuleType:
    """:mod:`tinygen.server.serving`, or a ConfigError when the server extra is missing."""
    try:
        # FastAPI and uvicorn (heavy, the server extra): only once a server is wanted
        import uvicorn  # noqa: F401

        from tinygen.server import serving
    except ImportError as exc:
        raise ConfigError(
            f"the HTTP service needs FastAPI and uvicorn ({exc.name} is missing)",
            hint="pip install 'tinygen[server]'",
        ) from exc
    return serving


def open_store(config: ServerConfig) -> JobStore:
    """The store the settings name: PostgreSQL for ``database_url``, else SQLite at
    ``db_path``. Raises ConfigError when it cannot be opened."""
    if config.database_url:
        # psycopg (heavy): imported only for a PostgreSQL store
        from tinygen.server.postgres_store import PostgresJobStore

        return PostgresJobStore(config.database_url, pool_size=config.workers + 8)
    return SQLiteJobStore(config.db_path)


@contextmanager
def held_database(config: ServerConfig, owner: str) -> Iterator[JobStore]:
    """The job store ``config`` names, open for the block. With SQLite the database lock is
    taken first (``owner`` describes this server to a second one, which gets a ConfigError);
    a PostgreSQL database is shared by any number of servers. A store that cannot be opened
    is a ConfigError too."""
    lock = None if config.database_url else DatabaseLock(config.db_path)
    if lock is not None:
        lock.acquire(owner)
    try:
        store = open_store(config)
        try:
            yield store
        finally:
            store.close()
    finally:
        if lock is not None:
            lock.release()


@dataclass
class Running:
    """The workers of a running server, and what the routes need to know of them."""

    store: JobStore
    pool: WorkerPool
    recovered: list[str]  # jobs a stopped server left running, now failed
    closing: threading.Event  # set when the server stops: event streams end


@contextmanager
def running_jobs(config: ServerConfig, store: JobStore, executor: Executor) -> Iterator[Running]:
    """Run ``store``'s jobs with ``executor`` for the block; a new block on the same
    database is a restart (queued jobs run, the ones left running fail)."""
    cache = config.cache_dir or default_cache_dir()

    def maintenance() -> None:
        if config.keep_days > 0:
            prune(store, cache, config.keep_days)

    pool = WorkerPool(
        store,
        executor,
        workers=config.workers,
        poll_interval=config.poll_interval,
        maintenance=maintenance,
        maintenance_interval=config.maintenance_interval,
        lease=config.lease_seconds,
    )
    with hidden_paths({cache: CACHE_SHOWN_AS}):
        recover_cache(cache)  # a killed server's worktrees and run records
        maintenance()
        running = Running(store, pool, pool.start(), threading.Event())
        try:
            yield running
        finally:
            running.closing.set()
            store.bell.ring_all()  # event streams see `closing` and end
            pool.stop(config.drain_timeout)


@dataclass(frozen=True)
class Prepared:
    """A server ready to listen: checked, its job database held and open."""

    config: ServerConfig
    store: JobStore
    url: str
    database: str  # as a log line names it (database_text)

    def run(self, log_level: str = "info") -> None:
        """Serve in the foreground until stopped (Ctrl-C, SIGTERM); the workers run with
        the application."""
        serving_module().serve_forever(self.config, self.store, log_level=log_level)


@contextmanager
def prepared(config: ServerConfig) -> Iterator[Prepared]:
    """Everything that can refuse a start, done before anything listens (ConfigError, exit
    code 6): the address and tokens, the server extra, each allowed model's key, the job
    database (held for the block)."""
    check_bind(config.host, config.token)
    serving_module()
    check_model_keys(config)
    url = server_url(config)
    with held_database(config, owner_text(url)) as store:
        yield Prepared(config, store, url, database_text(config))


__all__ = [
    "CACHE_SHOWN_AS",
    "Prepared",
    "Running",
    "check_model_keys",
    "database_text",
    "held_database",
    "open_store",
    "prepared",
    "running_jobs",
    "server_url",
    "serving_module",
]
