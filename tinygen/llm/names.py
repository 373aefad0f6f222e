"""Model names: ``PROVIDER:MODEL``, or a bare name that means Anthropic.

    claude-sonnet-4-6                      Anthropic (ANTHROPIC_API_KEY)
    anthropic:claude-sonnet-4-6            the same
    openai:gpt-4.1-mini                    OpenAI, or any compatible server at OPENAI_BASE_URL
    openrouter:qwen/qwen3-coder            OpenRouter (OPENROUTER_API_KEY)
    ollama:qwen2.5-coder:7b                Ollama at OLLAMA_HOST (default localhost:11434)

Only the first colon separates the provider, so Ollama's ``name:tag`` models keep theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tinygen.errors import ConfigError

ProviderName = Literal["anthropic", "openai", "openrouter", "ollama"]
PROVIDERS: tuple[ProviderName, ...] = ("anthropic", "openai", "openrouter", "ollama")


@dataclass(frozen=True)
class ModelName:
    """A model name split into the provider and the name that provider's API knows."""

    provider: ProviderName
    model: str  # as the provider's API names it (no prefix)

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


def split_model(name: str) -> ModelName:
    """``"openai:gpt-4.1"`` -> ModelName("openai", "gpt-4.1"); a bare name is Anthropic's.

    Raises ConfigError for an unknown provider or an empty model."""
    text = name.strip()
    prefix, colon, rest = text.partition(":")
    if not colon:
        if not text:
            raise ConfigError("the model name is empty", hint=_NAMES_HINT, settings=_MODEL)
        return ModelName("anthropic", text)
    if prefix not in PROVIDERS:
        raise ConfigError(
            f"unknown model provider {prefix!r} in model {name!r}",
            hint=_NAMES_HINT + "; any OpenAI-compatible server is openai: with OPENAI_BASE_URL",
            settings=_MODEL,
        )
    if not rest.strip():
        raise ConfigError(
            f"model {name!r} names no model after {prefix}:", hint=_NAMES_HINT, settings=_MODEL
        )
    return ModelName(prefix, rest.strip())


def provider_of(name: str) -> ProviderName | None:
    """The provider a model name means, or None when the name is not valid (never raises)."""
    try:
        return split_model(name).provider
    except ConfigError:
        return None


_MODEL = ("model",)
_NAMES_HINT = (
    "write PROVIDER:MODEL with anthropic:, openai:, openrouter: or ollama: "
    "(a bare name is an Anthropic model)"
)

__all__ = ["PROVIDERS", "ModelName", "ProviderName", "provider_of", "split_model"]
