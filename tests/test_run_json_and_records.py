"""`tinygen run --json` has one shape whatever happens, and `tinygen runs` finds every run:
the real CLI, the real anthropic SDK against the local fake, real repositories."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fakes.anthropic_server import ErrorReply, FakeAnthropic, ToolReply
from tests.test_pipeline_e2e import APP, EDIT, PLAN, VERIFY, approve, invoke, plan, rename_reply
from tinygen.cli import cli
from tinygen.errors import ExitCode


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(APP)


def script_rename(fake: FakeAnthropic) -> None:
    fake.script(PLAN, plan(("app/main.py", "modify", "Rename load_cfg.")))
    fake.script(EDIT, rename_reply("app/main.py", "load_cfg", "load_config"))
    fake.script(VERIFY, approve())


def test_json_has_one_shape_on_success_failure_and_early_error(
    fake: FakeAnthropic, repo: Path
) -> None:
    script_rename(fake)
    ok = invoke(fake, repo, "Rename load_cfg in main", "--json")
    assert ok.exit_code == ExitCode.OK, ok.stderr
    success = json.loads(ok.stdout)

    # the plan is made, then the edit call fails for good: a failure after paid calls
    fake.script(PLAN, plan(("app/main.py", "modify", "Rename load_cfg.")))
    fake.on(EDIT, lambda request: ErrorReply(400, "invalid_request_error", "bad request"))
    bad = invoke(fake, repo, "Rename load_cfg in main", "--json")
    assert bad.exit_code == ExitCode.LLM, bad.stderr
    failure = json.loads(bad.stdout)

    early = invoke(fake, repo, "Rename", "--json", "--ref", "no-such-branch")
    assert early.exit_code == ExitCode.REPO, early.stderr
    before = json.loads(early.stdout)

    assert set(success) == set(failure) == set(before)
    assert success["error"] is None and success["exit_code"] == 0
    assert success["usage"]["calls"] == 3 and success["cost_usd"] is not None
    # the failed run still says what it spent: the plan call and the failed edit call
    assert failure["status"] == "failed" and failure["error_type"] == "LLMError"
    assert failure["usage"]["calls"] >= 1 and failure["usage"]["input_tokens"] > 0
    assert failure["cost_usd"] is not None and failure["run_id"]
    assert failure["plan"]["files"][0]["path"] == "app/main.py"
    # nothing was run before the bad ref was refused: no run id, nothing spent
    assert before["run_id"] is None and before["usage"]["calls"] == 0
    assert before["error_type"] == "RefNotFoundError" and before["exit_code"] == ExitCode.REPO
    # and an estimate that cannot start says so in the same shape
    estimate = invoke(fake, repo, "Rename", "--estimate", "--json", "--ref", "no-such-branch")
    assert estimate.exit_code == ExitCode.REPO, estimate.stderr
    refused = json.loads(estimate.stdout)
    assert set(refused) == set(before) and refused["error_type"] == "RefNotFoundError"


def test_runs_finds_runs_made_on_a_bare_repository(
    fake: FakeAnthropic, repo: Path, bare_remote: Callable[[Path], Path]
) -> None:
    bare = bare_remote(repo)
    script_rename(fake)
    result = CliRunner().invoke(
        cli,
        ["run", "Rename load_cfg in main", "--repo", str(bare), "--json"],
        env={"ANTHROPIC_API_KEY": fake.api_key, "ANTHROPIC_BASE_URL": fake.base_url},
        catch_exceptions=False,
    )
    assert result.exit_code == ExitCode.OK, result.stderr
    run_id = json.loads(result.stdout)["run_id"]

    listed = CliRunner().invoke(cli, ["runs", "--repo", str(bare)], catch_exceptions=False)
    assert listed.exit_code == 0 and run_id in listed.stdout, listed.stderr
    shown = CliRunner().invoke(
        cli, ["runs", "show", run_id[:15], "--repo", str(bare)], catch_exceptions=False
    )
    assert shown.exit_code == 0 and f"run:      {run_id}" in shown.stdout
    # the checkout itself has no runs, and says where it looked
    here = CliRunner().invoke(cli, ["runs", "--repo", str(repo)], catch_exceptions=False)
    assert "no runs recorded yet" in here.stderr and str(repo / ".git") in here.stderr


def test_runs_show_says_why_an_edit_was_not_placed(fake: FakeAnthropic, repo: Path) -> None:
    fake.script(PLAN, plan(("app/main.py", "modify", "Rename load_cfg.")))
    missing = "--- a/app/main.py\n+++ b/app/main.py\n@@ @@\n-no such line\n+x\n"
    fake.on(EDIT, lambda request: ToolReply({"diff": missing}))
    result = invoke(fake, repo, "Rename", "--json")
    assert result.exit_code == ExitCode.PATCH, result.stderr
    run_id = json.loads(result.stdout)["run_id"]
    shown = CliRunner().invoke(cli, ["runs", "--repo", str(repo), "show", run_id])
    assert "not placed: app/main.py (after 3 attempt(s)):" in shown.stdout
    assert "no such line" in shown.stdout


def test_the_json_output_table_documents_every_key() -> None:
    from tinygen.commands._json import run_json

    text = (Path(__file__).parent.parent / "docs/cli.md").read_text()
    section = text.split("### JSON output", 1)[1].split("\n## ", 1)[0]
    documented = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
    assert documented == list(run_json(None, None, None))  # every key, in order
