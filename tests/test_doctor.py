"""`tinygen doctor` against the fake servers: a healthy model, a local server that cuts
long prompts silently, missing keys, nothing listening, an unknown model."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner, Result

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.anthropic_server import RecordedRequest as AnthropicRequest
from tests.fakes.openai_server import FakeOpenAI, TextReply, ToolReply
from tests.fakes.openai_server import RecordedRequest as OpenAIRequest
from tinygen.cli import cli
from tinygen.errors import ExitCode

SMALL_BUDGET = {"TINYGEN_BUDGET": "2000"}  # the context probe: about 6000 tokens


def model_answers(fake: FakeAnthropic | FakeOpenAI) -> None:
    """Answer doctor's questions as a capable model would, from what it was shown."""

    def text(request: AnthropicRequest | OpenAIRequest) -> TextReply:
        seen = request.seen_text if isinstance(request, OpenAIRequest) else request.text
        marker = re.search(r"The secret word is (marker-\w+)\.", seen)
        if "secret word" in request.text:
            return TextReply(marker.group(1) if marker else "I do not know the word.")
        return TextReply("ready")

    def answer(request: AnthropicRequest | OpenAIRequest) -> ToolReply:
        return ToolReply({"answer": 42 if "6 times 7" in request.text else 5, "unit": "none"})

    fake.on(None, text)  # type: ignore[arg-type]
    fake.on("submit_answer", answer)  # type: ignore[arg-type]


def doctor(*args: str, env: dict[str, str]) -> Result:
    return CliRunner().invoke(
        cli,
        ["doctor", *args],
        env={**SMALL_BUDGET, "TINYGEN_MAX_RETRY_WAIT": "0.01", **env},
        catch_exceptions=False,
    )


