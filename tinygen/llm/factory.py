"""The one place a provider is made from settings: every front end (CLI, Action, server)
calls :func:`make_provider`, so ``settings.model`` is the one source of the model.

``settings.model`` is ``PROVIDER:MODEL`` (see :mod:`tinygen.llm.names`): ``anthropic:``
or a bare name goes to :class:`~tinygen.llm.anthropic.AnthropicProvider`; ``openai:``,
``openrouter:`` and ``ollama:`` to :class:`~tinygen.llm.openai_compat.OpenAICompatProvider`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygen.llm.anthropic import AnthropicProvider, default_model
from tinygen.llm.names import split_model
from tinygen.llm.openai_compat import OpenAICompatProvider

if TYPE_CHECKING:
    from tinygen.config import Settings
    from tinygen.llm.provider import Provider


def make_provider(settings: Settings, **kwargs: Any) -> Provider:
    """The provider for ``settings.model`` (None: the newest Sonnet the installed SDK knows),
    with the settings' retry caps and request timeout. Raises ConfigError for an unknown
    provider prefix or a missing key."""
    if settings.model and split_model(settings.model).provider != "anthropic":
        return OpenAICompatProvider.from_settings(settings, **kwargs)
    return AnthropicProvider.from_settings(settings, **kwargs)


def resolved_model(settings: Settings) -> str:
    """The model name a run records: ``settings.model``, or the provider's default."""
    if settings.model:
        return settings.model
    return default_model()


def warm_up(model: str | None) -> None:
    """Import the SDK that ``model`` needs (a second or more), e.g. in a thread while the
    repository is read; an invalid name is left for make_provider to report."""
    try:
        provider = split_model(model).provider if model else "anthropic"
    except Exception:
        return
    if provider == "anthropic":
        default_model()  # imports the anthropic SDK
    else:
        import openai  # noqa: F401  (heavy: imported ahead of the first call)


__all__ = ["make_provider", "resolved_model", "warm_up"]
