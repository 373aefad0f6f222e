"""`tinygen run` end to end: the real CLI, the real SDK, a local API server scripted per test,
and real git repositories. Nothing of ours is mocked.

Every test that talks to a model runs twice: against the fake Messages API through the
anthropic SDK, and against the fake Chat Completions API through the openai SDK
(``openai:`` model, OPENAI_BASE_URL). The scripts are the same; so must the diffs be."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.fakes import anthropic_server, openai_server
from tests.fakes.anthropic_server import ErrorReply, FakeAnthropic, SlowReply, ToolReply
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import git, status
from tinygen.cli import cli
from tinygen.errors import ExitCode

PLAN, EDIT, VERIFY = "submit_plan", "write_file_change", "submit_review"
OPENAI_MODEL = "openai:gpt-4.1-mini"  # priced in the table, so costs are known

Fake = FakeAnthropic | FakeOpenAI
RecordedRequest = anthropic_server.RecordedRequest | openai_server.RecordedRequest

APP = {
    "app/__init__.py": '"""A tiny application."""\n',
    "app/config.py": (
        '"""Configuration loading."""\n\nimport json\n\n\n'
        "def load_cfg(path: str) -> dict:\n"
        '    """Read the JSON config at path."""\n'
        "    with open(path) as fh:\n"
        "        return json.load(fh)\n"
    ),
    "app/main.py": (
        "from app.config import load_cfg\n\n\n"
        "def main() -> None:\n"
        '    cfg = load_cfg("app.json")\n'
        '    print(cfg["name"])\n'
    ),
    "app/cli.py": (
        "import sys\n\nfrom app.config import load_cfg\n\n\n"
        "def run(argv: list[str]) -> int:\n"
        "    cfg = load_cfg(argv[1])\n"
        "    return 0 if cfg else 1\n"
    ),
    "README.md": "# app\n",
}


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(APP)


@pytest.fixture(params=["anthropic", "openai"])
def fake(request: pytest.FixtureRequest) -> Iterator[Fake]:
    """The model API of the test: Anthropic's, or an OpenAI-compatible one."""
    with FakeAnthropic() if request.param == "anthropic" else FakeOpenAI() as server:
        yield server


def model_env(fake: Fake) -> dict[str, str]:
    """The environment that points tinygen at ``fake``."""
    if isinstance(fake, FakeOpenAI):
        return {
            "OPENAI_API_KEY": str(fake.api_key),
            "OPENAI_BASE_URL": fake.base_url,
            "TINYGEN_MODEL": OPENAI_MODEL,
        }
    return {"ANTHROPIC_API_KEY": fake.api_key, "ANTHROPIC_BASE_URL": fake.base_url}


def invoke(fake: Fake, repo: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    environ = {
        **model_env(fake),
        "TINYGEN_MAX_RETRY_WAIT": "0.05",
        "TINYGEN_MAX_RETRY_TOTAL": "0.5",
        **(env or {}),
    }
    return CliRunner().invoke(
        cli, ["run", *args, "--repo", str(repo)], env=environ, catch_exceptions=False
    )


def plan(*files: tuple[str, str, str], summary: str = "Do it.", title: str = "Do it") -> ToolReply:
    return ToolReply(
        {
            "summary": summary,
            "title": title,
            "files": [{"path": p, "action": a, "intent": i} for p, a, i in files],
        }
    )


def approve(summary: str = "Looks right.") -> ToolReply:
    return ToolReply({"approved": True, "summary": summary, "revisions": []})


def file_of(request: RecordedRequest) -> str:
    """Which file a per-file request is about (the edit prompt names it)."""
    match = re.search(r"The file you change now: `([^`]+)`", request.text)
    assert match, request.text[-500:]
    return match.group(1)


def diff_replacing(path: str, old: str, new: str, text: str) -> str:
    """A loose diff as models write it: no line numbers, a/ b/ prefixes, one context line."""
    lines = text.splitlines()
    out = [f"--- a/{path}", f"+++ b/{path}"]
    for i, line in enumerate(lines):
        if old in line:
            out.append("@@ ... @@")
            if i > 0:
                out.append(" " + lines[i - 1])
            out.append("-" + line)
            out.append("+" + line.replace(old, new))
    return "\n".join(out) + "\n"


def rename_reply(path: str, old: str, new: str) -> ToolReply:
    return ToolReply(
        {"diff": diff_replacing(path, old, new, APP[path]), "notes": f"renamed in {path}"}
    )


def rename_handler(old: str, new: str) -> Callable[[RecordedRequest], ToolReply]:
    return lambda request: rename_reply(file_of(request), old, new)


def apply_check(repo: Path, diff: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "apply", "--check", "-"], cwd=repo, input=diff, text=True, capture_output=True
    )


