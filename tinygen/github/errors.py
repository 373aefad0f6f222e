"""Translate PyGithub / HTTP failures into :class:`tinygen.errors.ForgeError`.

The one place where GitHub's answers become our messages. Each message says what tinygen was
doing (``action``) and what is missing: a valid token (401), a permission (403, read from
``X-Accepted-GitHub-Permissions`` / ``X-Accepted-OAuth-Scopes``), a repository or number
(404), valid input (422, GitHub's ``errors[].message``), or time (rate limit: when it resets,
in UTC). Foreign text goes through :func:`tinygen.redact.redact`, and the token is masked
explicitly, so it never reaches a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tinygen.errors import ForgeError
from tinygen.redact import redact

TOKEN_HINT = "set GITHUB_TOKEN (or GH_TOKEN) to a valid, unexpired token"


@dataclass(frozen=True)
class Operation:
    """What a call does, for messages: ``action`` reads "while trying to <action>";
    ``needs`` is the fine-grained permission it requires, in workflow syntax."""

    action: str
    needs: str
    target: str  # what a 404 means was not found, e.g. "pull request #4 in octo/demo"


def _headers(exc: Any) -> dict[str, str]:
    raw = getattr(exc, "headers", None) or {}
    return {str(k).lower(): str(v) for k, v in dict(raw).items()}


def _github_message(data: Any) -> str:
    if isinstance(data, Mapping):
        return str(data.get("message") or "").strip()
    return str(data or "").strip()


def validation_messages(exc: BaseException) -> list[str]:
    """GitHub's 422 ``errors[].message`` texts of a PyGithub exception (empty otherwise)."""
    return _validation_details(getattr(exc, "data", None))


def _validation_details(data: Any) -> list[str]:
    """GitHub's ``errors`` list as short sentences ("A pull request already exists ...")."""
    if not isinstance(data, Mapping):
        return []
    details = []
    for err in data.get("errors") or []:
        if isinstance(err, Mapping):
            if err.get("message"):
                details.append(str(err["message"]))
            else:
                where = ".".join(str(err[k]) for k in ("resource", "field") if err.get(k))
                details.append(f"{where} is {err.get('code', 'invalid')}".strip())
        elif err:
            details.append(str(err))
    return details


def permission_names(header: str) -> list[str]:
    """``"pull_requests=write; contents=read,issues=read"`` ->
    ``["pull-requests: write", "contents: read, issues: read"]`` (alternatives, each a set)."""
    sets = []
    for alternative in header.split(";"):
        names = []
        for item in alternative.split(","):
            key, _, level = item.strip().partition("=")
            if key:
                names.append(f"{key.strip().replace('_', '-')}: {level.strip() or 'read'}")
        if names:
            sets.append(", ".join(names))
    return sets


