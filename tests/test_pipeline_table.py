"""pipeline.run as a table: a scripted provider, a real repository, the real sheet, patch
engine, gate and checks. One row per way a run can end; then the run record."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RepoFactory
from tests.helpers import git, loose_diff, status
from tinygen.config import Settings
from tinygen.errors import LLMOverloadedError, TinygenError
from tinygen.llm import Usage, cost_usd
from tinygen.models import Request, Status
from tinygen.pipeline import Target, run
from tinygen.testing import DEFAULT_USAGE, Answer, ScriptedProvider, UnscriptedCall

MODEL = "claude-sonnet-4-6"
APP = {
    "app/__init__.py": '"""A tiny application."""\n',
    "app/config.py": (
        "import json\n\n\n"
        "def load_cfg(path: str) -> dict:\n"
        "    with open(path) as fh:\n"
        "        return json.load(fh)\n"
    ),
    "app/main.py": (
        "from app.config import load_cfg\n\n\n"
        "def main() -> None:\n"
        '    cfg = load_cfg("app.json")\n'
        '    print(cfg["name"])\n'
    ),
    "app/cli.py": "from app.config import load_cfg\n\n\ndef run(argv: list[str]) -> int:\n    return 0 if load_cfg(argv[1]) else 1\n",
}


def rename(path: str) -> dict[str, str]:
    return {"diff": loose_diff(path, APP[path], "load_cfg", "load_config"), "notes": "renamed"}


BAD = {"diff": "--- a/app/main.py\n+++ b/app/main.py\n@@ @@\n-nothing like this\n+x\n"}
BROKEN = {
    "diff": loose_diff("app/main.py", APP["app/main.py"], 'print(cfg["name"])', 'print(cfg["name"]')
}
FIXED = {
    "diff": loose_diff(
        "app/main.py",
        APP["app/main.py"].replace('print(cfg["name"])', 'print(cfg["name"]'),
        'print(cfg["name"]',
        'print(cfg["name"].upper())',
    )
}
SAME = {"diff": loose_diff("app/main.py", APP["app/main.py"], "def main", "def main")}


def approve(summary: str = "Looks right.") -> dict[str, Any]:
    return {"approved": True, "summary": summary, "revisions": []}


def revise(path: str, feedback: str = "Rename it here too.") -> dict[str, Any]:
    return {
        "approved": False,
        "summary": "Not yet.",
        "revisions": [{"path": path, "feedback": feedback}],
    }


@dataclass
class Case:
    plan: list[str]  # files to modify
    edits: dict[str, list[dict[str, Any]]]  # answers per file, in order
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    # expected
    status: Status = Status.APPROVED
    rounds: int = 1
    calls: dict[str, int] = field(default_factory=dict)
    diff_has: tuple[str, ...] = ()
    message_has: str = ""


CASES = {
    "approved": Case(
        ["app/config.py"],
        {"app/config.py": [rename("app/config.py")]},
        [approve("All good.")],
        calls={"brainstorm": 1, "edit": 1, "verify": 1},
        diff_has=("+def load_config(path: str) -> dict:",),
        message_has="All good.",
    ),
    "unverified": Case(
        ["app/config.py"],
        {"app/config.py": [rename("app/config.py")]},
        settings=Settings(max_rounds=0),
        status=Status.UNVERIFIED,
        rounds=0,
        calls={"brainstorm": 1, "edit": 1},
        diff_has=("+def load_config",),
    ),
    "no_change-empty-plan": Case(
        [], {}, status=Status.NO_CHANGE, rounds=0, calls={"brainstorm": 1}, message_has="Do it."
    ),
    "no_change-edits-change-nothing": Case(
        ["app/main.py"],
        {"app/main.py": [SAME]},
        status=Status.NO_CHANGE,
        rounds=0,
        calls={"brainstorm": 1, "edit": 1},
        message_has="change nothing",
    ),
    "unapproved": Case(
        ["app/config.py"],
        {"app/config.py": [rename("app/config.py")]},
        [revise("app/main.py", "Callers break.")],
        settings=Settings(max_rounds=1),
        status=Status.UNAPPROVED,
        calls={"brainstorm": 1, "edit": 1, "verify": 1},
        diff_has=("+def load_config",),  # the best diff is still returned
        message_has="not approved after 1 round(s): app/main.py: Callers break.",
    ),
    "unplaced": Case(
        ["app/main.py"],
        {"app/main.py": [BAD] * 3},
        status=Status.UNPLACED,
        rounds=0,
        calls={"brainstorm": 1, "edit": 3},
        message_has="could not be placed in app/main.py (tried 3 times each)",
    ),
    "unapproved-an-edit-never-placed": Case(
        ["app/config.py", "app/main.py"],
        {"app/config.py": [rename("app/config.py")], "app/main.py": [BAD] * 3},
        settings=Settings(max_rounds=0),
        status=Status.UNAPPROVED,
        rounds=0,
        calls={"brainstorm": 1, "edit": 4},
        diff_has=("+def load_config",),
        message_has="file(s) could not be edited: app/main.py",
    ),
    "invalid": Case(
        ["app/main.py"],
        {"app/main.py": [BROKEN]},
        [approve()],  # a careless reviewer cannot approve a diff the gate refused
        settings=Settings(max_rounds=1),
        status=Status.INVALID,
        calls={"brainstorm": 1, "edit": 1, "verify": 1},
        diff_has=('+    print(cfg["name"]',),
        message_has="validation failed",
    ),
    "checks_failed": Case(
        ["app/config.py"],
        {"app/config.py": [rename("app/config.py")]},
        [approve()],
        # fails exactly when the change is there: the check ran on the changed tree
        settings=Settings(max_rounds=1, checks=("grep -q load_config app/config.py && exit 3",)),
        status=Status.CHECKS_FAILED,
        calls={"brainstorm": 1, "edit": 1, "verify": 1},
        diff_has=("+def load_config",),
        message_has="check(s) failed: grep -q load_config",
    ),
    "checks-pass": Case(
        ["app/config.py"],
        {"app/config.py": [rename("app/config.py")]},
        [approve()],
        settings=Settings(checks=("grep -q load_config app/config.py",)),
        calls={"brainstorm": 1, "edit": 1, "verify": 1},
    ),
    "revised-in-a-second-round": Case(
        ["app/config.py"],
        {"app/config.py": [rename("app/config.py")], "app/cli.py": [rename("app/cli.py")]},
        [revise("app/cli.py"), approve()],  # the revision names a file the plan did not
        settings=Settings(max_rounds=2),
        rounds=2,
        calls={"brainstorm": 1, "edit": 2, "verify": 2},
        diff_has=("+def load_config", "+from app.config import load_config"),
    ),
    "a-failed-revision-keeps-the-earlier-good-version": Case(
        ["app/main.py", "app/config.py"],
        {
            "app/main.py": [rename("app/main.py"), BAD, BAD, BAD],
            "app/config.py": [rename("app/config.py")],
        },
        [revise("app/main.py", "Also add a comment."), approve()],
        settings=Settings(max_rounds=2),
        status=Status.UNAPPROVED,
        rounds=2,
        calls={"brainstorm": 1, "edit": 5, "verify": 2},
        diff_has=("+from app.config import load_config", "+def load_config"),
        message_has="could not be edited: app/main.py",
    ),
    "a-gate-failure-is-revised-in-the-next-round": Case(
        ["app/main.py"],
        {"app/main.py": [BROKEN, FIXED]},
        [approve(), approve()],
        settings=Settings(max_rounds=2),
        rounds=2,
        calls={"brainstorm": 1, "edit": 2, "verify": 2},
        diff_has=('+    print(cfg["name"].upper())',),
    ),
}


@pytest.fixture
def repo(make_repo: RepoFactory) -> Path:
    return make_repo(APP)


def target(repo: Path) -> Target:
    return Target(repo, git(repo, "rev-parse", "HEAD").strip())


def script(case: Case) -> ScriptedProvider:
    provider = ScriptedProvider()
    files = [{"path": p, "action": "modify", "intent": "Rename load_cfg."} for p in case.plan]
    provider.enqueue({"summary": "Do it.", "title": "Rename", "files": files}, label="brainstorm")
    for path, answers in case.edits.items():
        provider.enqueue(*answers, label=f"edit:{path}")
    provider.enqueue(*case.verdicts, label="verify")
    return provider


@pytest.mark.parametrize("name", list(CASES))
def test_how_a_run_ends(repo: Path, name: str) -> None:
    case = CASES[name]
    provider = script(case)
    before = status(repo)
    result = run(
        Request("Rename load_cfg to load_config"),
        target(repo),
        case.settings,
        provider,
        model=MODEL,
    )

    assert (result.status, result.rounds) == (case.status, case.rounds), result.message
    assert case.message_has in result.message
    assert Counter(r.label.split(":")[0] for r in provider.requests) == Counter(case.calls)
    assert provider.pending() == {}  # every scripted answer was used
    for line in case.diff_has:
        assert line in result.diff, result.diff
    if not case.diff_has:
        assert result.diff == "" or case.status is Status.APPROVED
    if result.diff:  # the diff applies to the base commit
        assert git(repo, "apply", "--check", "-", input=result.diff) == ""
    data = result.to_dict()
    calls = sum(case.calls.values())
    assert data["usage"]["calls"] == calls
    assert data["usage"]["input_tokens"] == calls * DEFAULT_USAGE.input_tokens
    assert data["checks"] == [] or data["checks"][0]["command"] == case.settings.checks[0]
    # the user's checkout is untouched and the temporary worktrees are gone
    assert status(repo) == before
    assert git(repo, "worktree", "list").count("\n") == 1


def test_the_run_record_holds_what_happened(repo: Path) -> None:
    provider = script(CASES["revised-in-a-second-round"])
    result = run(
        Request("Rename load_cfg to load_config", source="issue", issue_number=7),
        target(repo),
        Settings(max_rounds=2, budget=3000),
        provider,
        model=MODEL,
        run_id="20260101-000000-abcdef",
    )
    folder = repo / ".git" / "tinygen" / "runs" / "20260101-000000-abcdef"
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == "approved" and record["run_id"] == result.run_id
    assert record["request"] == {
        "text": "Rename load_cfg to load_config",
        "source": "issue",
        "issue": 7,
    }
    assert record["settings"] == {
        "budget": 3000,
        "jobs": 4,
        "max_rounds": 2,
        "vote": 0,
        "max_samples": 8,
        "max_cost": None,
        "summaries": "cached",
    }
    assert record["base_commit"] == target(repo).base_commit and record["model"] == MODEL
    assert [f["path"] for f in record["plan"]["files"]] == ["app/config.py"]
    assert record["verdict_1"]["revisions"] == [
        {"path": "app/cli.py", "feedback": "Rename it here too."}
    ]
    assert record["verdict_2"]["approved"] is True
    assert record["result"]["files"][-1]["path"] == "app/cli.py"  # joined the plan
    usage = DEFAULT_USAGE.input_tokens * 5, DEFAULT_USAGE.output_tokens * 5
    assert (
        record["result"]["usage"]["input_tokens"],
        record["result"]["usage"]["output_tokens"],
    ) == usage
    assert record["result"]["cost_usd"] == pytest.approx(
        cost_usd(MODEL, Usage(input_tokens=usage[0], output_tokens=usage[1]))
    )
    assert (folder / "diff.patch").read_text() == result.diff and result.diff_path == str(
        folder / "diff.patch"
    )
    calls = [json.loads(line) for line in (folder / "calls.jsonl").read_text().splitlines()]
    assert [c["label"] for c in calls] == [r.label for r in provider.requests]
    assert "app/config.py" in (folder / "sheet.txt").read_text()


def test_usage_stated_per_answer_is_summed(repo: Path) -> None:
    provider = ScriptedProvider()
    big = Usage(input_tokens=1000, output_tokens=50, cache_read_tokens=4000, cache_write_tokens=10)
    provider.enqueue(Answer.tool({"summary": "s", "title": "t", "files": []}, usage=big))
    result = run(Request("x"), target(repo), Settings(), provider, model=MODEL)
    assert result.status is Status.NO_CHANGE
    assert result.to_dict()["usage"] == big.to_dict() | {"calls": 1}
    assert result.cost_usd == pytest.approx(cost_usd(MODEL, big))


def test_a_failure_after_a_diff_saves_it_in_the_record(repo: Path) -> None:
    provider = ScriptedProvider()
    provider.enqueue(
        {
            "summary": "s",
            "title": "t",
            "files": [{"path": "app/config.py", "action": "modify", "intent": "x"}],
        },
        label="brainstorm",
    )
    provider.enqueue(rename("app/config.py"), label="edit")
    provider.enqueue(LLMOverloadedError("overloaded after 3 attempts"), label="verify")
    with pytest.raises(LLMOverloadedError) as info:
        run(Request("Rename"), target(repo), Settings(), provider, model=MODEL)
    assert info.value.run_id is not None
    folder = repo / ".git" / "tinygen" / "runs" / info.value.run_id
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == "failed"
    assert record["result"]["usage"]["calls"] == 2  # brainstorm and edit were paid for
    assert "+def load_config" in (folder / "diff.patch").read_text()
    assert git(repo, "worktree", "list").count("\n") == 1


def test_a_failure_before_any_diff_saves_none(repo: Path) -> None:
    provider = ScriptedProvider()  # nothing scripted: the first call fails
    with pytest.raises(UnscriptedCall) as info:
        run(Request("Rename"), target(repo), Settings(), provider, model=MODEL)
    assert isinstance(info.value, TinygenError) and info.value.run_id is not None
    folder = repo / ".git" / "tinygen" / "runs" / info.value.run_id
    assert json.loads((folder / "run.json").read_text())["status"] == "failed"
    assert not (folder / "diff.patch").exists()


def test_progress_names_every_stage_in_order(repo: Path) -> None:
    seen: list[str] = []
    provider = script(CASES["checks-pass"])
    settings = CASES["checks-pass"].settings
    run(
        Request("Rename"),
        target(repo),
        settings,
        provider,
        model=MODEL,
        progress=lambda stage, _: seen.append(stage),
    )
    stages = list(dict.fromkeys(seen))
    assert stages == ["sheet", "brainstorm", "plan", "edit", "validate", "checks", "verify"]
