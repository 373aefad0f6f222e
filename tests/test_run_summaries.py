"""A run with ``summaries = "auto"``: what the summaries cost is in the run's cost (JSON,
the summary line, a failed run's partial result); what the run itself needs (its model's
price, its provider) is checked before a summary is paid; a summary model that cannot be
used skips the summaries, never the run; with ``max_cost`` they take at most their share
of it. The real CLI against the fake Messages API, and the pipeline with scripted
providers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic_server import ErrorReply, FakeAnthropic
from tests.helpers import git
from tests.test_pipeline_e2e import PLAN, invoke, plan
from tests.test_summarize import (
    FILES,
    NODES,
    _fake_answer,
    _no_change_run,
    made,
    scripted,
)
from tinygen.config import Settings
from tinygen.errors import ExitCode
from tinygen.llm.usage import Usage, cost_usd
from tinygen.models import Request, Status
from tinygen.pipeline import Target, open_workspace
from tinygen.pipeline import run as run_pipeline
from tinygen.testing.provider import ScriptedProvider, prompt_text

AUTO = {"TINYGEN_SUMMARIES": "auto"}
SUMMARY_TOOLS = ("file_summary", "folder_summary", "overview")


@pytest.fixture
def shop(make_repo: Any) -> Path:
    return make_repo(FILES, name="shop")


def _serve_summaries(fake: FakeAnthropic) -> None:
    for tool in SUMMARY_TOOLS:
        fake.on(tool, _fake_answer)


def _own_cost(data: dict[str, Any]) -> float:
    """What the run's own calls cost, from its --json usage."""
    usage = {k: v for k, v in data["usage"].items() if k != "calls"}
    cost = cost_usd(data["model"], Usage(**usage))
    assert cost is not None
    return cost


def test_the_runs_cost_counts_what_its_summaries_cost(fake: FakeAnthropic, shop: Path) -> None:
    _serve_summaries(fake)
    fake.script(PLAN, plan(summary="Nothing to do."))
    done = invoke(fake, shop, "Make the cart total count apples", "--json", env=AUTO)
    assert done.exit_code == ExitCode.NO_CHANGE, done.stderr
    data = json.loads(done.stdout)
    summaries = data["summaries"]
    assert summaries["made"] == summaries["calls"] == len(NODES)
    assert summaries["skipped"] is None and summaries["limit_usd"] is None
    assert summaries["cost_usd"] > 0
    # usage and calls are the run model's own; cost_usd is the money the run spent
    assert data["usage"]["calls"] == 1
    assert data["cost_usd"] == pytest.approx(_own_cost(data) + summaries["cost_usd"])
    # the summaries' estimate joins the run's, so the two compare
    passes = {p["pass"]: p for p in data["estimate"]["passes"]}
    assert passes["summaries"]["calls"] == len(NODES)
    record = json.loads((shop / ".git/tinygen/runs" / data["run_id"] / "run.json").read_text())
    assert record["summaries"]["made"] == len(NODES)


def test_the_summary_line_shows_the_summaries_part(fake: FakeAnthropic, make_repo: Any) -> None:
    shop = make_repo(FILES, name="shop")
    _serve_summaries(fake)
    fake.script(PLAN, plan(summary="Nothing to do."))
    done = invoke(fake, shop, "Make the cart total count apples", env=AUTO)
    assert done.exit_code == ExitCode.NO_CHANGE, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("tinygen: run "))
    run_id = line.split()[2]
    result = json.loads((shop / ".git/tinygen/runs" / run_id / "run.json").read_text())["result"]
    total, part = result["cost_usd"], result["summaries"]["cost_usd"]
    assert f"1 LLM call(s) and {len(NODES)} summary call(s)" in line
    assert f"${total:.4f} (summaries ${part:.4f})" in line


def test_a_failed_runs_partial_result_counts_its_summaries(fake: FakeAnthropic, shop: Path) -> None:
    _serve_summaries(fake)
    fake.on(PLAN, lambda request: ErrorReply(400, "invalid_request_error", "bad request"))
    failed = invoke(fake, shop, "Make the cart total count apples", "--json", env=AUTO)
    assert failed.exit_code == ExitCode.LLM, failed.stderr
    data = json.loads(failed.stdout)
    assert data["status"] == "failed"
    assert data["summaries"]["made"] == len(NODES)
    assert data["cost_usd"] is not None
    assert data["cost_usd"] >= data["summaries"]["cost_usd"] > 0


def test_a_run_model_without_a_price_fails_before_a_summary_is_paid(
    fake: FakeAnthropic, shop: Path
) -> None:
    _serve_summaries(fake)
    done = invoke(
        fake,
        shop,
        "Make the cart total count apples",
        "--max-cost",
        "1",
        "--model",
        "claude-unknown-9",
        env=AUTO,
    )
    assert done.exit_code == ExitCode.CONFIG, done.stderr
    assert "claude-unknown-9" in done.stderr
    assert fake.requests == []  # no summary was paid for a run that could not start
    assert not (shop / ".git/tinygen/summaries.json").exists()


