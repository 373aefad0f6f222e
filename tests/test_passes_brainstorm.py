"""The brainstorm pass alone: a scripted provider and a real repository."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RepoFactory
from tests.helpers import commit_all, pass_context
from tinygen.errors import LLMOutputError, PathPolicyError
from tinygen.models import PlanItem
from tinygen.passes.brainstorm import (
    MAX_FILE_CHARS,
    MAX_NAMED,
    MAX_PLAN_FILES,
    MAX_READ,
    brainstorm,
)
from tinygen.testing import ScriptedProvider, prompt_text
from tinygen.validate import PathPolicy

FILES = {
    "app/config.py": "def load_cfg(path): ...\n",
    "app/main.py": "from app.config import load_cfg\n",
    "app/cli.py": "import sys\n",
    "README.md": "# app\n",
}


@pytest.fixture
def repo(make_repo: RepoFactory) -> Path:
    return make_repo(FILES)


def plan(*files: dict[str, Any], title: str = "Rename", summary: str = "Do it.") -> dict[str, Any]:
    return {"summary": summary, "title": title, "files": list(files)}


def item(path: str, action: str = "modify", intent: str = "Change.", **kw: Any) -> dict[str, Any]:
    return {"path": path, "action": action, "intent": intent, **kw}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            plan(item("app/config.py")),
            [PlanItem("app/config.py", "modify", "Change.")],
            id="as-planned",
        ),
        pytest.param(
            plan(item("app/config.py", "create"), item("app/new.py", "modify")),
            [
                PlanItem("app/config.py", "modify", "Change."),
                PlanItem("app/new.py", "create", "Change."),
            ],
            id="the-repository-decides-create-or-modify",
        ),
        pytest.param(
            plan(item("app/gone.py", "delete"), item("app/cli.py", "delete")),
            [PlanItem("app/cli.py", "delete", "Change.")],
            id="deleting-a-missing-file-is-dropped",
        ),
        pytest.param(
            plan(item("app/main.py", intent="One."), item("./app/main.py", intent="Two.")),
            [PlanItem("app/main.py", "modify", "One.\nTwo.")],
            id="duplicates-merged",
        ),
        pytest.param(
            plan(item("app/main.py", see_also=["app/config.py", "nope.py", "app/main.py"])),
            [PlanItem("app/main.py", "modify", "Change.", ["app/config.py"])],
            id="see-also-only-other-existing-files",
        ),
        pytest.param(plan(), [], id="no-change"),
    ],
)
def test_plan_is_normalized(repo: Path, answer: dict[str, Any], expected: list[PlanItem]) -> None:
    provider = ScriptedProvider()
    provider.enqueue(answer, label="brainstorm")
    result = brainstorm(pass_context(repo, provider), [], PathPolicy())
    assert list(result.files) == expected
    assert (result.summary, result.files_read) == ("Do it.", ())
    assert len(provider.requests) == 1


@pytest.mark.parametrize(
    ("title", "expected"),
    [("  Rename\n  load_cfg ", "Rename load_cfg"), ("", "tinygen change"), ("x" * 300, "x" * 100)],
)
def test_title_is_one_line_of_at_most_100_characters(repo: Path, title: str, expected: str) -> None:
    provider = ScriptedProvider(plan(item("app/main.py"), title=title))
    assert brainstorm(pass_context(repo, provider), [], PathPolicy()).title == expected


@pytest.mark.parametrize(
    ("path", "policy", "message"),
    [
        ("../outside.py", PathPolicy(), "outside"),
        (".git/config", PathPolicy(), ".git"),
        (".github/workflows/ci.yml", PathPolicy(), "protected"),
    ],
)
def test_a_planned_path_the_policy_refuses_fails_the_pass(
    repo: Path, path: str, policy: PathPolicy, message: str
) -> None:
    provider = ScriptedProvider(plan(item(path, "create")))
    with pytest.raises(PathPolicyError, match=message):
        brainstorm(pass_context(repo, provider), [], policy)


def test_allowed_paths_release_a_protected_one(repo: Path) -> None:
    provider = ScriptedProvider(plan(item(".github/workflows/ci.yml", "create")))
    policy = PathPolicy(allowed=(".github/workflows/**",))
    result = brainstorm(pass_context(repo, provider), [], policy)
    assert [f.path for f in result.files] == [".github/workflows/ci.yml"]


def test_too_many_files_is_refused(repo: Path) -> None:
    provider = ScriptedProvider(
        plan(*[item(f"m{i}.py", "create") for i in range(MAX_PLAN_FILES + 1)])
    )
    with pytest.raises(LLMOutputError, match=f"at most {MAX_PLAN_FILES}"):
        brainstorm(pass_context(repo, provider), [], PathPolicy())


def test_files_the_request_names_are_shown_in_full_up_front(make_repo: RepoFactory) -> None:
    files = {f"m{i}.py": f"NAME_{i} = {i}\n" for i in range(MAX_NAMED + 2)}
    repo = make_repo({**files, "big.py": "x" * (MAX_FILE_CHARS + 10)})
    provider = ScriptedProvider(plan())
    brainstorm(pass_context(repo, provider), ["big.py", *files, "missing.py"], PathPolicy())
    text = prompt_text(provider.requests[0])
    assert "Files the request names, in full:" in text
    assert f"[... cut: the file has {MAX_FILE_CHARS + 10} characters ...]" in text
    shown = [name for name in files if f"NAME_{name[1:-3]} =" in text]
    assert len(shown) == MAX_NAMED - 1  # big.py took the first of the MAX_NAMED places
    assert "missing.py" not in text


def test_reading_files_first_then_planning(repo: Path) -> None:
    provider = ScriptedProvider()
    provider.enqueue(
        {"read_files": ["app/cli.py", "app/cli.py", "nope.py", "../../etc/passwd"]},
        plan(item("app/cli.py")),
        label="brainstorm",
    )
    result = brainstorm(pass_context(repo, provider), [], PathPolicy())
    assert result.files_read == ("app/cli.py",)  # deduplicated, existing files only
    assert [f.path for f in result.files] == ["app/cli.py"]
    first, second = (prompt_text(r) for r in provider.requests)
    assert f"at most {MAX_READ}" in first
    assert '<file path="app/cli.py">\nimport sys\n' in second
    assert "passwd" not in second.split("The files you asked to read")[1]


def test_asking_only_for_missing_files_says_so(repo: Path) -> None:
    provider = ScriptedProvider({"read_files": ["nope.py"]}, plan())
    brainstorm(pass_context(repo, provider), [], PathPolicy())
    assert "None of the files you asked for exist" in prompt_text(provider.requests[1])


def test_asking_to_read_twice_is_an_error_not_no_change(repo: Path) -> None:
    provider = ScriptedProvider({"read_files": ["app/cli.py"]}, {"read_files": ["app/main.py"]})
    with pytest.raises(LLMOutputError, match="instead of planning"):
        brainstorm(pass_context(repo, provider), [], PathPolicy())
    assert len(provider.requests) == 2


def test_a_symlink_is_never_read_into_the_prompt(make_repo: RepoFactory, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET\n")
    repo = make_repo({"a.py": "A = 1\n"}, commit=False)
    os.symlink(secret, repo / "link.txt")
    commit_all(repo)
    provider = ScriptedProvider({"read_files": ["link.txt"]}, plan())
    brainstorm(pass_context(repo, provider), ["link.txt"], PathPolicy())
    assert all("TOP-SECRET" not in prompt_text(r) for r in provider.requests)


def test_the_request_uses_the_plan_tool_and_the_cached_system_prompt(repo: Path) -> None:
    provider = ScriptedProvider(plan())
    brainstorm(pass_context(repo, provider, request="Add a flag"), [], PathPolicy())
    (request,) = provider.requests
    assert request.label == "brainstorm" and request.tool is not None
    assert request.tool.name == "submit_plan"
    assert [t.name for t in request.tools] == ["submit_plan", "write_file_change", "submit_review"]
    assert request.system[-1].cache and "Add a flag" in request.system[-1].text
