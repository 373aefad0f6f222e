"""action.yml and the workflows: valid against GitHub's schemas (vendored in
check-jsonschema, offline), inputs reach code only through env, least permissions."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def schema_check(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
    )


def test_action_matches_the_github_actions_schema() -> None:
    proc = schema_check("vendor.github-actions", ACTION)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflows_match_the_github_workflows_schema() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"tinygen.yml", "action-selftest.yml"} <= names
    proc = schema_check("vendor.github-workflows", *WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "action.yml"
    bad.write_text("name: x\nruns:\n  using: composite\n  steps: 3\n")
    assert schema_check("vendor.github-actions", bad).returncode != 0


def _scripts(steps: list[dict[str, Any]]) -> list[str]:
    return [s["run"] for s in steps if "run" in s]


def test_no_expression_inside_any_script() -> None:
    action = load(ACTION)
    scripts = _scripts(action["runs"]["steps"])
    for wf in WORKFLOWS:
        for job in load(wf)["jobs"].values():
            scripts += _scripts(job.get("steps", []))
    assert len(scripts) >= 3
    for script in scripts:
        assert "${{" not in script, script


def test_every_input_reaches_the_code_as_an_environment_variable() -> None:
    action = load(ACTION)
    steps = action["runs"]["steps"]
    env_values = " ".join(str(v) for s in steps for v in (s.get("env") or {}).values())
    with_values = " ".join(str(v) for s in steps for v in (s.get("with") or {}).values())
    for name in action["inputs"]:
        assert f"inputs.{name}" in env_values + with_values, name
    run_env = next(s for s in steps if s.get("id") == "tinygen")["env"]
    assert run_env["ANTHROPIC_API_KEY"] == "${{ inputs.anthropic-api-key }}"
    assert run_env["GITHUB_TOKEN"] == "${{ inputs.github-token }}"
    issue_inputs = {
        "anthropic-api-key", "github-token", "model", "label", "trigger-phrase", "base-branch",
        "max-rounds", "checks", "allowed-paths", "protected-paths", "draft", "allowed-bots",
    }  # fmt: skip
    assert issue_inputs <= set(action["inputs"])
    assert {"status", "pr-url", "branch", "diff-path", "run-id"} <= set(action["outputs"])


def test_pip_downloads_are_cached_per_pyproject() -> None:
    steps = load(ACTION)["runs"]["steps"]
    cache = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache@"))
    # hashFiles() sees only the workspace, not the action's folder: the key is computed
    key_step = next(s for s in steps if s.get("id") == "cache-key")
    assert "$GITHUB_ACTION_PATH/pyproject.toml" in key_step["run"]
    assert "steps.cache-key.outputs.key" in cache["with"]["key"]
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert install["env"]["PIP_CACHE_DIR"] == cache["with"]["path"]
    assert steps.index(cache) < steps.index(install)


def test_the_cache_key_script_writes_a_key(tmp_path: Path) -> None:
    steps = load(ACTION)["runs"]["steps"]
    script = next(s for s in steps if s.get("id") == "cache-key")["run"]
    output = tmp_path / "output"
    env = {
        "PATH": "/usr/bin:/bin",
        "TINYGEN_SETUP_PYTHON": sys.executable,
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_OUTPUT": str(output),
    }
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", script], env=env)
    assert proc.returncode == 0
    assert re.fullmatch(r"key=[0-9a-f]{20}\n", output.read_text())


def test_python_setup_leaves_the_job_environment_alone() -> None:
    steps = load(ACTION)["runs"]["steps"]
    setup = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert str(setup["with"]["update-environment"]).lower() == "false"
    scripts = "\n".join(_scripts(steps))
    assert "$RUNNER_TEMP/tinygen-venv" in scripts and "-m venv" in scripts
    assert "-m tinygen action" in scripts


def test_user_workflow_triggers_permissions_and_filter() -> None:
    wf = load(ROOT / ".github" / "workflows" / "tinygen.yml")
    on = wf["on"]
    assert on["issues"]["types"] == ["labeled"]
    assert on["issue_comment"]["types"] == ["created"]
    assert "prompt" in on["workflow_dispatch"]["inputs"]
    assert wf["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "issues": "write",
    }
    job = wf["jobs"]["tinygen"]
    # the cheap filter lets through everything the code would accept (its defaults)
    assert "github.event.label.name == 'tinygen'" in job["if"]
    assert "contains(github.event.comment.body, '/tinygen')" in job["if"]
    # ... and stops bots and tinygen's own comments before a runner starts
    assert "github.event.comment.user.type != 'Bot'" in job["if"]
    assert "!contains(github.event.comment.body, '<!-- tinygen -->')" in job["if"]
    # Concurrency on the job, after its filter: at the workflow level every comment on the
    # issue would join the group, and GitHub keeps one pending run per group, cancelling
    # the older one — an unrelated comment could drop a /tinygen request.
    assert "concurrency" not in wf
    assert "issue.number" in job["concurrency"]["group"]
    assert job["concurrency"]["cancel-in-progress"] is False
    assert any(s.get("uses") == "./" for s in job["steps"])


def test_selftest_runs_the_action_with_dry_run() -> None:
    wf = load(ROOT / ".github" / "workflows" / "action-selftest.yml")
    steps = [s for job in wf["jobs"].values() for s in job["steps"]]
    uses_self = [s for s in steps if s.get("uses") == "./"]
    assert uses_self and all(s["with"]["dry-run"] == "true" for s in uses_self)
    for s in uses_self:
        assert (ROOT / s["with"]["event-path"]).is_file()


@pytest.mark.parametrize("path", [ACTION, *WORKFLOWS], ids=lambda p: p.name)
def test_no_secret_is_hard_coded(path: Path) -> None:
    text = path.read_text()
    assert not re.search(r"sk-ant-|gh[pousr]_[A-Za-z0-9]{20}", text)


def _summary_cache_steps() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    steps = load(ACTION)["runs"]["steps"]
    restore = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache/restore@"))
    save = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache/save@"))
    return steps, restore, save


def test_summaries_are_cached_by_the_tree_of_the_checked_out_commit() -> None:
    steps, restore, save = _summary_cache_steps()
    run = next(s for s in steps if s.get("id") == "tinygen")
    key_step = next(s for s in steps if s.get("id") == "summaries-key")
    assert "HEAD^{tree}" in key_step["run"]
    # one key for both, holding the tree; the folder is the one tinygen is told about
    key = restore["with"]["key"]
    assert key == save["with"]["key"] and "steps.summaries-key.outputs.tree" in key
    assert restore["with"]["path"] == save["with"]["path"] == run["env"]["TINYGEN_ACTION_CACHE"]
    # a new tree starts from the newest entry of the same tree, else of any tree
    prefixes = restore["with"]["restore-keys"].strip().splitlines()
    assert len(prefixes) == 2 and all(key.startswith(p) for p in prefixes)
    assert prefixes[0].startswith(prefixes[1]) and "outputs.tree" in prefixes[0]
    assert steps.index(key_step) < steps.index(restore) < steps.index(run) < steps.index(save)


def test_the_summary_cache_never_fails_the_action() -> None:
    steps, restore, save = _summary_cache_steps()
    key_step = next(s for s in steps if s.get("id") == "summaries-key")
    for step in (key_step, restore, save):
        assert step["continue-on-error"] is True, step
    # saved only when tinygen changed the folder, and also after a failed run (a refresh
    # stopped by its cost limit keeps what it made)
    assert "always()" in save["if"]
    assert "steps.tinygen.outputs.summaries-cache == 'changed'" in save["if"]


def _tree_key(workspace: Path, tmp_path: Path) -> tuple[int, str]:
    script = next(s for s in load(ACTION)["runs"]["steps"] if s.get("id") == "summaries-key")
    output = tmp_path / "output"
    output.write_text("")
    env = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_SHA": "c0ffee" * 6 + "c0ff",
        "GITHUB_OUTPUT": str(output),
        "HOME": str(tmp_path),
    }
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", script["run"]], env=env)
    return proc.returncode, output.read_text()


def test_the_tree_key_script(tmp_path: Path, make_repo: Any) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    tree = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD^{tree}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert _tree_key(repo, tmp_path) == (0, f"tree={tree}\n")
    # no checkout: the commit stands in for its tree
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _tree_key(empty, tmp_path) == (0, f"tree=commit-{'c0ffee' * 6}c0ff\n")
