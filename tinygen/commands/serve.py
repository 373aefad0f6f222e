"""`tinygen serve`: the HTTP API (repoUrl + prompt -> diff, as queued jobs)."""

from __future__ import annotations

from pathlib import Path

import click

from tinygen.server.config import (
    DEFAULT_KEEP_DAYS,
    DEFAULT_MAX_PROMPT_CHARS,
    DEFAULT_MAX_REPO_BYTES,
    MAX_PROMPT_CHARS_CEILING,
    ServerConfig,
    default_db_path,
    token_from_env,
)
from tinygen.server.jobs import DEFAULT_LEASE
from tinygen.server.lifecycle import prepared


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
    "--database",
    "database_url",
    envvar="TINYGEN_DATABASE_URL",
    default=None,
    metavar="URL",
    help="Keep jobs in PostgreSQL (postgresql://USER@HOST:PORT/DB) instead of --db: any "
    "number of servers then share one queue. Also TINYGEN_DATABASE_URL.",
)
@click.option(
    "--lease-seconds",
    type=click.FloatRange(min=1),
    default=DEFAULT_LEASE,
    show_default=True,
    help="A running job whose server stops renewing its lease this long is failed as "
    "'worker lost' (by any server).",
)
@click.option(
    "--max-key-spend",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="USD",
    help="Most each client key's jobs may cost in 24 h; beyond it POSTs get 429 (default: "
    "no cap). Keys: TINYGEN_SERVER_TOKEN, comma-separated.",
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
    "--allow-owner",
    "allow_owners",
    multiple=True,
    help="Accept only repositories of this owner/organisation (repeatable; default: any). "
    "The server clones with its own GITHUB_TOKEN / ssh key.",
)
@click.option(
    "--allow-model",
    "allow_models",
    multiple=True,
    help="A model jobs may use (repeatable; default: only the server's model). Requests "
    "naming another get 422; a repository config naming another gets the default.",
)
@click.option(
    "--max-rounds",
    type=click.IntRange(min=0),
    default=None,
    help="Most verify rounds a job may use [default: the server's setting, 2].",
)
@click.option(
    "--budget",
    type=click.IntRange(min=1),
    default=None,
    help="Largest reference-sheet budget (tokens) a job may use [default: 8000].",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Largest answer (tokens) per model call [default: 16000].",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Most concurrent model calls within one job [default: 4].",
)
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="USD",
    help="Most one job may spend: its cost limit, which a request or repository may lower, "
    "never raise [default: the server's max-cost setting, none].",
)
@click.option(
    "--allow-checks",
    is_flag=True,
    help="Run check commands from requests and from repository config (they run code).",
)
@click.option(
    "--max-prompt-chars",
    type=click.IntRange(1, MAX_PROMPT_CHARS_CEILING),
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
    "--keep-days",
    type=click.FloatRange(min=0),
    default=DEFAULT_KEEP_DAYS,
    show_default=True,
    help="Delete finished jobs and run records older than this (0: keep forever).",
)
@click.option(
    "--ssl-certfile",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Serve HTTPS with this certificate (PEM); or run behind a TLS reverse proxy.",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The certificate's private key (PEM).",
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
    database_url: str | None,
    lease_seconds: float,
    max_key_spend: float | None,
    allow_local: bool,
    allow_hosts: tuple[str, ...],
    allow_owners: tuple[str, ...],
    allow_models: tuple[str, ...],
    max_rounds: int | None,
    budget: int | None,
    max_tokens: int | None,
    jobs: int | None,
    max_cost: float | None,
    allow_checks: bool,
    max_prompt_chars: int,
    max_repo_mb: float,
    analyze_timeout: float,
    keep_days: float,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
    log_level: str,
) -> None:
    """Serve the HTTP API: POST /analyze, POST/GET/DELETE /jobs, docs at /docs.

    Set TINYGEN_SERVER_TOKEN to require `Authorization: Bearer <token>`; without it the server
    listens on loopback addresses only. Serve HTTPS with --ssl-certfile/--ssl-keyfile or
    behind a TLS reverse proxy. Needs the server extra: pip install 'tinygen[server]'.
    """
    if db is not None and database_url:
        raise click.UsageError("--db and --database name two job databases: give one")
    config = ServerConfig(
        host=host,
        port=port,
        workers=workers,
        queue_size=queue_size,
        db_path=db or default_db_path(),
        database_url=database_url or None,
        lease_seconds=lease_seconds,
        max_key_spend=max_key_spend,
        token=token_from_env(),
        allow_local=allow_local,
        allowed_hosts=tuple(dict.fromkeys(("github.com", *(h.lower() for h in allow_hosts)))),
        allow_checks=allow_checks,
        max_prompt_chars=max_prompt_chars,
        max_repo_bytes=int(max_repo_mb * 1024 * 1024),
        analyze_timeout=analyze_timeout,
        allowed_owners=allow_owners,
        allowed_models=tuple(dict.fromkeys(allow_models)),
        max_rounds=max_rounds,
        budget=budget,
        max_tokens=max_tokens,
        jobs=jobs,
        max_cost=max_cost,
        keep_days=keep_days,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    with prepared(config) as server:
        click.echo(
            f"tinygen: serving on {server.url} ({workers} worker(s), jobs in "
            f"{server.database}, models {', '.join(config.models())}, auth "
            f"{'on' if config.token else 'off'})",
            err=True,
        )
        server.run(log_level=log_level)
