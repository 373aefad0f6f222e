"""`tinygen run --vote`, `--max-cost` and `--estimate` end to end: the real CLI, the real
anthropic SDK against the local fake Messages API, real repositories."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.fakes.anthropic_server import FakeAnthropic, ToolReply
from tests.test_pipeline_e2e import APP, EDIT, PLAN, VERIFY, approve, plan, rename_handler
from tinygen.cli import cli
from tinygen.errors import ExitCode


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(APP)


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    """A price table where a run costs dollars, so limits are easy to read."""
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"claude-sonnet": {"input": 100, "output": 500}}))
    return path


def invoke(fake: FakeAnthropic, repo: Path, *args: str, prices: Path | None = None) -> Result:
    env = {
        "ANTHROPIC_API_KEY": fake.api_key,
        "ANTHROPIC_BASE_URL": fake.base_url,
        "TINYGEN_MODEL": "claude-sonnet-4-6",
        "TINYGEN_MAX_TOKENS": "300",
    }
    if prices is not None:
        env["TINYGEN_PRICES_FILE"] = str(prices)
    return CliRunner().invoke(
        cli, ["run", *args, "--repo", str(repo)], env=env, catch_exceptions=False
    )


def script(fake: FakeAnthropic) -> None:
    fake.script(
        PLAN,
        plan(
            ("app/main.py", "modify", "Rename load_cfg."),
            ("app/cli.py", "modify", "Rename load_cfg."),
        ),
    )
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.on(VERIFY, lambda request: approve())


def test_estimate_prints_the_projection_and_calls_no_model(fake: FakeAnthropic, repo: Path) -> None:
    result = invoke(fake, repo, "Rename `load_cfg` to `load_config`", "--estimate", "--vote", "3")
    assert result.exit_code == 0, result.stderr
    assert len(fake.requests) == 0
    for word in ("brainstorm", "edit", "verify", "total", "range:", "vote:   3"):
        assert word in result.stdout
    data = json.loads(
        invoke(fake, repo, "Rename `load_cfg` to `load_config`", "--estimate", "--json").stdout
    )
    assert len(fake.requests) == 0
    assert data["status"] == "estimated" and data["exit_code"] == 0 and data["run_id"] is None
    estimate = data["estimate"]
    assert [p["pass"] for p in estimate["passes"]] == ["brainstorm", "edit", "verify"]
    assert estimate["files"]["expected"] == 3  # load_cfg: defined in one file, used in two
    assert 0 < estimate["cost_low_usd"] <= estimate["cost_usd"] <= estimate["cost_high_usd"]


def test_a_voted_run_records_its_samples_and_votes(fake: FakeAnthropic, repo: Path) -> None:
    script(fake)
    result = invoke(fake, repo, "Rename load_cfg", "--vote", "2", "--max-rounds", "1", "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "approved" and not data["low_agreement"]
    forced = [r.tool for r in fake.requests]
    assert forced.count(EDIT) == 4 and forced.count(VERIFY) == 2  # k samples per vote
    for edit in data["files"]:
        assert edit["vote"]["samples"] == 2 and edit["vote"]["margin"] == 2
    assert data["verdict"]["vote"]["votes"] == {"approve": 2}
    # samples of one file share a cached prompt: later samples read it back
    edits = [r for r in fake.requests if r.tool == EDIT]
    assert all(r.cache_breakpoints == 3 for r in edits)
    shown = CliRunner().invoke(cli, ["runs", "show", data["run_id"], "--repo", str(repo)])
    assert "vote:     app/main.py: 2 sample(s), votes:" in shown.stdout
    assert "margin 2 (k=2, confidence 1.0), decided" in shown.stdout
    assert "vote:     review:" in shown.stdout
    assert "(estimated $" in shown.stdout


def test_max_cost_stops_the_run_and_never_passes_the_limit(
    fake: FakeAnthropic, repo: Path, prices: Path
) -> None:
    script(fake)
    full = invoke(fake, repo, "Rename load_cfg", "--max-rounds", "1", "--json", prices=prices)
    assert full.exit_code == ExitCode.OK, full.stderr
    whole = json.loads(full.stdout)
    spent_all, calls_all = whole["cost_usd"], whole["usage"]["calls"]
    outcomes: list[dict[str, Any]] = []
    for share in (0.1, 0.9, 1.3, 1.8, 2.5, 30.0):
        limit = round(spent_all * share, 4)
        before = len(fake.requests)
        script(fake)
        result = invoke(
            fake, repo, "Rename load_cfg", "--max-rounds", "1", "--max-cost", str(limit),
            "--json", prices=prices,
        )  # fmt: skip
        data = json.loads(result.stdout)
        made = len(fake.requests) - before
        assert data["cost_usd"] <= limit, (limit, data["cost_usd"])
        assert data["usage"]["calls"] == made and data["max_cost"] == limit
        if data["status"] == "budget_exceeded":
            assert result.exit_code == ExitCode.BUDGET_EXCEEDED == data["exit_code"] == 11
            assert made < calls_all
            assert "cost limit" in data["message"]
            assert "stopped at the cost limit" in result.stderr
        else:
            assert result.exit_code == ExitCode.OK and data["status"] == "approved"
        outcomes.append(data)
    statuses = [d["status"] for d in outcomes]
    assert statuses[-1] == "approved" and statuses[0] == "budget_exceeded"
    # the limit fell mid-run at least once: some calls were made, then the run stopped
    assert any(d["status"] == "budget_exceeded" and d["usage"]["calls"] > 0 for d in outcomes)


def test_the_summary_line_shows_the_estimate_and_the_limit(
    fake: FakeAnthropic, repo: Path, prices: Path
) -> None:
    script(fake)
    result = invoke(
        fake, repo, "Rename load_cfg", "--max-rounds", "1", "--max-cost", "1000", prices=prices
    )
    assert result.exit_code == ExitCode.OK, result.stderr
    assert "; estimated $" in result.stderr and "; limit $1000.0000" in result.stderr


def test_bad_values_are_refused_before_any_call(fake: FakeAnthropic, repo: Path) -> None:
    for args in (["--max-cost", "0"], ["--vote", "-1"]):
        result = invoke(fake, repo, "Rename load_cfg", *args)
        assert result.exit_code == ExitCode.USAGE, result.stderr
    result = CliRunner().invoke(
        cli,
        ["run", "Rename", "--repo", str(repo), "--vote", "9"],
        env={"ANTHROPIC_API_KEY": fake.api_key, "ANTHROPIC_BASE_URL": fake.base_url},
    )
    assert result.exit_code == ExitCode.CONFIG
    assert "max-samples (8) must be at least 1 and at least vote (9)" in result.stderr
    assert len(fake.requests) == 0


def test_a_model_without_a_price_cannot_run_under_a_limit(fake: FakeAnthropic, repo: Path) -> None:
    fake.script(PLAN, ToolReply({"summary": "s", "title": "t", "files": []}))
    result = CliRunner().invoke(
        cli,
        ["run", "Rename", "--repo", str(repo), "--max-cost", "1", "--model", "claude-mystery-1"],
        env={"ANTHROPIC_API_KEY": fake.api_key, "ANTHROPIC_BASE_URL": fake.base_url},
    )
    assert result.exit_code == ExitCode.CONFIG, result.stderr
    assert "needs the price of claude-mystery-1" in result.stderr
    assert "TINYGEN_PRICES_FILE" in result.stderr and "--max-cost" in result.stderr
    assert len(fake.requests) == 0