def rows(output: str) -> dict[str, tuple[str, str]]:
    """check name -> (state, detail) from the text table."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"  (ok|warn|FAIL|-)\s+(\S+(?: \S+)?)\s{2,}(.*)", line)
        if match:
            found[match.group(2)] = (match.group(1), match.group(3))
    return found


def test_a_healthy_model_passes_every_check(fake_openai: FakeOpenAI) -> None:
    model_answers(fake_openai)
    env = {"OPENAI_API_KEY": str(fake_openai.api_key), "OPENAI_BASE_URL": fake_openai.base_url}
    result = doctor("--model", "openai:gpt-4.1-mini", env=env)
    assert result.exit_code == 0, result.output
    table = rows(result.stdout)
    assert set(table) == {
        "key", "endpoint", "auth", "model", "tool calling", "structured output", "streaming",
        "context",
    }  # fmt: skip
    assert all(state == "ok" for state, _ in table.values()), table
    assert table["structured output"][1] == "tool"
    assert "read from its start" in table["context"][1]
    assert "4 call(s)" in result.stdout and "can run tinygen" in result.stdout
    assert re.search(r"\$0\.\d{4}", result.stdout)  # priced: gpt-4.1-mini is in the table
    long = max(fake_openai.requests, key=lambda r: len(r.text))
    assert long.text.startswith("The secret word is marker-") and len(long.text) > 20_000


def test_ollama_that_cuts_long_prompts_is_caught_and_the_fix_named() -> None:
    with FakeOpenAI(api_key=None, tools=False, context_tokens=2048) as fake:
        model_answers(fake)
        result = doctor("--model", "ollama:qwen2.5-coder:7b", env={"OLLAMA_HOST": fake.host})
    assert result.exit_code == ExitCode.LLM, result.output
    table = rows(result.stdout)
    assert table["key"] == ("ok", "not needed")
    assert (
        table["tool calling"][0] == "warn" and "does not support tools" in table["tool calling"][1]
    )
    assert table["structured output"] == ("ok", "json_schema")
    assert table["context"][0] == "FAIL" and "marker at its start was lost" in table["context"][1]
    assert "OLLAMA_CONTEXT_LENGTH=32768" in result.stdout and "num_ctx" in result.stdout
    assert "$0.0000" in result.stdout  # local: free
    assert "CANNOT run tinygen's passes" in result.stdout


def test_a_server_that_refuses_long_prompts_fails_the_context_check() -> None:
    with FakeOpenAI(context_tokens=2048, truncate=False) as fake:
        model_answers(fake)
        env = {"OPENAI_API_KEY": str(fake.api_key), "OPENAI_BASE_URL": fake.base_url}
        result = doctor("--model", "openai:local-model", env=env)
    assert result.exit_code == ExitCode.LLM
    state, detail = rows(result.stdout)["context"]
    assert state == "FAIL" and "does not fit" in detail
    assert "unknown" in result.stdout  # no price for this model: cost unknown, not $0


def test_missing_key_fails_first_and_skips_the_rest() -> None:
    result = doctor("--model", "openrouter:qwen/qwen3-coder", env={})
    assert result.exit_code == ExitCode.LLM
    table = rows(result.stdout)
    assert table["key"][0] == "FAIL" and "OPENROUTER_API_KEY" in table["key"][1]
    assert "openrouter.ai/settings/keys" in result.stdout
    assert all(table[c] == ("-", "no key") for c in ("endpoint", "context"))
    assert "0 call(s)" in result.stdout


def test_nothing_listening_fails_the_endpoint_check() -> None:
    with FakeOpenAI(api_key=None) as gone:
        host = gone.host
    result = doctor("--model", "ollama:llama3.1:8b", env={"OLLAMA_HOST": host})
    assert result.exit_code == ExitCode.LLM
    table = rows(result.stdout)
    assert table["endpoint"][0] == "FAIL" and "connection refused" in table["endpoint"][1]
    assert "ollama serve" in result.stdout
    assert table["model"] == ("-", "endpoint unreachable")


def test_unknown_model_fails_the_model_check() -> None:
    with FakeOpenAI(api_key=None, known_models={"llama3.1:8b"}) as fake:
        result = doctor("--model", "ollama:qwen3:0.6b", env={"OLLAMA_HOST": fake.host})
    table = rows(result.stdout)
    assert (table["endpoint"][0], table["auth"][0], table["model"][0]) == ("ok", "ok", "FAIL")
    assert "ollama pull qwen3:0.6b" in result.stdout


def test_wrong_key_fails_the_auth_check(fake_openai: FakeOpenAI) -> None:
    env = {"OPENAI_API_KEY": "sk-wrong-0123456789abcdef", "OPENAI_BASE_URL": fake_openai.base_url}
    result = doctor("--model", "openai:gpt-4.1-mini", env=env)
    table = rows(result.stdout)
    assert table["auth"][0] == "FAIL" and "refused the API key" in table["auth"][1]
    assert "sk-wrong-0123456789abcdef" not in result.output


def test_several_models_with_json_and_a_summary(fake: FakeAnthropic) -> None:
    model_answers(fake)
    with FakeOpenAI(tools="ignore") as other:
        model_answers(other)
        env = {
            "ANTHROPIC_API_KEY": fake.api_key,
            "ANTHROPIC_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": str(other.api_key),
            "OPENAI_BASE_URL": other.base_url,
        }
        text = doctor("--model", "claude-haiku-4-5", "--model", "openai:gpt-4.1-nano", env=env)
        as_json = doctor(
            "--model", "claude-haiku-4-5", "--model", "openai:gpt-4.1-nano", "--json", env=env
        )
    assert text.exit_code == 0, text.output
    summary = text.stdout.split("model ")[-1]
    assert re.search(r"claude-haiku-4-5\s+yes\s+tool\s+\$0\.\d{4}", summary)
    assert re.search(r"openai:gpt-4.1-nano\s+yes\s+json_schema\s+\$0\.\d{4}", summary)
    data = json.loads(as_json.stdout)
    assert [d["model"] for d in data] == ["claude-haiku-4-5", "openai:gpt-4.1-nano"]
    assert all(d["usable"] for d in data) and data[1]["structured_mode"] == "json_schema"
    ignored = {c["name"]: c for c in data[1]["checks"]}["tool calling"]
    assert ignored["state"] == "warn" and "ignored" in ignored["detail"]
    assert data[0]["cost_usd"] > 0 and data[0]["calls"] == 4


@pytest.mark.parametrize("name", ["gemini:pro", "ollama:"])
def test_a_bad_model_name_is_a_failed_check(name: str) -> None:
    result = doctor("--model", name, env={})
    assert result.exit_code == ExitCode.LLM
    assert rows(result.stdout)["key"][0] == "FAIL"
