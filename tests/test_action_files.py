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
