"""Where an OpenAI-compatible provider sends its requests, and with which key.

=============  ==========================================  =====================
provider       URL (variable, default)                     key
=============  ==========================================  =====================
openai         OPENAI_BASE_URL, https://api.openai.com/v1  OPENAI_API_KEY (needed
                                                           only without a base URL)
openrouter     OPENROUTER_BASE_URL, https://openrouter.ai   OPENROUTER_API_KEY
               /api/v1
ollama         OLLAMA_HOST + /v1, http://localhost:11434   none
=============  ==========================================  =====================

A server at OPENAI_BASE_URL (vLLM, llama.cpp's server, LM Studio, a proxy) may need no
key: a placeholder is sent then, since the SDK always sends one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tinygen.errors import ConfigError
from tinygen.llm.names import ProviderName

OPENAI_URL = "https://api.openai.com/v1"
OPENROUTER_URL = "https://openrouter.ai/api/v1"
OLLAMA_HOST = "http://localhost:11434"
NO_KEY = "no-key"  # sent where no key is needed (the SDK refuses to send none)


@dataclass(frozen=True)
class Endpoint:
    """One OpenAI-compatible API: its URL, key and how to talk about it in messages."""

    provider: ProviderName
    label: str  # "OpenRouter", "Ollama at http://...", "the server at ..."
    base_url: str
    api_key: str = field(repr=False)
    key_env: str | None  # the variable that holds the key (None: no key needed)
    url_env: str  # the variable that moves the endpoint
    key_set: bool  # a real key was found (not the placeholder)
    official_openai: bool = False  # api.openai.com: max_completion_tokens, not max_tokens
    local: bool = False  # Ollama: tokens cost nothing

    def where_hint(self) -> str:
        """What to check when the endpoint cannot be reached."""
        if self.provider == "ollama":
            return f"start Ollama (`ollama serve`) or point {self.url_env} at it"
        return f"check {self.url_env} ({self.base_url}) and the network"


def openai_endpoint(provider: ProviderName, env: Mapping[str, str] | None = None) -> Endpoint:
    """The endpoint for ``provider`` (not ``anthropic``) from the environment.

    Raises ConfigError when a needed key is missing or a URL is not http(s)."""
    env = os.environ if env is None else env
    if provider == "openrouter":
        key = env.get("OPENROUTER_API_KEY", "").strip()
        if not key:
            raise ConfigError(
                "no OpenRouter API key: OPENROUTER_API_KEY is not set",
                hint="export OPENROUTER_API_KEY=sk-or-... (create one at https://openrouter.ai/settings/keys)",
            )
        url = _url(env.get("OPENROUTER_BASE_URL", "") or OPENROUTER_URL, "OPENROUTER_BASE_URL")
        return Endpoint(
            "openrouter", "OpenRouter", url, key, "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", True
        )
    if provider == "ollama":
        host = _ollama_host(env.get("OLLAMA_HOST", "").strip() or OLLAMA_HOST)
        return Endpoint(
            "ollama", f"Ollama at {host}", host + "/v1", NO_KEY, None, "OLLAMA_HOST", False,
            local=True,
        )  # fmt: skip
    if provider == "openai":
        key = env.get("OPENAI_API_KEY", "").strip()
        custom = env.get("OPENAI_BASE_URL", "").strip()
        if custom:
            url = _url(custom, "OPENAI_BASE_URL")
            official = urlsplit(url).hostname == "api.openai.com"
            label = "OpenAI" if official else f"the OpenAI-compatible server at {url}"
            if official and not key:
                raise _no_openai_key()
            return Endpoint(
                "openai", label, url, key or NO_KEY, "OPENAI_API_KEY", "OPENAI_BASE_URL",
                bool(key), official_openai=official,
            )  # fmt: skip
        if not key:
            raise _no_openai_key()
        return Endpoint(
            "openai", "OpenAI", OPENAI_URL, key, "OPENAI_API_KEY", "OPENAI_BASE_URL", True,
            official_openai=True,
        )  # fmt: skip
    raise ValueError(f"{provider!r} is not an OpenAI-compatible provider")


def _no_openai_key() -> ConfigError:
    return ConfigError(
        "no OpenAI API key: OPENAI_API_KEY is not set",
        hint="export OPENAI_API_KEY=sk-... (https://platform.openai.com/api-keys), or set "
        "OPENAI_BASE_URL to a compatible server that needs no key",
    )


def _url(value: str, var: str) -> str:
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{var} must be an http(s) URL, got {value!r}",
            hint=f"e.g. {var}=http://localhost:8000/v1",
        )
    return url


def _ollama_host(value: str) -> str:
    """OLLAMA_HOST as Ollama's own client reads it: without a scheme, http and port 11434;
    with one, that scheme's default port."""
    url = value if "://" in value else f"http://{value}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"OLLAMA_HOST must be a host, host:port or URL, got {value!r}",
            hint="e.g. OLLAMA_HOST=http://localhost:11434",
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if host == "0.0.0.0":  # a listen address: the server is on this machine
        host = "127.0.0.1"
    port = parts.port or (11434 if "://" not in value else None)
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path.rstrip('/')}"


__all__ = ["NO_KEY", "OLLAMA_HOST", "OPENAI_URL", "OPENROUTER_URL", "Endpoint", "openai_endpoint"]
