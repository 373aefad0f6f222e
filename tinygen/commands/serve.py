"""`tinygen serve`: the HTTP API (repoUrl + prompt -> diff, as queued jobs)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from tinygen.errors import ConfigError
from tinygen.server.config import (
    DEFAULT_MAX_PROMPT_CHARS,
    DEFAULT_MAX_REPO_BYTES,
    ServerConfig,
    check_bind,
    default_db_path,
    token_from_env,
)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Jobs run at once."
)
@click.option(
    "--queue-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Jobs that may wait; more get 429 with Retry-After.",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"The job database (default: {default_db_path()}).",
)
@click.option(
    "--allow-local",
    is_flag=True,
    help="Accept file:// URLs and local paths as repoUrl (single-user setups, tests).",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    help="Another host https/ssh repoUrls may name (repeatable; github.com is always allowed).",
)
@click.option(
    "--allow-checks",
    is_flag=True,
    help="Run check commands from requests and from repository config (they run code).",
)
@click.option(
    "--max-prompt-chars",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_PROMPT_CHARS,
    show_default=True,
)
@click.option(
    "--max-repo-mb",
    type=click.FloatRange(min=0.001),
    default=DEFAULT_MAX_REPO_BYTES / (1024 * 1024),
    show_default=True,
    help="Largest repository (git objects, or checkout) a job may use.",
)
@click.option(
    "--analyze-timeout",
    type=click.FloatRange(min=1),
    default=1800.0,
    show_default=True,
    help="Seconds POST /analyze waits before answering 504 with the job id.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
def command(
    host: str,
    port: int,
    workers: int,
    queue_size: int,
    db: Path | None,
    allow_local: bool,
    allow_hosts: tuple[str, ...],
    allow_checks: bool,
    max_prompt_chars: int,
    max_repo_mb: float,
    analyze_timeout: float,
    log_level: str,
) -> None:
    """Serve the HTTP API: POST /analyze, POST/GET/DELETE /jobs, docs at /docs.

    Set TINYGEN_SERVER_TOKEN to require `Authorization: Bearer <token>`; without it the server
    listens on loopback addresses only. Needs the server extra:
    pip install 'tinygen[server]'.
    """
    token = token_from_env()
    check_bind(host, token)
    if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
        raise ConfigError(
            "no Anthropic API key: ANTHROPIC_API_KEY is not set",
            hint="export ANTHROPIC_API_KEY=sk-ant-... before starting the server",
        )
    try:
        import uvicorn

        from tinygen.server.app import create_app, uvicorn_config
    except ImportError as exc:
        raise ConfigError(
            f"the HTTP service needs FastAPI and uvicorn ({exc.name} is missing)",
            hint="pip install 'tinygen[server]'",
        ) from exc
    config = ServerConfig(
        host=host,
        port=port,
        workers=workers,
        queue_size=queue_size,
        db_path=db or default_db_path(),
        token=token,
        allow_local=allow_local,
        allowed_hosts=tuple(dict.fromkeys(("github.com", *(h.lower() for h in allow_hosts)))),
        allow_checks=allow_checks,
        max_prompt_chars=max_prompt_chars,
        max_repo_bytes=int(max_repo_mb * 1024 * 1024),
        analyze_timeout=analyze_timeout,
    )
    click.echo(
        f"tinygen: serving on http://{host}:{port} ({workers} worker(s), jobs in "
        f"{config.db_path}, auth {'on' if token else 'off'})",
        err=True,
    )
    from tinygen.server.jobs import SQLiteJobStore

    store = SQLiteJobStore(config.db_path)  # a bad --db fails here, as a ConfigError
    app = create_app(config, store_factory=lambda _: store)
    uvicorn.Server(uvicorn_config(app, config, log_level=log_level)).run()
