"""The one reader of each environment variable that several parts of tinygen share: the
GitHub token, GitHub's web and API addresses, the repository a workflow runs for, and the
Action's inputs (settings' TINYGEN_* variables: :func:`tinygen.config.read_env`). Each takes the
environment as a mapping (default ``os.environ``) so the Action can pass its own."""

from __future__ import annotations

import os
from collections.abc import Mapping

DEFAULT_SERVER_URL = "https://github.com"


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def github_token(env: Mapping[str, str] | None = None, *, gh_token: bool = True) -> str | None:
    """GITHUB_TOKEN, else (with ``gh_token``) GH_TOKEN, as the GitHub CLI reads it."""
    e = _env(env)
    value = e.get("GITHUB_TOKEN", "").strip() or (e.get("GH_TOKEN", "").strip() if gh_token else "")
    return value or None


def server_url(env: Mapping[str, str] | None = None) -> str:
    """GitHub's web address (GITHUB_SERVER_URL: github.com or an Enterprise server)."""
    return (_env(env).get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).strip().rstrip("/")


def api_url(env: Mapping[str, str] | None = None) -> str | None:
    """GitHub's REST address (GITHUB_API_URL), None when unset."""
    return (_env(env).get("GITHUB_API_URL") or "").strip().rstrip("/") or None


def workflow_repository(env: Mapping[str, str] | None = None) -> str | None:
    """``owner/name`` of the repository a workflow runs for (GITHUB_REPOSITORY), None when
    unset."""
    return _env(env).get("GITHUB_REPOSITORY", "").strip() or None


def app_secrets(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """A GitHub App's id and private key (TINYGEN_APP_ID, TINYGEN_APP_PRIVATE_KEY), or ""."""
    e = _env(env)
    return e.get("TINYGEN_APP_ID", ""), e.get("TINYGEN_APP_PRIVATE_KEY", "")


def action_input(env: Mapping[str, str], name: str) -> str:
    """The Action input ``name`` (action.yml passes each as TINYGEN_INPUT_<NAME>), stripped."""
    return env.get(f"TINYGEN_INPUT_{name.upper().replace('-', '_')}", "").strip()