def _reset_time(headers: Mapping[str, str]) -> str | None:
    value = headers.get("x-ratelimit-reset", "")
    if not value.isdigit():
        return None
    return datetime.fromtimestamp(int(value), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def is_rate_limited(status: int, headers: Mapping[str, str], message: str) -> bool:
    lowered = message.lower()
    return (
        status == 429
        or (status == 403 and headers.get("x-ratelimit-remaining") == "0")
        or (status == 403 and ("rate limit" in lowered or "retry-after" in headers))
    )


def translate(exc: BaseException, op: Operation, *, token: str | None, api_url: str) -> ForgeError:
    """The ForgeError for ``exc`` (a GithubException, a requests error, or anything else)."""
    secrets = [token] if token else []

    def clean(text: str) -> str:
        return redact(text, extra=secrets)

    status = getattr(exc, "status", None)
    if not isinstance(status, int):
        return _transport_error(exc, op, api_url, clean)

    headers = _headers(exc)
    data = getattr(exc, "data", None)
    message = clean(_github_message(data))
    said = f" (GitHub said: {message})" if message else ""

    if is_rate_limited(status, headers, message):
        reset = _reset_time(headers)
        if headers.get("x-ratelimit-remaining") == "0" and reset:
            when = f"the limit resets at {reset}"
        elif headers.get("retry-after", "").isdigit():
            when = f"GitHub asks to retry after {headers['retry-after']} seconds"
        else:
            when = "GitHub did not say when it resets"
        return ForgeError(
            f"GitHub rate limit exceeded while trying to {op.action}; {when}",
            hint="wait and run again, or use a token with a higher limit "
            "(a GitHub App installation token or a personal token instead of an anonymous call)",
        )
    if status == 401:
        if token is None:
            return ForgeError(
                f"GitHub requires authentication to {op.action}{said}",
                hint=f"{TOKEN_HINT} that has {op.needs}",
            )
        return ForgeError(
            f"GitHub rejected the token (401: bad or expired credentials) while trying to "
            f"{op.action}",
            hint=f"{TOKEN_HINT} that has {op.needs}",
        )
    if status == 403:
        return _forbidden(op, headers, said)
    if status == 404:
        return ForgeError(
            f"GitHub could not find {op.target} while trying to {op.action} (404)",
            hint="check the repository name and number; a private repository also answers "
            "404 when the token cannot see it, so give the token access to it"
            + ("" if token else f" ({TOKEN_HINT})"),
        )
    if status == 422:
        details = [clean(d) for d in _validation_details(data)]
        text = "; ".join(details) or message or "validation failed"
        return ForgeError(
            f"GitHub refused to {op.action} (422: {text})",
            hint="check the values tinygen sent (branch names, base branch, title); "
            "the branch must be pushed before a pull request can be opened",
        )
    if status >= 500:
        return ForgeError(
            f"GitHub failed with HTTP {status} while trying to {op.action}{said}",
            hint="GitHub may be having trouble (https://www.githubstatus.com); run again later",
        )
    return ForgeError(
        f"GitHub answered HTTP {status} while trying to {op.action}{said}",
        hint="see the message above; run again with a valid request",
    )


def _forbidden(op: Operation, headers: Mapping[str, str], said: str) -> ForgeError:
    accepted = permission_names(headers.get("x-accepted-github-permissions", ""))
    scopes_needed = headers.get("x-accepted-oauth-scopes", "").strip()
    scopes_held = headers.get("x-oauth-scopes")
    if accepted:
        needed = " or ".join(accepted)
        hint = (
            f"grant the token {needed} (in a workflow: the `permissions:` block; for a "
            "GitHub App or fine-grained token: its repository permissions)"
        )
    elif scopes_needed:
        held = (
            f"; the token has: {scopes_held.strip() or 'no scopes'}"
            if scopes_held is not None
            else ""
        )
        hint = f"give the classic token one of the scopes: {scopes_needed}{held}"
        needed = f"scope {scopes_needed}"
    else:
        needed = op.needs
        hint = (
            f"grant the token {needed} (classic tokens: the `repo` scope, or `public_repo` "
            "for public repositories); a user without that role on the repository cannot "
            "do it either"
        )
    return ForgeError(
        f"GitHub refused to {op.action} (403: permission {needed} is missing){said}",
        hint=hint,
    )


def _transport_error(exc: BaseException, op: Operation, api_url: str, clean: Any) -> ForgeError:
    import requests
    import urllib3.exceptions

    kind = type(exc).__name__
    if not isinstance(exc, requests.RequestException | urllib3.exceptions.HTTPError | OSError):
        # not the network: an answer PyGithub could not use (a proxy's HTML page, a bug)
        return ForgeError(
            f"unexpected answer from GitHub at {clean(api_url)} while trying to {op.action} "
            f"({kind}: {clean(str(exc))[:300]})",
            hint="check that GITHUB_API_URL points at the REST API (https://HOST/api/v3 on "
            "GitHub Enterprise); if it does, please report this with the message above",
        )
    return ForgeError(
        f"cannot reach GitHub at {clean(api_url)} while trying to {op.action} "
        f"({kind}: {clean(str(exc))[:300]})",
        hint="check the network and GITHUB_API_URL (for GitHub Enterprise: https://HOST/api/v3)",
    )
