"""`tinygen compare`: one request, several models (fake servers, real SDKs, real git), each
in its own worktree on the same base commit; diffs and metrics.yaml in the run-records
area; ranked by status then cost; one failing model does not stop the others."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from tests.fakes.anthropic_server import FakeAnthropic, ToolReply
from tests.fakes.openai_server import COST_PER_TOKEN, FakeOpenAI
from tests.helpers import status
from tests.test_pipeline_e2e import APP, EDIT, PLAN, VERIFY, approve, plan, rename_handler
from tinygen.cli import cli
from tinygen.errors import ExitCode


def script_rename(fake: FakeAnthropic | FakeOpenAI, *, approved: bool = True) -> None:
    fake.on(PLAN, lambda r: plan(("app/main.py", "modify", "Use load_config.")))
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    verdict = {"approved": False, "summary": "not good", "revisions": []}
    fake.on(VERIFY, lambda r: approve() if approved else ToolReply(verdict))


def compare(repo: Path, *args: str, env: dict[str, str]) -> Result:
    return CliRunner().invoke(
        cli,
        ["compare", "Rename load_cfg in main", "--repo", str(repo), *args],
        env={"TINYGEN_MAX_RETRY_WAIT": "0.01", "TINYGEN_MAX_RETRY_TOTAL": "0.05", **env},
        catch_exceptions=False,
    )


def read_yaml(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


def test_models_compared_on_the_same_base_and_ranked(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(APP)
    before = status(repo)
    with (
        FakeAnthropic() as anthropic,
        FakeOpenAI(report_cost=True) as router,
        FakeOpenAI(api_key=None, tools=False) as ollama,
    ):
        script_rename(anthropic)
        script_rename(router, approved=False)
        script_rename(ollama)
        env = {
            "ANTHROPIC_API_KEY": anthropic.api_key,
            "ANTHROPIC_BASE_URL": anthropic.base_url,
            "OPENROUTER_API_KEY": str(router.api_key),
            "OPENROUTER_BASE_URL": router.base_url,
            "OLLAMA_HOST": ollama.host,
        }
        models = ["claude-sonnet-4-6", "openrouter:qwen/qwen3-coder", "ollama:qwen3:8b"]
        args = [a for m in models for a in ("--model", m)]
        result = compare(repo, *args, "--check", "grep -q load_config app/main.py", "--max-rounds", "1", "--json", env=env)  # fmt: skip
        router_usage = [r.usage for r in router.requests]
    assert result.exit_code == ExitCode.OK, result.output
    data = json.loads(result.stdout)
    ranked = [m["model"] for m in data["models"]]
    # Approved ones first, the free local model before the paid one; then the unapproved.
    assert ranked == ["ollama:qwen3:8b", "claude-sonnet-4-6", "openrouter:qwen/qwen3-coder"]
    by_model = {m["model"]: m for m in data["models"]}
    assert [by_model[m]["status"] for m in ranked] == ["approved", "approved", "unapproved"]
    folder = Path(data["folder"])
    assert folder.parent == repo / ".git" / "tinygen" / "comparisons"
    assert status(repo) == before, "the user's checkout must not change"
    # The same diff from the same answers, one file per model.
    diffs = {m: (folder / by_model[m]["diff"]).read_text() for m in ranked}
    assert (
        len(set(diffs.values())) == 1 and "+from app.config import load_config" in diffs[ranked[0]]
    )
    assert sorted(p.name for p in folder.iterdir()) == [
        "claude-sonnet-4-6.diff", "metrics.yaml", "ollama_qwen3_8b.diff",
        "openrouter_qwen_qwen3-coder.diff",
    ]  # fmt: skip
    # metrics.yaml is valid YAML with the same figures as --json.
    metrics = read_yaml(folder / "metrics.yaml")
    assert (
        metrics["base_commit"]
        == data["base_commit"]
        == subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
        ).stdout.strip()
    )
    assert metrics["models"] == data["models"]
    # the same sheet for every model, from the run records
    assert len({m["sheet_sha256"] for m in data["models"]}) == 1
    for m in data["models"]:
        assert m["calls"] == 3 and m["files_changed"] == 1 and m["seconds"] > 0
        assert (m["checks_passed"], m["checks_failed"]) == (1, 0)
        assert m["input_tokens"] > 0 and m["output_tokens"] > 0
    assert by_model["ollama:qwen3:8b"]["cost_usd"] == 0.0
    assert by_model["ollama:qwen3:8b"]["structured_mode"] == "json_schema"
    assert by_model["claude-sonnet-4-6"]["structured_mode"] == "tool"
    stated = sum(u["prompt_tokens"] + u["completion_tokens"] for u in router_usage)
    assert by_model["openrouter:qwen/qwen3-coder"]["cost_usd"] == pytest.approx(
        stated * COST_PER_TOKEN
    )


def test_one_failing_model_does_not_stop_the_others(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(APP)
    with FakeOpenAI(api_key=None) as gone:
        host = gone.host
    with FakeOpenAI() as good:
        script_rename(good)
        env = {
            "OPENAI_API_KEY": str(good.api_key),
            "OPENAI_BASE_URL": good.base_url,
            "OLLAMA_HOST": host,  # nothing listens there any more
        }
        args = ["--model", "ollama:llama3.1:8b", "--model", "openrouter:x/y", "--model", "openai:gpt-4.1-mini"]  # fmt: skip
        result = compare(repo, *args, env=env)
    assert result.exit_code == ExitCode.OK, result.output
    lines = result.stdout.splitlines()
    assert lines[1].split()[1:3] == ["openai:gpt-4.1-mini", "approved"]
    assert "cannot connect to Ollama" in result.stdout
    assert "OPENROUTER_API_KEY" in result.stdout  # no key: that model failed, alone
    folder = Path(result.stderr.strip().splitlines()[-1].removeprefix("written to "))
    metrics = read_yaml(folder / "metrics.yaml")
    failed = {m["model"]: m for m in metrics["models"] if m["status"] == "failed"}
    assert set(failed) == {"ollama:llama3.1:8b", "openrouter:x/y"}
    assert failed["openrouter:x/y"]["calls"] == 0 and failed["openrouter:x/y"]["diff"] is None
    assert "connection refused" in failed["ollama:llama3.1:8b"]["error"]


def test_when_no_model_succeeds_the_exit_code_is_the_best_ones(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(APP)
    with FakeOpenAI() as fake:
        script_rename(fake, approved=False)
        env = {"OPENAI_API_KEY": str(fake.api_key), "OPENAI_BASE_URL": fake.base_url}
        result = compare(repo, "--model", "openai:gpt-4.1-mini", "--max-rounds", "1", env=env)
    assert result.exit_code == ExitCode.UNAPPROVED, result.output


def test_metrics_yaml_quotes_whatever_a_request_holds(make_repo: Callable[..., Path]) -> None:
    from tinygen.compare import Comparison, ModelResult, metrics_yaml

    tricky = 'Fix: "quotes", colons: # hashes\n- a list?\n\ttabs and ünïcode'
    comparison = Comparison(
        "id-1",
        Path("/nowhere"),
        tricky,
        "abc",
        [ModelResult("ollama:qwen2.5:7b", "failed", 1.5, error="boom: {x}")],
    )
    data = YAML(typ="safe").load(metrics_yaml(comparison))
    assert data["request"] == tricky
    assert data["models"][0]["model"] == "ollama:qwen2.5:7b"
    assert data["models"][0]["error"] == "boom: {x}" and data["models"][0]["cost_usd"] is None
