"""`tinygen run` with any model, end to end: the same scripted answers give the same diff
whatever the provider, transport or structured mode; the run record says which mode each
call used and what it cost; the model can come from .tinygen.toml."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import COST_PER_TOKEN, FakeOpenAI
from tests.helpers import commit_all
from tests.test_pipeline_e2e import (
    APP,
    EDIT,
    PLAN,
    VERIFY,
    approve,
    plan,
    rename_handler,
)
from tinygen.cli import cli
from tinygen.errors import ExitCode

SERVERS: dict[str, Callable[[], FakeAnthropic | FakeOpenAI]] = {
    "anthropic": FakeAnthropic,
    "openai-tools": FakeOpenAI,
    "openai-json-schema": lambda: FakeOpenAI(tools=False),
    "openai-json": lambda: FakeOpenAI(tools=False, json_schema=False),
    "openai-ignores-tools": lambda: FakeOpenAI(tools="ignore"),
    "openai-no-streaming": lambda: FakeOpenAI(streams=False),
    "ollama": lambda: FakeOpenAI(api_key=None),
    "openrouter": lambda: FakeOpenAI(report_cost=True),
}


def env_for(kind: str, fake: FakeAnthropic | FakeOpenAI) -> dict[str, str]:
    if isinstance(fake, FakeAnthropic):
        return {"ANTHROPIC_API_KEY": fake.api_key, "ANTHROPIC_BASE_URL": fake.base_url}
    if kind == "ollama":
        return {"OLLAMA_HOST": fake.host, "TINYGEN_MODEL": "ollama:qwen2.5-coder:7b"}
    if kind == "openrouter":
        return {
            "OPENROUTER_API_KEY": str(fake.api_key),
            "OPENROUTER_BASE_URL": fake.base_url,
            "TINYGEN_MODEL": "openrouter:qwen/qwen3-coder",
        }
    return {
        "OPENAI_API_KEY": str(fake.api_key),
        "OPENAI_BASE_URL": fake.base_url,
        "TINYGEN_MODEL": "openai:gpt-4.1-mini",
    }


def rename_run(fake: FakeAnthropic | FakeOpenAI, repo: Path, env: dict[str, str]) -> Result:
    fake.script(
        PLAN,
        plan(
            ("app/config.py", "modify", "Rename load_cfg to load_config."),
            ("app/main.py", "modify", "Use load_config."),
            ("app/cli.py", "modify", "Use load_config."),
        ),
    )
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.script(VERIFY, approve())
    return CliRunner().invoke(
        cli,
        ["run", "Rename load_cfg to load_config", "--repo", str(repo), "--json"],
        env={**env, "TINYGEN_MAX_RETRY_WAIT": "0.05"},
        catch_exceptions=False,
    )


def calls_of(repo: Path, run_id: str) -> list[dict[str, Any]]:
    lines = (repo / ".git/tinygen/runs" / run_id / "calls.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_same_answers_give_the_same_diff_on_every_provider_and_mode(
    make_repo: Callable[..., Path],
) -> None:
    diffs: dict[str, str] = {}
    modes: dict[str, set[str]] = {}
    for kind, server in SERVERS.items():
        repo = make_repo(APP, name=kind)
        with server() as fake:
            result = rename_run(fake, repo, env_for(kind, fake))
            assert result.exit_code == ExitCode.OK, (kind, result.stderr)
            assert fake.pending() == {} and fake.unscripted == [], kind
        data = json.loads(result.stdout)
        diffs[kind] = data["diff"]
        modes[kind] = {
            c["response"]["completion"]["structured_mode"] for c in calls_of(repo, data["run_id"])
        }
    assert diffs["anthropic"].count("diff --git") == 3
    assert {kind: diff == diffs["anthropic"] for kind, diff in diffs.items()} == dict.fromkeys(
        SERVERS, True
    )
    assert modes == {
        "anthropic": {"tool"},
        "openai-tools": {"tool"},
        "openai-json-schema": {"json_schema"},
        "openai-json": {"json"},
        "openai-ignores-tools": {"json_schema"},
        "openai-no-streaming": {"tool"},
        "ollama": {"tool"},
        "openrouter": {"tool"},
    }


def test_costs_are_stated_free_or_priced_never_made_up(make_repo: Callable[..., Path]) -> None:
    costs: dict[str, Any] = {}
    for kind in ("openrouter", "ollama", "openai-tools"):
        repo = make_repo(APP, name=kind)
        with SERVERS[kind]() as fake:
            result = rename_run(fake, repo, env_for(kind, fake))
            assert result.exit_code == ExitCode.OK, result.stderr
            served = [r.usage for r in fake.requests]
        data = json.loads(result.stdout)
        costs[kind] = (
            data["cost_usd"],
            [c["response"]["cost_usd"] for c in calls_of(repo, data["run_id"])],
        )
        if kind == "openrouter":  # the cost OpenRouter stated, call by call
            stated = sum(u["prompt_tokens"] + u["completion_tokens"] for u in served)
            assert data["cost_usd"] == pytest.approx(stated * COST_PER_TOKEN)
    assert costs["ollama"] == (0.0, [0.0] * 5)
    total, per_call = costs["openai-tools"]
    assert total > 0 and total == pytest.approx(sum(per_call))


def test_unknown_price_is_unknown_not_zero(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(APP)
    with FakeOpenAI() as fake:
        env = {**env_for("openai-tools", fake), "TINYGEN_MODEL": "openai:my-own-finetune"}
        result = rename_run(fake, repo, env)
    assert result.exit_code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout)["cost_usd"] is None


def test_model_from_tinygen_toml(make_repo: Callable[..., Path]) -> None:
    repo = make_repo({**APP, ".tinygen.toml": 'model = "ollama:llama3.1:8b"\n'})
    with FakeOpenAI(api_key=None) as fake:
        result = rename_run(fake, repo, {"OLLAMA_HOST": fake.host})
        assert result.exit_code == ExitCode.OK, result.stderr
        assert {r.model for r in fake.requests} == {"llama3.1:8b"}
    assert json.loads(result.stdout)["model"] == "ollama:llama3.1:8b"


def test_unknown_provider_is_a_configuration_error(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(APP)
    commit_all(repo, "again")
    result = CliRunner().invoke(
        cli, ["run", "x", "--repo", str(repo), "--model", "gemini:pro"], catch_exceptions=False
    )
    assert result.exit_code == ExitCode.CONFIG
    assert "unknown model provider 'gemini'" in result.stderr and "--model" in result.stderr


def test_ollama_not_running_is_said_at_once(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(APP)
    with FakeOpenAI(api_key=None) as gone:
        host = gone.host
    result = CliRunner().invoke(
        cli,
        ["run", "x", "--repo", str(repo), "--model", "ollama:llama3.1:8b"],
        env={"OLLAMA_HOST": host},
        catch_exceptions=False,
    )
    assert result.exit_code == ExitCode.LLM
    assert "cannot connect to Ollama" in result.stderr and "ollama serve" in result.stderr
    assert "overloaded" not in result.stderr.lower()
