"""Settings: defaults < repository config file < TINYGEN_* environment < command-line flags.

The repository config is ``.tinygen.toml`` (top level keys) or ``[tool.tinygen]`` in
``pyproject.toml``; the first one found wins. Keys use dashes or underscores alike::

    model = "claude-sonnet-4-5"
    budget = 8000
    checks = ["pytest -q"]
    protected-paths = [".github/workflows/**"]
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinygen.errors import ConfigError
from tinygen.inputs import read_file

CONFIG_FILE = ".tinygen.toml"
MAX_CONFIG_BYTES = 1_000_000  # .tinygen.toml or pyproject.toml read from a checkout
SUMMARIES_MODES = ("off", "cached", "auto")


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # None: the newest Sonnet the installed SDK knows
    budget: int = 8000  # reference-sheet token budget
    jobs: int = 4  # concurrent per-file LLM calls
    max_rounds: int = 2  # verify rounds
    max_file_bytes: int = 1_000_000  # the walk skips larger files
    include_untracked: bool = False  # the walk also reads untracked, non-ignored files
    checks: tuple[str, ...] = ()  # repository checks run on the patched worktree
    check_timeout: float = 300.0
    check_memory_mb: int | None = None
    check_env: tuple[str, ...] = ()  # variables (names or globs) passed to checks
    protected_paths: tuple[str, ...] = (".github/workflows/**", ".tinygen.toml")
    allowed_paths: tuple[str, ...] = ()  # globs exempt from protected_paths
    max_tokens: int = 16000  # per LLM answer
    # A failed model call is retried (backoff 0.5 s doubling, up to max_retry_wait each)
    # until max_retries retries or max_retry_total seconds of waiting, whichever comes
    # first; the defaults ride out several minutes of overload.
    max_retries: int = 10  # retries after the first attempt of one call
    max_retry_wait: float = 60.0  # cap on one wait (a retry-after included), seconds
    max_retry_total: float = 300.0  # cap on all retry waits of one call, seconds
    request_timeout: float = 600.0  # one HTTP request to the model API, seconds
    lookup_rounds: int = 3  # brainstorm rounds of search/outline/read before planning (0: none)
    lookups_per_round: int = 6  # lookups run per round (more are refused, with a note)
    lookup_tokens: int = 12000  # estimated tokens of all lookup results of one brainstorm
    vote: int = 0  # k: sample each file's edit (and the review) until one outcome leads by k; 0 off
    max_samples: int = 8  # samples per vote at most (red-flagged ones included)
    max_cost: float | None = None  # US dollars: no model call that could pass it is made
    ci_poll: float = 15.0  # seconds between looks at a pushed commit's CI (it grows to 60)
    ci_start_timeout: float = 120.0  # no CI check on the pushed commit by then: it has none
    # Hierarchical summaries (`tinygen summarize`): "cached" uses those already made,
    # "auto" also makes the missing ones before a run (paid, counted in max_cost), "off"
    # uses none. summary_model writes them: a cheap model is enough.
    summaries: str = "cached"
    summary_model: str = "claude-haiku-4-5"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, value: Any, source: str | None) -> Any:
    """``value`` as the setting ``name`` takes it. ``source`` names where it came from (the
    config file, a TINYGEN_* variable); None for a front end's override (a flag, an input,
    a request field), which the error then names as the setting, for the front end to word."""
    default = _FIELDS[name].default
    kind = type(default) if default is not None else None
    try:
        if name == "model":
            return (str(value).strip() or None) if value is not None else None
        if name == "check_memory_mb":
            return None if value in (None, "") else int(value)
        if name == "max_cost":
            if isinstance(value, bool):
                raise TypeError("a number of US dollars")
            return None if value in (None, "") else float(value)
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = [v for v in value.split(",") if v.strip()] if name != "checks" else [value]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise TypeError("a list of strings")
            return tuple(v.strip() for v in value)
        if kind is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off", ""):
                return False
            raise TypeError("true or false")
        if kind is int:
            if isinstance(value, bool):
                raise TypeError("a whole number")
            return int(value)
        if kind is float:
            return float(value)
        if kind is str:
            if not isinstance(value, str):
                raise TypeError("a string")
            return value.strip()
    except (TypeError, ValueError) as exc:
        hint = "fix the value or remove it to use the default"
        if source is None:
            raise ConfigError(
                f"setting `{name}` = {value!r} is not valid ({exc})", hint=hint, settings=(name,)
            ) from exc
        raise ConfigError(
            f"{source}: {name.replace('_', '-')} = {value!r} is not valid ({exc})", hint=hint
        ) from exc
    return value


def _from_mapping(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in _FIELDS:
            raise ConfigError(
                f"{source}: unknown setting {key!r}",
                hint="known settings: " + ", ".join(n.replace("_", "-") for n in _FIELDS),
            )
        out[name] = _coerce(name, value, source)
    return out


def read_repo_config(root: Path) -> dict[str, Any]:
    """Settings from the config file in the checkout at ``root``."""

    def read(name: str) -> str | None:
        path = root / name
        if not path.is_file():
            return None
        return read_file(path, MAX_CONFIG_BYTES, str(path), "a config file is a few lines").decode(
            "utf-8"
        )

    return _parse_repo_config(read, str(root))


def read_repo_config_at(root: Path, commit: str) -> dict[str, Any]:
    """Settings from the config file as committed at ``commit`` — the base of a change, never
    the change itself (a pull request must not be able to reconfigure its own checks)."""
    # Here, not at the top: `tinygen --help` imports this module, and tinygen.repo.git
    # (subprocess, socket, GitPython's loader) would add 20-60 ms to it.
    from tinygen.repo.git import git_bytes

    def read(name: str) -> str | None:
        proc = git_bytes(["show", f"{commit}:{name}"], root, check=False)
        return proc.stdout.decode("utf-8") if proc.returncode == 0 else None

    return _parse_repo_config(read, f"{commit[:12]}")


def _parse_repo_config(read: Callable[[str], str | None], where: str) -> dict[str, Any]:
    try:
        own = read(CONFIG_FILE)
        if own is not None:
            return _from_mapping(tomllib.loads(own), f"{where}:{CONFIG_FILE}")
        pyproject = read("pyproject.toml")
        if pyproject is not None:
            section = tomllib.loads(pyproject).get("tool", {}).get("tinygen")
            if isinstance(section, dict):
                return _from_mapping(section, f"{where}:pyproject.toml [tool.tinygen]")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"cannot parse the config file in {where}: {exc}", hint="fix its TOML syntax"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the config file in {where} is not UTF-8") from exc
    return {}


def read_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    out: dict[str, Any] = {}
    for name in _FIELDS:
        var = "TINYGEN_" + name.upper()
        if var in env:
            out[name] = _coerce(name, env[var], var)
    return out


def load_settings(
    root: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    commit: str | None = None,
) -> Settings:
    """Merge every source; ``overrides`` (from flags) skip ``None`` values. With ``commit``,
    the repository config is read as committed there rather than from the working tree."""
    merged: dict[str, Any] = {}
    if root is not None:
        merged.update(read_repo_config_at(root, commit) if commit else read_repo_config(root))
    merged.update(read_env(env))
    for key, value in (overrides or {}).items():
        if value is None or (isinstance(value, tuple) and not value):
            continue
        merged[key] = _coerce(key, value, None)
    if CONFIG_FILE not in merged.get("protected_paths", (CONFIG_FILE,)):
        # The config says which checks run: a change may never rewrite it unless the
        # repository allows exactly that, whatever protected-paths it sets.
        merged["protected_paths"] = (*merged["protected_paths"], CONFIG_FILE)
    settings = Settings(**merged)
    for name in ("budget", "jobs", "max_file_bytes"):
        if getattr(settings, name) < 1:
            raise ConfigError(f"{name.replace('_', '-')} must be at least 1")
    if settings.max_rounds < 0:
        raise ConfigError("max-rounds must be 0 or more")
    for name in ("lookup_rounds", "lookups_per_round", "lookup_tokens", "vote", "max_retries"):
        if getattr(settings, name) < 0:
            raise ConfigError(f"{name.replace('_', '-')} must be 0 or more")
    if settings.max_samples < max(1, settings.vote):
        raise ConfigError(
            f"max-samples ({settings.max_samples}) must be at least 1 and at least vote "
            f"({settings.vote}): fewer samples could never decide a vote"
        )
    for name in ("max_retry_wait", "max_retry_total"):
        if not getattr(settings, name) >= 0:
            raise ConfigError(f"{name.replace('_', '-')} must be 0 or more seconds")
    if settings.summaries not in SUMMARIES_MODES:
        raise ConfigError(
            f"summaries = {settings.summaries!r} is not one of " + ", ".join(SUMMARIES_MODES),
            settings=("summaries",),
        )
    if not str(settings.summary_model).strip():
        raise ConfigError("summary-model is empty", settings=("summary_model",))
    if settings.max_cost is not None and not settings.max_cost > 0:
        raise ConfigError(
            f"max-cost must be more than 0 US dollars (got {settings.max_cost})",
            hint="unset it for no limit",
        )
    return settings


__all__ = [
    "CONFIG_FILE",
    "Settings",
    "load_settings",
    "read_env",
    "read_repo_config",
    "read_repo_config_at",
]
