"""Model names: PROVIDER:MODEL, a bare name is Anthropic's; where the server lists them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tinygen.errors import ConfigError
from tinygen.llm import split_model
from tinygen.llm.names import provider_of
from tinygen.server.config import ServerConfig


@pytest.mark.parametrize(
    ("name", "provider", "model"),
    [
        ("claude-sonnet-4-6", "anthropic", "claude-sonnet-4-6"),
        ("anthropic:claude-haiku-4-5", "anthropic", "claude-haiku-4-5"),
        ("openai:gpt-4.1", "openai", "gpt-4.1"),
        ("openrouter:qwen/qwen3-coder:free", "openrouter", "qwen/qwen3-coder:free"),
        ("ollama:qwen2.5-coder:7b", "ollama", "qwen2.5-coder:7b"),
        (" ollama:llama3.1 ", "ollama", "llama3.1"),
    ],
)
def test_names_split_at_the_first_colon(name: str, provider: str, model: str) -> None:
    parsed = split_model(name)
    assert (parsed.provider, parsed.model) == (provider, model)
    assert provider_of(name) == provider


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("", "empty"),
        ("gemini:pro", "unknown model provider 'gemini'"),
        ("qwen2.5-coder:7b", "unknown model provider 'qwen2.5-coder'"),  # an Ollama name, bare
        ("ollama:", "names no model"),
    ],
)
def test_bad_names_say_how_to_write_one(name: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        split_model(name)
    assert needle in info.value.message
    assert info.value.hint and "PROVIDER:MODEL" in info.value.hint
    assert info.value.settings == ("model",)
    assert provider_of(name) is None


def test_the_server_takes_prefixed_models_and_refuses_unknown_providers() -> None:
    config = ServerConfig(allowed_models=("claude-sonnet-4-6", "ollama:qwen2.5-coder:7b"))
    assert config.models() == ("claude-sonnet-4-6", "ollama:qwen2.5-coder:7b")
    with pytest.raises(ConfigError) as info:
        ServerConfig(allowed_models=("claude-sonnet-4-6", "mistral:large"))
    assert "allowed model 'mistral:large'" in info.value.message
    assert info.value.settings == ("allowed_models",)


@pytest.mark.parametrize(
    ("model", "loaded"),
    [("ollama:llama3.1:8b", "openai"), ("openrouter:x/y", "openai"), (None, "anthropic")],
)
def test_warm_up_imports_only_the_sdk_the_model_needs(model: str | None, loaded: str) -> None:
    code = (
        "import sys; from tinygen.passes.common import warm_up; "
        f"warm_up({model!r}); print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == repr([loaded])


def test_importing_the_llm_package_loads_no_sdk() -> None:
    code = "import sys, tinygen.llm; print([m for m in ('openai', 'anthropic', 'pydantic') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
