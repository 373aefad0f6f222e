"""Settings of the HTTP service (`tinygen serve`), separate from a run's Settings."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from tinygen.config import load_settings
from tinygen.errors import ConfigError
from tinygen.llm import default_model
from tinygen.llm.names import split_model
from tinygen.server.jobs import DEFAULT_LEASE

TOKEN_ENV = "TINYGEN_SERVER_TOKEN"
DATABASE_ENV = "TINYGEN_DATABASE_URL"
DATABASE_SCHEMES = ("postgresql://", "postgres://")
MIN_TOKEN_CHARS = 16
DEFAULT_MAX_PROMPT_CHARS = 100_000
DEFAULT_MAX_REPO_BYTES = 500 * 1024 * 1024
MAX_PROMPT_CHARS_CEILING = 1_000_000  # what --max-prompt-chars may be raised to
DEFAULT_KEEP_DAYS = 30.0


def default_db_path() -> Path:
    """``$XDG_STATE_HOME/tinygen/jobs.sqlite3`` (``~/.local/state/...`` by default)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tinygen" / "jobs.sqlite3"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2  # jobs run at once
    queue_size: int = 100  # queued (not yet running) jobs before POSTs get 429
    db_path: Path = field(default_factory=default_db_path)
    # PostgreSQL instead of the SQLite file: any number of servers share its queue.
    database_url: str | None = None
    lease_seconds: float = DEFAULT_LEASE  # a running job's worker counts as lost after this
    # Bearer token(s), comma-separated: each is a client key; None: no authentication
    # (loopback only).
    token: str | None = None
    max_key_spend: float | None = None  # USD each key's jobs may cost in 24 h; None: no cap
    allow_local: bool = False  # file:// URLs and paths as repoUrl (tests, single-user setups)
    allowed_hosts: tuple[str, ...] = ("github.com",)  # hosts https/ssh repoUrls may name
    allow_checks: bool = False  # run `checks` from requests and from repository config
    max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS
    max_repo_bytes: int = DEFAULT_MAX_REPO_BYTES  # packed and checked-out size of a clone
    cache_dir: Path | None = None  # clone cache (default: the user cache dir)
    analyze_timeout: float = 1800.0  # seconds POST /analyze waits before answering 504
    drain_timeout: float = 10.0  # seconds a shutdown waits for running jobs
    poll_interval: float = 1.0  # seconds idle workers wait before looking at the store again
    # What a job may spend. A repository's .tinygen.toml may lower these, never raise them;
    # None: the server's own setting (default, or TINYGEN_* in the server's environment).
    max_rounds: int | None = None
    budget: int | None = None
    max_tokens: int | None = None
    jobs: int | None = None  # concurrent model calls within one job
    max_cost: float | None = None  # USD one job may spend (its cost limit); None: the setting
    allowed_models: tuple[str, ...] = ()  # empty: only the server's model (see models())
    allowed_owners: tuple[str, ...] = ()  # empty: any owner on an allowed host
    keep_days: float = DEFAULT_KEEP_DAYS  # finished jobs and run records older are pruned
    maintenance_interval: float = 3600.0  # seconds between prunes
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    def __post_init__(self) -> None:
        for name in ("workers", "queue_size", "max_prompt_chars", "max_repo_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1")
        if self.max_prompt_chars > MAX_PROMPT_CHARS_CEILING:
            raise ConfigError(f"max-prompt-chars must be at most {MAX_PROMPT_CHARS_CEILING}")
        for name in ("budget", "max_tokens", "jobs"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1")
        if self.max_rounds is not None and self.max_rounds < 0:
            raise ConfigError("max-rounds must be 0 or more")
        for name in self.allowed_models:  # PROVIDER:MODEL, or a bare Anthropic name
            try:
                split_model(name)
            except ConfigError as exc:
                raise ConfigError(
                    f"allowed model {name!r}: {exc.message}",
                    hint=exc.hint,
                    settings=("allowed_models",),
                ) from exc
        if self.database_url is not None and not self.database_url.startswith(DATABASE_SCHEMES):
            raise ConfigError(
                "the job database URL must start with postgresql:// (or postgres://)",
                hint="e.g. postgresql://tinygen@db.internal:5432/tinygen; without one, jobs "
                "live in the SQLite file `db_path`",
                settings=("database_url",),
            )
        if self.lease_seconds < 1:
            raise ConfigError("lease-seconds must be at least 1", settings=("lease_seconds",))
        if self.max_cost is not None and not self.max_cost > 0:
            raise ConfigError("max-cost must be more than 0", settings=("max_cost",))
        if self.max_key_spend is not None and self.max_key_spend <= 0:
            raise ConfigError("max-key-spend must be more than 0", settings=("max_key_spend",))
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ConfigError(
                "`ssl_certfile` and `ssl_keyfile` go together",
                hint="set both, or neither",
                settings=("ssl_certfile", "ssl_keyfile"),
            )

    @property
    def tokens(self) -> tuple[str, ...]:
        """The client keys ``token`` holds."""
        return split_tokens(self.token)

    @property
    def max_body_bytes(self) -> int:
        """The largest request body read: the longest prompt JSON-escaped (\\uXXXX is 6
        bytes a character) plus room for the other fields."""
        return self.max_prompt_chars * 6 + 64 * 1024

    def models(self) -> tuple[str, ...]:
        """Models jobs may use, the default first: ``allowed_models``, or the server's model
        (its ``model`` setting: TINYGEN_MODEL, else the SDK's newest Sonnet). That setting,
        when allowed, is the default."""
        env_model = load_settings(None).model
        if self.allowed_models:
            if env_model in self.allowed_models:
                return (env_model, *(m for m in self.allowed_models if m != env_model))
            return self.allowed_models
        if env_model:
            return (env_model,)
        return (default_model(),)


def split_tokens(token: str | None) -> tuple[str, ...]:
    """``a,b``: two keys (a key holds no comma)."""
    return tuple(t.strip() for t in (token or "").split(",") if t.strip())


def token_from_env(env: dict[str, str] | None = None) -> str | None:
    value = (os.environ if env is None else env).get(TOKEN_ENV, "").strip()
    return value or None


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def check_bind(host: str, token: str | None) -> None:
    """Refuse to expose an unauthenticated service, or one with a guessable token."""
    for key in split_tokens(token) if token is not None else ():
        if len(key) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"{TOKEN_ENV} holds a key that is too short ({len(key)} characters, at least "
                f"{MIN_TOKEN_CHARS})",
                hint='use random values, e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"',
            )
    if token is not None and not split_tokens(token):
        raise ConfigError(
            f"{TOKEN_ENV} is set but holds no key",
            hint=f"set {TOKEN_ENV} to one or more random secrets, separated by commas",
        )
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} without authentication",
            hint=f"set {TOKEN_ENV} to a random secret, or listen on 127.0.0.1",
        )


__all__ = [
    "DATABASE_ENV",
    "DATABASE_SCHEMES",
    "DEFAULT_KEEP_DAYS",
    "DEFAULT_MAX_PROMPT_CHARS",
    "DEFAULT_MAX_REPO_BYTES",
    "MAX_PROMPT_CHARS_CEILING",
    "MIN_TOKEN_CHARS",
    "TOKEN_ENV",
    "ServerConfig",
    "check_bind",
    "default_db_path",
    "is_loopback",
    "split_tokens",
    "token_from_env",
]