def test_rename_across_three_files(fake: Fake, repo: Path) -> None:
    fake.script(
        PLAN,
        plan(
            ("app/config.py", "modify", "Rename load_cfg to load_config."),
            ("app/main.py", "modify", "Use load_config."),
            ("app/cli.py", "modify", "Use load_config."),
            title="Rename load_cfg to load_config",
        ),
    )
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.script(VERIFY, approve())
    before = status(repo)

    result = invoke(fake, repo, "Rename load_cfg to load_config everywhere")

    assert result.exit_code == ExitCode.OK, result.stderr
    diff = result.stdout
    assert diff.count("diff --git") == 3
    assert (
        "-def load_cfg(path: str) -> dict:" in diff
        and "+def load_config(path: str) -> dict:" in diff
    )
    assert "+from app.config import load_config" in diff
    assert apply_check(repo, diff).returncode == 0
    assert status(repo) == before, "the user's checkout must not change"
    # One call per planned file, and the per-file calls carry the plan and read the cache.
    edits = fake.requests_for(EDIT)
    assert sorted(file_of(r) for r in edits) == ["app/cli.py", "app/config.py", "app/main.py"]
    brainstorm = fake.requests_for(PLAN)[0]
    assert "app/config.py" in brainstorm.system_text and "load_cfg" in brainstorm.system_text
    if isinstance(fake, FakeAnthropic):  # OpenAI caches prefixes without markers
        assert brainstorm.body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert all("Rename load_cfg to load_config" in r.text for r in edits)  # the plan
    assert all(r.cache_read_tokens > 0 for r in edits), [r.usage for r in edits]
    assert edits[0].tool_names == [PLAN, EDIT, VERIFY]
    assert "approved" in result.stderr


