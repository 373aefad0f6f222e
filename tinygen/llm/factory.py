"""The one place a provider is made from settings: every front end (CLI, Action, server)
calls :func:`make_provider`, so ``settings.model`` is the one source of the model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinygen.config import Settings
    from tinygen.llm.provider import Provider


def make_provider(settings: Settings, **kwargs: Any) -> Provider:
    """The provider for ``settings.model`` (None: the newest Sonnet the installed SDK knows),
    with the settings' retry caps and request timeout."""
    from tinygen.llm.anthropic import AnthropicProvider

    return AnthropicProvider.from_settings(settings, **kwargs)


def resolved_model(settings: Settings) -> str:
    """The model name a run records: ``settings.model``, or the provider's default."""
    if settings.model:
        return settings.model
    from tinygen.llm.anthropic import default_model

    return default_model()
