"""What the Action checks before its first network call: everything the environment alone can
tell — a token to act with, the model's key, the inputs' values, GitHub's addresses — so a
misconfigured workflow fails at once with the reason, before a 👀 reaction or a status
comment says that tinygen started (and before anything is sent to an address that would
carry a token in the clear).

A model named by the ``model`` input (or ``TINYGEN_MODEL``) is checked exactly: its provider
is made, which needs its key and no network. Without one, the repository's ``.tinygen.toml``
(read only after the clone) may name another provider's model: the default Anthropic key is
then required unless another provider's variables are set, which that model can use. A
summary refresh (a push with refresh-summaries) checks the ``summary-model``'s key instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tinygen.config import load_settings, read_env
from tinygen.env import action_input, api_url, server_url
from tinygen.errors import ConfigError, RepoError
from tinygen.github.forge import resolve_api_url
from tinygen.llm.factory import make_provider
from tinygen.repo.auth import token_for
from tinygen.repo.spec import parse_repo_spec

if TYPE_CHECKING:
    from tinygen.action.decide import Decision
    from tinygen.action.event import Event
    from tinygen.github.app import AppCredentials

# Variables a model of another provider than Anthropic works with (tinygen/llm/endpoints.py).
OTHER_PROVIDER_VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENROUTER_API_KEY",
    "OLLAMA_HOST",
)


def key_hint(input_name: str) -> str:
    """What to do when the key of the model named by the Action's ``input_name`` (``model``,
    ``summary-model``) is missing."""
    return (
        "pass the key from a repository secret: "
        "`anthropic-api-key: ${{ secrets.ANTHROPIC_API_KEY }}` (for another provider's model, "
        f"name it in the `{input_name}` input and give its key to the step's `env`, "
        "e.g. OPENAI_API_KEY)"
    )


def repo_url(env: Mapping[str, str], repository: str) -> str:
    """The URL the repository is cloned from. TINYGEN_REPO_URL: for tests (a local bare
    repository) and self-hosted mirrors."""
    return env.get("TINYGEN_REPO_URL") or f"{server_url(env)}/{repository}.git"


def setting_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """The pipeline's settings the Action's inputs set."""

    def text(name: str) -> str:
        return action_input(env, name)

    def lines(name: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in text(name).replace(",", "\n").splitlines() if v.strip())

    return {
        "model": text("MODEL") or None,
        "max_rounds": text("MAX_ROUNDS") or None,
        "vote": text("VOTE") or None,
        "max_cost": text("MAX_COST") or None,
        "checks": tuple(v.strip() for v in text("CHECKS").splitlines() if v.strip()),
        "allowed_paths": lines("ALLOWED_PATHS"),
        "protected_paths": lines("PROTECTED_PATHS"),
        "summaries": text("SUMMARIES") or None,
        "summary_model": text("SUMMARY_MODEL") or None,
    }


def refresh_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings of a summary refresh: the run's, with summaries-max-cost (else max-cost)
    as its cost limit."""
    overrides = setting_overrides(env)
    return overrides | {
        "max_cost": action_input(env, "SUMMARIES_MAX_COST") or overrides["max_cost"]
    }


def preflight(
    env: Mapping[str, str],
    event: Event,
    decision: Decision,
    *,
    token: str | None,
    app: AppCredentials | None,
    forge_given: bool = False,
) -> None:
    """ConfigError or RepoError for anything that would fail later, after writes on GitHub.
    A decision to skip (with a reply) needs the token and addresses; one to act also the
    model's key and valid inputs. ``forge_given``: the caller brought its own forge."""
    if not event.repository:
        raise ConfigError(
            "the event names no repository",
            hint="GitHub sets GITHUB_REPOSITORY to owner/name; set it when running elsewhere",
        )
    if token is None and app is None and not forge_given:
        raise ConfigError(
            "no GitHub token: the github-token input (GITHUB_TOKEN) is empty",
            hint="leave github-token at its default (`${{ github.token }}`) or pass a token; "
            "the job needs `permissions:` contents: write, issues: write, pull-requests: write",
        )
    if not forge_given:
        _check_api_url(env)
    url = repo_url(env, event.repository)
    parse_repo_spec(url)
    sent = token or ("(the App's installation token)" if app is not None else None)
    if sent:
        token_for(url, sent)  # the clone's own rule: never a token over plain http
    if decision.would == "skip":
        return
    if decision.would == "refresh_summaries":
        settings = load_settings(None, refresh_overrides(env), env)
        named = action_input(env, "SUMMARY_MODEL") or read_env(env).get("summary_model")
        try:
            make_provider(settings.replace(model=settings.summary_model))  # its key
        except ConfigError as exc:
            if not named and any(env.get(v, "").strip() for v in OTHER_PROVIDER_VARIABLES):
                return  # .tinygen.toml may name that provider's summary model
            raise ConfigError(
                f"{exc.message}: tinygen needs it to refresh the summaries with "
                f"{settings.summary_model}",
                hint=key_hint("summary-model"),
            ) from None
        return
    settings = load_settings(None, setting_overrides(env), env)  # the inputs' values
    try:
        make_provider(settings)  # the model's key (no network)
    except ConfigError as exc:
        if settings.model is None and any(env.get(v, "").strip() for v in OTHER_PROVIDER_VARIABLES):
            return  # .tinygen.toml may name that provider's model: checked after the clone
        raise ConfigError(
            f"{exc.message}: tinygen needs it to act", hint=key_hint("model")
        ) from None


def _check_api_url(env: Mapping[str, str]) -> None:
    url = resolve_api_url(api_url(env))
    parts = urlsplit(url)
    if parts.scheme == "http" and not _loopback(parts.hostname or ""):
        raise RepoError(
            f"refusing to send the token over plain http to {url} (GITHUB_API_URL)",
            hint="use the https address of the API (https://HOST/api/v3 on GitHub Enterprise)",
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


__all__ = ["key_hint", "preflight", "refresh_overrides", "repo_url", "setting_overrides"]