def test_new_module_wired_into_an_existing_one(fake: Fake, repo: Path) -> None:
    fake.script(
        PLAN,
        plan(
            ("app/greet.py", "create", "def greet(name) returning 'Hello, name!'."),
            ("app/main.py", "modify", "Print greet(cfg['name'])."),
        ),
    )

    def edit(request: RecordedRequest) -> ToolReply:
        if file_of(request) == "app/greet.py":
            return ToolReply(
                {"content": 'def greet(name: str) -> str:\n    return f"Hello, {name}!"\n'}
            )
        return ToolReply(
            {
                "diff": (
                    "```diff\n--- app/main.py\n+++ app/main.py\n@@ -1,6 +1,7 @@\n"
                    " from app.config import load_cfg\n+from app.greet import greet\n\n\n def main() -> None:\n"
                    '     cfg = load_cfg("app.json")\n-    print(cfg["name"])\n+    print(greet(cfg["name"]))\n```\n'
                )
            }
        )

    fake.on(EDIT, edit)
    fake.script(VERIFY, approve())
    result = invoke(fake, repo, "Greet the user by name", "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "approved"
    assert "new file mode 100644" in data["diff"] and "+++ b/app/greet.py" in data["diff"]
    assert "+from app.greet import greet" in data["diff"]
    assert apply_check(repo, data["diff"]).returncode == 0
    assert data["usage"]["calls"] == 4
    assert {f["path"] for f in data["files"]} == {"app/greet.py", "app/main.py"}


def test_unplaceable_diff_is_fixed_after_feedback(fake: Fake, repo: Path) -> None:
    fake.script(PLAN, plan(("app/main.py", "modify", "Print the name in upper case.")))
    bad = '--- a/app/main.py\n+++ b/app/main.py\n@@ @@\n-    print(cfg["title"])\n+    print(cfg["title"].upper())\n'
    good = '--- a/app/main.py\n+++ b/app/main.py\n@@ @@\n-    print(cfg["name"])\n+    print(cfg["name"].upper())\n'
    fake.script(EDIT, ToolReply({"diff": bad}), ToolReply({"diff": good}))
    fake.script(VERIFY, approve())
    result = invoke(fake, repo, "Print the name in upper case")
    assert result.exit_code == ExitCode.OK, result.stderr
    assert '+    print(cfg["name"].upper())' in result.stdout
    retry = fake.requests_for(EDIT)[1]
    # The feedback quotes the real line the model should have used.
    assert "could not be applied" in retry.text and 'print(cfg["name"])' in retry.text


def test_verify_round_asks_for_a_revision(fake: Fake, repo: Path) -> None:
    fake.script(
        PLAN,
        plan(
            ("app/config.py", "modify", "Rename load_cfg to load_config."),
            ("app/main.py", "modify", "Use it."),
        ),
    )
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.script(
        VERIFY,
        ToolReply(
            {
                "approved": False,
                "summary": "app/cli.py still calls load_cfg.",
                "revisions": [{"path": "app/cli.py", "feedback": "Use load_config here too."}],
            }
        ),
        approve("All callers renamed."),
    )
    result = invoke(fake, repo, "Rename load_cfg to load_config", "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    data = json.loads(result.stdout)
    assert data["rounds"] == 2 and data["verdict"]["approved"]
    assert "+from app.config import load_config" in data["diff"].split("+++ b/app/cli.py")[1]
    revision = [r for r in fake.requests_for(EDIT) if file_of(r) == "app/cli.py"]
    assert len(revision) == 1 and "Use load_config here too." in revision[0].text
    # The second review sees the revised diff.
    assert "app/cli.py" in fake.requests_for(VERIFY)[1].text


def test_unapproved_after_last_round_still_returns_the_diff(fake: Fake, repo: Path) -> None:
    fake.script(PLAN, plan(("app/config.py", "modify", "Rename.")))
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    no = ToolReply(
        {
            "approved": False,
            "summary": "Callers break.",
            "revisions": [{"path": "app/main.py", "feedback": "x"}],
        }
    )
    fake.script(VERIFY, no)
    result = invoke(fake, repo, "Rename load_cfg", "--max-rounds", "1")
    assert result.exit_code == ExitCode.UNAPPROVED
    assert "+def load_config" in result.stdout
    assert "not approved after 1 round" in result.stderr


def test_overload_recovers(fake: Fake, repo: Path) -> None:
    fake.script(
        PLAN,
        ErrorReply.overloaded(),
        ErrorReply.rate_limited(0.01),
        plan(("app/main.py", "modify", "x")),
    )
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.script(VERIFY, approve())
    result = invoke(fake, repo, "Rename in main", "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    assert len(fake.requests_for(PLAN)) == 3


def test_api_that_stays_down_fails_clearly(fake: Fake, repo: Path) -> None:
    fake.on(PLAN, lambda request: ErrorReply.overloaded())
    result = invoke(fake, repo, "Rename load_cfg")
    assert result.exit_code == ExitCode.LLM
    assert result.stdout == ""
    assert "overloaded" in result.stderr.lower()
    assert fake.api_key not in result.stderr


def test_plan_naming_a_path_outside_the_repository_is_refused(fake: Fake, repo: Path) -> None:
    fake.script(PLAN, plan(("../outside.py", "create", "escape")))
    before = status(repo)
    result = invoke(fake, repo, "Write outside")
    assert result.exit_code == ExitCode.PATCH
    assert "outside" in result.stderr
    assert not (repo.parent / "outside.py").exists()
    assert fake.requests_for(EDIT) == []
    assert status(repo) == before


def test_request_that_needs_no_change(fake: Fake, repo: Path) -> None:
    fake.script(
        PLAN,
        ToolReply(
            {"summary": "load_cfg already reads JSON.", "title": "Nothing to do", "files": []}
        ),
    )
    result = invoke(fake, repo, "Make load_cfg read JSON")
    assert result.exit_code == ExitCode.NO_CHANGE
    assert result.stdout == ""
    assert "already reads JSON" in result.stderr


def test_brainstorm_may_read_files_first(fake: Fake, repo: Path) -> None:
    fake.script(
        PLAN,
        ToolReply({"read_files": ["app/cli.py", "../etc/passwd"]}),
        plan(("app/cli.py", "modify", "Rename.")),
    )
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.script(VERIFY, approve())
    result = invoke(fake, repo, "Rename load_cfg in the command line tool")
    assert result.exit_code == ExitCode.OK, result.stderr
    second = fake.requests_for(PLAN)[1]
    assert '<file path="app/cli.py">' in second.text and "def run(argv" in second.text
    assert "passwd" not in second.text.split("The files you asked to read")[1]


def test_run_record_and_runs_command(fake: Fake, repo: Path) -> None:
    fake.script(PLAN, plan(("app/main.py", "modify", "Rename.")))
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.script(VERIFY, approve())
    result = invoke(fake, repo, "Rename load_cfg in main", "--json")
    run_id = json.loads(result.stdout)["run_id"]
    record_dir = repo / ".git" / "tinygen" / "runs" / run_id
    calls = (record_dir / "calls.jsonl").read_text().splitlines()
    assert [json.loads(c)["label"] for c in calls] == ["brainstorm", "edit:app/main.py", "verify"]
    assert fake.api_key not in (record_dir / "calls.jsonl").read_text()
    listing = CliRunner().invoke(cli, ["runs", "--repo", str(repo)])
    assert run_id in listing.stdout and "approved" in listing.stdout
    shown = CliRunner().invoke(cli, ["runs", "--repo", str(repo), "show", run_id[:17]])
    assert "+from app.config import load_config" in shown.stdout
    assert not list(repo.glob("**/diff.patch")) or all(
        ".git" in str(p) for p in repo.glob("**/diff.patch")
    )


def test_missing_api_key_is_a_configuration_error(repo: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", "x", "--repo", str(repo)], env={"ANTHROPIC_API_KEY": ""}
    )
    assert result.exit_code == ExitCode.CONFIG
    assert "ANTHROPIC_API_KEY" in result.stderr


def test_request_from_file_and_stdin(fake: Fake, repo: Path, tmp_path: Path) -> None:
    fake.on(PLAN, lambda request: ToolReply({"summary": "nothing", "title": "t", "files": []}))
    req = tmp_path / "req.txt"
    req.write_text("Please rename the thing from a file\n")
    assert invoke(fake, repo, f"@{req}").exit_code == ExitCode.NO_CHANGE
    assert "rename the thing from a file" in fake.requests_for(PLAN)[-1].system_text
    environ = model_env(fake)
    result = CliRunner().invoke(
        cli, ["run", "-", "--repo", str(repo)], input="from stdin please\n", env=environ
    )
    assert result.exit_code == ExitCode.NO_CHANGE
    assert "from stdin please" in fake.requests_for(PLAN)[-1].system_text
    empty = CliRunner().invoke(cli, ["run", "   ", "--repo", str(repo)], env=environ)
    assert empty.exit_code == ExitCode.USAGE and "empty" in empty.stderr


def test_not_a_repository(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", "x", "--repo", str(tmp_path)], env={"ANTHROPIC_API_KEY": "k" * 20}
    )
    assert result.exit_code == ExitCode.REPO
    assert str(tmp_path) in result.stderr


def test_head_is_the_default_base_and_ref_selects_another(fake: Fake, repo: Path) -> None:
    git(repo, "tag", "v1")
    (repo / "app" / "new.py").write_text("X = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "second")
    fake.on(PLAN, lambda request: ToolReply({"summary": "n", "title": "t", "files": []}))
    invoke(fake, repo, "look")
    assert "app/new.py" in fake.requests_for(PLAN)[-1].system_text
    invoke(fake, repo, "look", "--ref", "v1")
    assert "app/new.py" not in fake.requests_for(PLAN)[-1].system_text


def test_syntax_error_fails_validation_and_reaches_the_reviewer(fake: Fake, repo: Path) -> None:
    fake.script(PLAN, plan(("app/main.py", "modify", "Break it.")))
    broken = '--- a/app/main.py\n+++ b/app/main.py\n@@ @@\n-    print(cfg["name"])\n+    print(cfg["name"]\n'
    fake.on(EDIT, lambda request: ToolReply({"diff": broken}))
    fake.on(VERIFY, lambda request: approve())
    result = invoke(fake, repo, "Print the name", "--max-rounds", "1")
    assert result.exit_code == ExitCode.PATCH, result.stderr
    assert "validation failed" in result.stderr
    assert "Gate: FAILED" in fake.requests_for(VERIFY)[0].text
    assert "syntax" in fake.requests_for(VERIFY)[0].text


def test_failing_check_output_reaches_the_reviewer_without_secrets(fake: Fake, repo: Path) -> None:
    fake.script(PLAN, plan(("app/main.py", "modify", "Rename.")))
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.on(VERIFY, lambda request: approve())
    check = "echo key=${ANTHROPIC_API_KEY:-unset}${OPENAI_API_KEY:-}; grep -rq load_config app/main.py && echo renamed; exit 3"
    result = invoke(fake, repo, "Rename in main", "--check", check, "--max-rounds", "1")
    assert result.exit_code == ExitCode.CHECKS_FAILED, result.stderr
    review = fake.requests_for(VERIFY)[0].text
    assert "exit 3" in review and "renamed" in review  # ran on the changed tree
    assert "key=unset" in review  # the check never sees the API key


def test_check_that_passes(fake: Fake, repo: Path) -> None:
    fake.script(PLAN, plan(("app/main.py", "modify", "Rename.")))
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.script(VERIFY, approve())
    result = invoke(
        fake, repo, "Rename in main", "--check", "grep -q load_config app/main.py", "--json"
    )
    assert result.exit_code == ExitCode.OK, result.stderr
    checks = json.loads(result.stdout)["checks"]
    assert len(checks) == 1 and checks[0]["exit_code"] == 0


# ---- review fixes ----------------------------------------------------------------------


def test_symlinked_files_are_never_read_into_prompts(fake: Fake, make_repo, tmp_path: Path) -> None:
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("TOP-SECRET-VALUE\n")
    repo = make_repo(APP, commit=False)
    (repo / "app" / "notes.txt").symlink_to(secret)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "with a link")
    fake.script(
        PLAN,
        ToolReply({"read_files": ["app/notes.txt"]}),
        ToolReply({"summary": "s", "title": "t", "files": [
            {"path": "app/main.py", "action": "modify", "intent": "x", "see_also": ["app/notes.txt"]}]}),
    )  # fmt: skip
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.script(VERIFY, approve())
    result = invoke(fake, repo, "Copy app/notes.txt into the docs")
    assert result.exit_code == ExitCode.OK, result.stderr
    assert all("TOP-SECRET-VALUE" not in r.text + r.system_text for r in fake.requests)
    records = "".join(
        p.read_text() for p in (repo / ".git" / "tinygen" / "runs").rglob("*") if p.is_file()
    )
    assert "TOP-SECRET-VALUE" not in records


def test_failed_revision_keeps_the_earlier_good_change(fake: Fake, repo: Path) -> None:
    fake.script(
        PLAN, plan(("app/main.py", "modify", "Rename."), ("app/config.py", "modify", "Rename."))
    )
    bad = ToolReply(
        {"diff": "--- a/app/main.py\n+++ b/app/main.py\n@@ @@\n-nothing like this\n+x\n"}
    )
    first = {
        p: rename_reply(p, "load_cfg", "load_config") for p in ("app/main.py", "app/config.py")
    }
    fake.on(EDIT, lambda request: first.pop(file_of(request), bad))  # revisions never place
    ask = {"path": "app/main.py", "feedback": "Also add a comment."}
    fake.script(
        VERIFY, ToolReply({"approved": False, "summary": "more", "revisions": [ask]}), approve()
    )
    result = invoke(fake, repo, "Rename load_cfg", "--json")
    assert result.exit_code == ExitCode.UNAPPROVED, result.stderr
    data = json.loads(result.stdout)
    assert "+from app.config import load_config" in data["diff"]  # round 1's good version kept
    assert "+def load_config" in data["diff"]
    assert "could not be edited" in data["message"]
    assert "+++ b/app/main.py" in fake.requests_for(VERIFY)[1].text  # the second review saw it


def test_gate_failure_is_never_approved_and_uses_the_next_round(fake: Fake, repo: Path) -> None:
    fake.script(PLAN, plan(("app/main.py", "modify", "Upper-case the name.")))
    broken = '--- a/app/main.py\n+++ b/app/main.py\n@@ @@\n-    print(cfg["name"])\n+    print(cfg["name"].upper(\n'
    fixed = '--- a/app/main.py\n+++ b/app/main.py\n@@ @@\n-    print(cfg["name"].upper(\n+    print(cfg["name"].upper())\n'
    fake.script(EDIT, ToolReply({"diff": broken}), ToolReply({"diff": fixed}))
    fake.on(VERIFY, lambda request: approve())  # a careless reviewer
    result = invoke(fake, repo, "Upper-case the name", "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    data = json.loads(result.stdout)
    assert data["rounds"] == 2 and data["validation"]["ok"]
    assert '+    print(cfg["name"].upper())' in data["diff"]
    assert "Validation (syntax) failed" in fake.requests_for(EDIT)[1].text


def test_model_that_only_asks_to_read_is_an_error_not_no_change(fake: Fake, repo: Path) -> None:
    fake.on(PLAN, lambda request: ToolReply({"read_files": ["app/cli.py"]}))
    result = invoke(fake, repo, "Do something", "--json")
    assert result.exit_code == ExitCode.LLM
    data = json.loads(result.stdout)  # --json still prints one object on failure
    assert data["status"] == "failed" and data["run_id"] and "instead of planning" in data["error"]
    assert f"tinygen: run {data['run_id']}" in result.stderr
    record = json.loads((repo / ".git/tinygen/runs" / data["run_id"] / "run.json").read_text())
    assert record["status"] == "failed" and record["result"]["usage"]["calls"] == 2


def test_unwritable_out_is_refused_before_any_call(fake: Fake, repo: Path, tmp_path: Path) -> None:
    result = invoke(fake, repo, "x", "--out", str(tmp_path / "missing" / "x.diff"))
    assert result.exit_code == ExitCode.USAGE and "--out" in result.stderr
    assert fake.requests == []


def test_out_is_emptied_when_there_is_no_diff(fake: Fake, repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.diff"
    out.write_text("stale\n")
    fake.script(PLAN, ToolReply({"summary": "nothing", "title": "t", "files": []}))
    assert invoke(fake, repo, "x", "--out", str(out)).exit_code == ExitCode.NO_CHANGE
    assert out.read_text() == ""


@pytest.mark.parametrize("jobs", [1, 3])
def test_per_file_calls_run_concurrently_up_to_jobs(fake: Fake, repo: Path, jobs: int) -> None:
    fake.script(
        PLAN,
        plan(*[(p, "modify", "Rename.") for p in ("app/config.py", "app/main.py", "app/cli.py")]),
    )
    rename = rename_handler("load_cfg", "load_config")

    def held(request: RecordedRequest) -> ToolReply:
        # Each answer waits until one more call than `jobs` allows has been in flight, or
        # all three: with jobs=3 they all overlap; with jobs=1 a second call would show up
        # here. The waits are safety limits only; the assertion counts.
        fake.wait_peak(EDIT, min(jobs + 1, 3), timeout=30 if jobs == 3 else 0.5)
        return rename(request)

    fake.on(EDIT, held)
    fake.script(VERIFY, approve())
    assert invoke(fake, repo, "Rename", "--jobs", str(jobs)).exit_code == ExitCode.OK
    assert fake.peak[EDIT] == jobs  # never more calls at once than --jobs, and exactly that many


def test_runs_show_refuses_glob_ids(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["runs", "--repo", str(repo), "show", "../runs/2026*"])
    assert result.exit_code == ExitCode.REPO and "is not a run id" in result.stderr


def test_interrupt_stops_new_calls_cleans_up_and_records(fake: Fake, repo: Path) -> None:
    import os
    import signal
    import sys
    import time

    fake.script(
        PLAN,
        plan(*[(p, "modify", "Rename.") for p in ("app/config.py", "app/main.py", "app/cli.py")]),
    )
    fake.on(EDIT, lambda request: SlowReply(30, ToolReply({"diff": "x"})))
    env = {**os.environ, **model_env(fake)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinygen", "run", "Rename", "--repo", str(repo), "--jobs", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert fake.wait_peak(EDIT, 2, timeout=60)  # (a safety limit)
    proc.send_signal(signal.SIGINT)
    # The answers in flight take 30 s; a process that waited for them would exit after they
    # were sent. The timeout is a safety limit, the count below is the assertion.
    _, err = proc.communicate(timeout=120)
    assert fake.responded[EDIT] == 0, "it waited for the answers in flight"
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "interrupted" in err
    time.sleep(0.3)
    assert len(fake.requests_for(EDIT)) == 2  # the third file was never asked for
    assert git(repo, "worktree", "list").count("\n") == 1  # temporary worktree removed
    runs = list((repo / ".git" / "tinygen" / "runs").iterdir())
    assert json.loads((runs[0] / "run.json").read_text())["status"] == "interrupted"


def test_every_call_is_recorded_as_sent_with_its_cost(fake: Fake, repo: Path) -> None:
    invalid = ToolReply(
        {"summary": "s", "title": "t", "files": [{"path": "app/main.py"}]}
    )  # no action
    fake.script(PLAN, invalid, plan(("app/main.py", "modify", "Rename.")))
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.script(VERIFY, approve())
    result = invoke(fake, repo, "Rename in main", "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    run_id = json.loads(result.stdout)["run_id"]
    lines = (repo / ".git/tinygen/runs" / run_id / "calls.jsonl").read_text().splitlines()
    calls = [json.loads(line) for line in lines]
    assert [c["label"] for c in calls] == ["brainstorm", "brainstorm", "edit:app/main.py", "verify"]
    correction = calls[1]["request"]["messages"]
    assert len(correction) == 3 and "does not match the schema" in json.dumps(correction[2])
    assert all(c["response"]["cost_usd"] > 0 for c in calls)
    assert all(c["response"]["completion"]["usage"]["input_tokens"] >= 0 for c in calls)
    total = sum(c["response"]["cost_usd"] for c in calls)
    assert json.loads(result.stdout)["cost_usd"] == pytest.approx(total)


def test_check_env_passes_named_variables_to_checks(fake: Fake, repo: Path) -> None:
    fake.script(PLAN, plan(("app/main.py", "modify", "Rename.")))
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.on(VERIFY, lambda request: approve())
    check = "echo db=${DB_HOST:-missing} other=${OTHER_VAR:-missing}; exit 1"
    env = {"TINYGEN_CHECK_ENV": "DB_HOST", "DB_HOST": "db.local", "OTHER_VAR": "x"}
    invoke(fake, repo, "Rename", "--check", check, "--max-rounds", "1", env=env)
    review = fake.requests_for(VERIFY)[0].text
    assert "db=db.local other=missing" in review


def test_edits_that_never_place_end_unplaced_with_a_hint_for_a_person(
    fake: Fake, repo: Path
) -> None:
    fake.script(PLAN, plan(("app/main.py", "modify", "x")))
    bad = ToolReply({"diff": "--- a/app/main.py\n+++ b/app/main.py\n@@ @@\n-not in the file\n+x\n"})
    fake.on(EDIT, lambda request: bad)
    result = invoke(fake, repo, "Change main", "--json")
    assert result.exit_code == ExitCode.PATCH, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "unplaced" and data["diff"] == ""
    assert "could not be placed in app/main.py (tried 3 times each)" in data["message"]
    assert f"tinygen runs show {data['run_id']}" in data["message"]
    assert fake.requests_for(VERIFY) == []


def test_a_failing_check_is_shown_in_text_mode(fake: Fake, repo: Path) -> None:
    fake.script(PLAN, plan(("app/main.py", "modify", "Rename.")))
    fake.on(EDIT, rename_handler("load_cfg", "load_config"))
    fake.on(VERIFY, lambda request: approve())
    check = "echo 'ModuleNotFoundError: no module named calc'; exit 2"
    result = invoke(fake, repo, "Rename", "--check", check, "--max-rounds", "1")
    assert result.exit_code == ExitCode.CHECKS_FAILED
    assert f"check `{check}`: exit 2" in result.stderr
    assert "  | ModuleNotFoundError: no module named calc" in result.stderr


def test_a_repository_without_commits_says_so(fake: Fake, make_repo) -> None:
    empty = make_repo({"a.py": "x = 1\n"}, commit=False)
    result = invoke(fake, empty, "Change a")
    assert result.exit_code == ExitCode.REPO
    assert "has no commits yet" in result.stderr and "--ref" not in result.stderr
    assert fake.requests == []