def _progress() -> tuple[list[str], Any]:
    lines: list[str] = []

    def progress(stage: str, message: str) -> None:
        lines.append(f"{stage}: {message}")

    return lines, progress


def _run(repo: Path, settings: Settings, summaries: ScriptedProvider | None, progress: Any) -> Any:
    return _no_change_run(repo, settings, summaries, progress=progress)


def test_a_summary_model_without_a_price_skips_the_summaries_not_the_run(shop: Path) -> None:
    writer = scripted()
    lines, progress = _progress()
    settings = Settings(summaries="auto", summary_model="claude-unknown-9", max_cost=1.0)
    result, provider = _run(shop, settings, writer, progress)
    assert result.status == Status.NO_CHANGE and len(provider.requests) == 1
    assert writer.requests == []
    skipped = [x for x in lines if x.startswith("summaries: skipped")]
    assert len(skipped) == 1
    assert "`summary_model` claude-unknown-9" in skipped[0] and "price" in skipped[0]
    assert result.summaries is not None and result.summaries.skipped is not None
    assert "`summary_model`" in result.summaries.skipped
    record = json.loads((shop / ".git/tinygen/runs" / result.run_id / "run.json").read_text())
    assert record["summaries"]["skipped"] == result.summaries.skipped
    assert record["summaries"]["not_made"] == len(NODES)


def test_a_summary_model_without_a_key_skips_the_summaries_not_the_run(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    lines, progress = _progress()
    settings = Settings(summaries="auto", summary_model="claude-haiku-4-5")
    result, _ = _run(shop, settings, None, progress)  # the summaries' provider is made
    assert result.status == Status.NO_CHANGE
    skipped = next(x for x in lines if x.startswith("summaries: skipped"))
    assert "`summary_model` claude-haiku-4-5" in skipped and "ANTHROPIC_API_KEY" in skipped
    assert result.summaries is not None and result.summaries.report.made == 0
    assert result.cost_usd is not None  # nothing unknown was spent


def test_what_the_summaries_spent_is_charged_to_the_runs_limit(shop: Path) -> None:
    # all six fit in half of $0.02; the other half is too little for the run's first call
    # (about $0.25 at most on Sonnet), and the refusal counts the summaries as spent
    writer = scripted()
    settings = Settings(summaries="auto", summary_model="claude-haiku-4-5", max_cost=0.02)
    result, provider = _no_change_run(shop, settings, writer)
    assert set(made(writer)) == NODES and provider.requests == []
    assert result.status == Status.BUDGET_EXCEEDED
    assert result.summaries is not None and result.summaries.limit == pytest.approx(0.01)
    spent = result.summaries.cost_usd
    assert spent is not None and 0 < spent <= 0.01
    assert result.cost_usd == pytest.approx(spent)
    assert f"${spent:.4f} spent" in result.message


def test_without_max_cost_the_summaries_have_no_cap(shop: Path) -> None:
    writer = scripted()
    result, _ = _no_change_run(shop, Settings(summaries="auto"), writer)
    assert set(made(writer)) == NODES
    assert result.summaries is not None and result.summaries.limit is None


def _overview_asked(writer: ScriptedProvider) -> str:
    return prompt_text(writer.requests_for("summary:(overview)")[0])


def test_a_runs_overview_names_the_repository_not_its_worktree(shop: Path) -> None:
    writer = scripted()
    _no_change_run(shop, Settings(summaries="auto"), writer)
    assert "Write an overview of the repository `shop`" in _overview_asked(writer)


def test_a_clone_is_named_by_its_remote(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = tmp_path / "remotes" / "acme-shop.git"
    git(tmp_path, "clone", "--bare", "-q", str(shop), str(remote))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    workspace = open_workspace(f"file://{remote}", provider=ScriptedProvider())
    target = workspace.target()
    assert target.repo_name == "acme-shop"
    assert target.root.name == "acme-shop.git"  # the cache's folder: not what it is called
    writer = scripted()
    _run_at(target, Settings(summaries="auto"), writer)
    assert "Write an overview of the repository `acme-shop`" in _overview_asked(writer)


def _run_at(target: Target, settings: Settings, writer: ScriptedProvider) -> Any:
    provider = ScriptedProvider()
    provider.enqueue({"summary": "Nothing to do.", "title": "t", "files": []}, label="brainstorm")
    return run_pipeline(
        Request("Make the cart total count apples"),
        target,
        settings,
        provider,
        model="claude-sonnet-4-6",
        summary_provider=writer,
    )
