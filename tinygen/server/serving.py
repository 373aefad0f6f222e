"""Assembling and running the application: ``create_app`` (routes, the request gate, and a
lifespan that runs :mod:`tinygen.server.lifecycle`: store, workers) and uvicorn, in the
foreground (`tinygen serve`) or on a thread (tests, benchmarks). This module needs the server extra (FastAPI, uvicorn): nothing imports it
until an application is wanted (``tinygen.server.create_app``, `tinygen serve`).

Every request passes :class:`~tinygen.server.auth.RequestGate` first; errors are answered
in one shape (:mod:`tinygen.server.errors`); requests are checked by
:mod:`tinygen.server.inputs`; the routes are in :mod:`tinygen.server.routes`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from tinygen import __version__
from tinygen.server.auth import RequestGate
from tinygen.server.config import ServerConfig
from tinygen.server.docs import add_docs
from tinygen.server.errors import install_error_handlers
from tinygen.server.execute import PipelineExecutor
from tinygen.server.jobs import JobStore
from tinygen.server.lifecycle import Running, held_database, running_jobs, server_url
from tinygen.server.lock import owner_text
from tinygen.server.routes import Service, add_routes
from tinygen.server.schemas import ErrorBody
from tinygen.server.worker import Executor


def create_app(
    config: ServerConfig,
    *,
    executor: Executor | None = None,
    store: JobStore | None = None,
) -> FastAPI:
    """The application. Its lifespan runs the workers (:func:`running_jobs`), so a new app
    on the same database is a restart (queued jobs run, running ones fail).

    Without ``store`` the lifespan also holds the job database (:func:`held_database`):
    with SQLite a second server on the same file fails to start with a ConfigError instead
    of failing this one's jobs. A given ``store`` is the caller's to hold and close
    (`tinygen serve` opens it before anything listens: :func:`lifecycle.prepared`)."""
    holder: dict[str, Service] = {}

    def service() -> Service:
        return holder["service"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stack = ExitStack()

        def start() -> Running:
            held = store
            if held is None:
                owner = owner_text(server_url(config))
                held = stack.enter_context(held_database(config, owner))
            return stack.enter_context(
                running_jobs(config, held, executor or PipelineExecutor(config))
            )

        # Starting and stopping block (database, git, draining jobs): off the event loop.
        try:
            running = await run_in_threadpool(start)
            holder["service"] = Service(
                config,
                running.store,
                running.pool,
                models=config.models(),
                closing=running.closing,
                recovered=running.recovered,
            )
            yield
        finally:
            await run_in_threadpool(stack.close)

    app = FastAPI(
        title="tinygen",
        version=__version__,
        summary="Change requests in, validated git diffs out — as queued jobs.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from packaged assets, not a CDN: add_docs
        redoc_url=None,
        responses={
            401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
            413: {"model": ErrorBody, "description": "the request body is too large"},
            422: {"model": ErrorBody, "description": "a bad field (named in the message)"},
        },
    )
    app.add_middleware(RequestGate, token=config.token, max_body=config.max_body_bytes)
    install_error_handlers(app)
    add_routes(app, config, service)
    add_docs(app, app.title)
    return app


# --- running it -----------------------------------------------------------------------------


@dataclass
class RunningServer:
    """A uvicorn server on a background thread (tests, benchmarks)."""

    url: str
    server: Any  # uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 60.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def uvicorn_config(app: FastAPI, config: ServerConfig, *, log_level: str = "info") -> Any:
    import uvicorn  # heavy: the server extra

    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=5,  # open event streams must not hold a shutdown forever
        server_header=False,
        ssl_certfile=str(config.ssl_certfile) if config.ssl_certfile else None,
        ssl_keyfile=str(config.ssl_keyfile) if config.ssl_keyfile else None,
    )


def serve_forever(
    config: ServerConfig, store: JobStore | None = None, *, log_level: str = "info"
) -> None:
    """Serve in the foreground until stopped (Ctrl-C, SIGTERM)."""
    import uvicorn  # heavy: the server extra

    app = create_app(config, store=store)
    uvicorn.Server(uvicorn_config(app, config, log_level=log_level)).run()


def serve_in_thread(
    config: ServerConfig,
    *,
    executor: Executor | None = None,
    log_level: str = "warning",
    start_timeout: float = 30.0,
) -> RunningServer:
    """Start the service on ``config.host:config.port`` (port 0: a free one) in a thread."""
    import uvicorn  # heavy: the server extra

    server = uvicorn.Server(
        uvicorn_config(create_app(config, executor=executor), config, log_level=log_level)
    )
    thread = threading.Thread(target=server.run, name="tinygen-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the server did not start (see its log)")
        time.sleep(0.02)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    scheme = "https" if config.ssl_certfile else "http"
    return RunningServer(f"{scheme}://{host}:{port}", server, thread)


__all__ = ["RunningServer", "create_app", "serve_forever", "serve_in_thread", "uvicorn_config"]
