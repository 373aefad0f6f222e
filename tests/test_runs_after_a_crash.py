"""What a killed run leaves is cleaned up (issue 12 item 4), and `tinygen runs` reads past a
broken record (item 6).

A real `tinygen run` (or `tinygen serve`) process is killed with SIGKILL while its model
call hangs on the fake Messages API (the wait is on counted facts: the request reached the
fake); the next run (or server) removes the temporary worktree the dead one left registered
with git and on disk, and marks its record interrupted. Real git, the real CLI, the real
anthropic SDK."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests import test_server_api as api
from tests.fakes.anthropic_server import FakeAnthropic, SlowReply, ToolReply
from tests.helpers import git
from tests.test_server_api import Gate, no_change
from tests.test_server_restart import start_process
from tinygen.cli import cli
from tinygen.errors import ExitCode
from tinygen.owner import Owner
from tinygen.repo.clone import default_cache_dir
from tinygen.runs import RunRecorder, list_runs, runs_root
from tinygen.server.config import ServerConfig
from tinygen.server.prune import cached_repositories
from tinygen.server.serving import RunningServer
from tinygen.server.worker import RESTART_REASON

# The server tests' fixtures, shared by name.
config = api.config
repo_url = api.repo_url
serve = api.serve

PLAN = "submit_plan"
FILES = {"app.py": "def answer() -> int:\n    return 41\n"}
NO_CHANGE = ToolReply({"summary": "Nothing to do.", "title": "Nothing", "files": []})


def worktrees(repo: Path) -> list[Path]:
    """The temporary worktrees registered in ``repo`` (not its own working tree)."""
    listing = git(repo, "worktree", "list", "--porcelain")
    paths = [Path(line[9:]) for line in listing.splitlines() if line.startswith("worktree ")]
    return [p for p in paths if p.resolve() != repo.resolve()]


def record(repo: Path, run_id: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (runs_root(repo / ".git" / "tinygen") / run_id / "run.json").read_text()
    )
    return data


def test_the_next_run_cleans_up_after_a_killed_run(
    fake: FakeAnthropic, make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo(FILES)
    fake.script(PLAN, SlowReply(300, NO_CHANGE))  # the killed run's call never returns
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": fake.api_key,
        "ANTHROPIC_BASE_URL": fake.base_url,
        "TINYGEN_LOOKUP_ROUNDS": "0",
    }
    with open(tmp_path / "run.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tinygen", "run", "Make it 42", "--repo", str(repo)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        assert fake.wait_peak(PLAN, 1, timeout=120), (tmp_path / "run.log").read_text()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    # What the dead run left: a registered worktree on disk, a record that says running.
    [stale] = worktrees(repo)
    assert stale.is_dir()
    [dead] = [r.run_id for r in list_runs(repo / ".git" / "tinygen")]
    assert record(repo, dead)["status"] == "running"
    listed = CliRunner().invoke(cli, ["runs", "--repo", str(repo)])
    assert f"{dead}" in listed.stdout and "interrupted" in listed.stdout  # already said

    fake.script(PLAN, NO_CHANGE)
    result = CliRunner().invoke(
        cli,
        ["run", "Make it 42", "--repo", str(repo)],
        env={
            k: env[k] for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "TINYGEN_LOOKUP_ROUNDS")
        },
        catch_exceptions=False,
    )
    assert result.exit_code == ExitCode.NO_CHANGE, result.stderr
    assert f"marked 1 run(s) interrupted ({dead})" in result.stderr
    assert "removed 1 temporary worktree(s)" in result.stderr
    assert worktrees(repo) == [] and not stale.exists() and not stale.parent.exists()
    data = record(repo, dead)
    assert data["status"] == "interrupted"
    assert data["result"]["status"] == "interrupted"  # type: ignore[index]
    assert f"pid {proc.pid}" in data["result"]["error"]  # type: ignore[index]
    assert not (runs_root(repo / ".git" / "tinygen") / dead / "owner.json").exists()
    # The second run ended normally: nothing of it is left to clean up either.
    assert [r.status for r in list_runs(repo / ".git" / "tinygen")] == ["no_change", "interrupted"]
    again = CliRunner().invoke(
        cli,
        ["run", "Make it 42", "--repo", str(repo)],
        env={
            k: env[k] for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "TINYGEN_LOOKUP_ROUNDS")
        },
    )
    assert "interrupted" not in again.stderr and "temporary worktree" not in again.stderr


def test_live_runs_and_foreign_worktrees_are_left_alone(
    fake: FakeAnthropic, make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    """A record whose process still runs (this one) and a worktree tinygen did not make stay."""
    repo = make_repo(FILES)
    state = repo / ".git" / "tinygen"
    live = RunRecorder(runs_root(state))  # owned by this (living) test process
    mine = tmp_path / "my-worktree"
    git(repo, "worktree", "add", "--detach", "-q", str(mine), "HEAD")
    fake.script(PLAN, NO_CHANGE)
    result = CliRunner().invoke(
        cli,
        ["run", "Make it 42", "--repo", str(repo)],
        env={"ANTHROPIC_API_KEY": fake.api_key, "ANTHROPIC_BASE_URL": fake.base_url},
    )
    assert result.exit_code == ExitCode.NO_CHANGE, result.stderr
    assert "interrupted" not in result.stderr
    assert worktrees(repo) == [mine]
    assert record(repo, live.run_id)["status"] == "running"
    assert (live.dir / "owner.json").is_file()
    assert Owner.current().alive()


def test_runs_lists_past_unreadable_records(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(FILES)
    root = runs_root(repo / ".git" / "tinygen")
    good = []
    for text in ("Make it 42", "Make it 43"):
        rec = RunRecorder(root)
        rec.finish(request={"text": text}, result={"status": "approved", "diff": ""})
        good.append(rec.run_id)
    broken = {
        "20991231-000001-aaaaaa": "{not json",
        "20991231-000002-bbbbbb": "[1, 2]",
        "20991231-000003-cccccc": '{"started": "yesterday", "request": {"text": "x"}}',
        "20991231-000004-dddddd": None,  # a folder without run.json
    }
    for run_id, text in broken.items():
        (root / run_id).mkdir()
        if text is not None:
            (root / run_id / "run.json").write_text(text)
    result = CliRunner().invoke(cli, ["runs", "--repo", str(repo)])
    assert result.exit_code == 0, result.stderr
    assert "no runs recorded yet" not in result.stderr
    for run_id in good:
        assert run_id in result.stdout
    assert "Make it 42" in result.stdout and "Make it 43" in result.stdout
    for run_id in broken:
        assert f"{run_id}  (unreadable record)" in result.stdout
    assert "20991231-000001-aaaaaa/run.json is not valid JSON (line 1" in result.stderr
    assert "20991231-000002-bbbbbb/run.json holds a JSON list" in result.stderr
    assert "20991231-000003-cccccc/run.json: a field has the wrong type" in result.stderr
    assert "20991231-000004-dddddd/run.json is missing" in result.stderr
    shown = CliRunner().invoke(cli, ["runs", "--repo", str(repo), "show", "20991231-000001"])
    assert shown.exit_code == ExitCode.REPO
    assert "unreadable: " in shown.stderr and "not valid JSON" in shown.stderr
    assert "Traceback" not in shown.stderr + result.stderr


def test_a_new_server_cleans_up_after_a_killed_one(
    fake: FakeAnthropic,
    config: ServerConfig,
    serve: Callable[[ServerConfig], RunningServer],
    repo_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`tinygen serve` killed with SIGKILL inside a job's model call; the next server on the
    same database and clone cache removes the job's worktree and marks its record."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", fake.api_key)  # both servers' model API
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
    gate = Gate()
    fake.on(PLAN, gate.handler(no_change))
    proc, port = start_process(config.db_path, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            job = client.post("/jobs", json={"repoUrl": repo_url, "prompt": "alpha"}).json()
            gate.wait_entered()  # the job is inside its model call
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    gate.release.set()
    cache = default_cache_dir()  # where the killed process kept its clones
    [entry] = list(cached_repositories(cache))
    [stale] = worktrees(entry)
    [dead] = [r.run_id for r in list_runs(entry / "tinygen")]
    assert json.loads((entry / "tinygen" / "runs" / dead / "run.json").read_text())["status"] == (
        "running"
    )

    fake.on(PLAN, no_change)
    server = serve(replace(config, workers=1, cache_dir=cache))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        failed = client.get(f"/jobs/{job['id']}").json()
    assert failed["state"] == "failed" and failed["error"]["message"] == RESTART_REASON
    assert worktrees(entry) == [] and not stale.parent.exists()
    data = json.loads((entry / "tinygen" / "runs" / dead / "run.json").read_text())
    assert data["status"] == "interrupted" and f"pid {proc.pid}" in data["result"]["error"]
