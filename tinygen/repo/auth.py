"""The token of one git command: which token goes to which URL, how it is sent, how it is hidden.

A token is sent as an ``http.<url>.extraHeader`` given to git through the environment of
the one command that needs it (``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``): never in a URL,
a config file, argv, a log or a message. :func:`scrub` takes it (and its base64 header
form) out of whatever git printed.
"""

from __future__ import annotations

import base64
import os
from urllib.parse import urlsplit

from tinygen.env import github_token
from tinygen.errors import RepoError
from tinygen.redact import redact
from tinygen.repo.spec import github_hosts


def token_for(url: str, token: str | None = None) -> str | None:
    """The token to send to ``url``: ``token`` for https, else GITHUB_TOKEN for GitHub hosts.

    An explicit token is never sent over plain http; the environment's token is never sent
    to a host that is not GitHub's (a URL from a request must not be able to collect it).
    """
    parts = urlsplit(url) if "://" in url else None
    scheme = parts.scheme.lower() if parts else ""
    if token:
        if scheme == "http":
            raise RepoError(
                f"refusing to send a token over plain http to {redact(url)}",
                hint="use an https URL",
            )
        return token if scheme == "https" else None
    if scheme != "https" or parts is None:
        return None
    env_token = github_token()
    if env_token and parts.netloc.rsplit("@", 1)[-1].lower() in github_hosts():
        return env_token
    return None


def _basic(token: str) -> str:
    return base64.b64encode(f"x-access-token:{token}".encode()).decode()


def header_env(url: str, token: str | None) -> dict[str, str]:
    """Environment entries that make one git command send ``token`` to ``url``'s host as an
    Authorization header ({} without a token). Entries already in the environment
    (``GIT_CONFIG_COUNT``) are kept: ours are appended after them."""
    if not token:
        return {}
    parts = urlsplit(url)
    prefix = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/"
    key = f"http.{prefix}.extraHeader"
    count = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    # An empty value first resets headers inherited from config (actions/checkout
    # persists its own), so exactly one Authorization header is sent.
    return {
        f"GIT_CONFIG_KEY_{count}": key,
        f"GIT_CONFIG_VALUE_{count}": "",
        f"GIT_CONFIG_KEY_{count + 1}": key,
        f"GIT_CONFIG_VALUE_{count + 1}": f"Authorization: Basic {_basic(token)}",
        "GIT_CONFIG_COUNT": str(count + 2),
    }


def scrub(text: str, token: str | None) -> str:
    """``text`` without ``token``, its header form, or any other secret :func:`redact` knows."""
    return redact(text, [token, _basic(token)] if token else [])


__all__ = ["header_env", "scrub", "token_for"]
