"""Commit messages and pull request bodies (tinygen.delivery.texts), and how the CLI names the
GitHub repository it delivers to."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.github_server import DEFAULT_TOKEN
from tests.helpers import git
from tests.test_publish_branch import FILES, make_result
from tinygen.delivery import texts as prbody
from tinygen.delivery.commits import build_message
from tinygen.delivery.prepare import github_repository
from tinygen.errors import ConfigError
from tinygen.models import FileEdit, Status
from tinygen.repo.clone import open_repository
from tinygen.validate.checks import CheckResult

TWO = {"app.py": "def f():\n    return 2\n"}


def test_secrets_from_the_model_or_checks_never_reach_github(
    make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", DEFAULT_TOKEN)
    repo = make_repo(FILES)
    leaked = f"use token {DEFAULT_TOKEN} and key sk-ant-api03-abcdefghijklmnop"
    result = make_result(
        repo,
        TWO,
        title=f"Fix {DEFAULT_TOKEN}",
        status=Status.CHECKS_FAILED,
        message=leaked,
        checks=[
            CheckResult(
                command=f"curl -H 'Authorization: Bearer {DEFAULT_TOKEN}' x",
                exit_code=1,
                timed_out=False,
                seconds=0.5,
                output_tail=f"boom\n{leaked}\n",
            )
        ],
    )
    result.edits.append(FileEdit("b.py", "modify", "", None, 1, notes=leaked, error=leaked))
    message, trailers = prbody.commit_message(result)
    texts = [
        prbody.title(result),
        prbody.pr_body(result, issue=3),
        build_message(message, trailers),
    ]
    for text in texts:
        assert DEFAULT_TOKEN not in text and "sk-ant-api03" not in text, text
    body = texts[1]
    assert "❌ exit 1" in body and "boom" in body  # the failing check's tail is shown
    assert "**Not edited:**" in body


def test_long_bodies_are_cut_but_keep_closes_and_the_run_id(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(FILES)
    result = make_result(repo, TWO)
    result.edits = [
        FileEdit(f"f{i}.py", "modify", "", "", 1, notes="word " * 400) for i in range(200)
    ]
    body = prbody.pr_body(result, issue=9)
    assert len(body) <= prbody.BODY_MAX
    assert "…(cut: see the run record)" in body
    assert "Closes #9" in body and result.run_id in body
    assert prbody.pr_body(make_result(repo, TWO)).count("Closes #") == 0


def test_titles_and_trailers(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(FILES)
    long = make_result(repo, TWO, title="A very long title " * 10)
    assert len(prbody.title(long)) == prbody.TITLE_MAX and prbody.title(long).endswith("…")
    untitled = make_result(repo, TWO, title="")
    assert prbody.title(untitled) == ", as asked."  # the summary's first line stands in
    result = make_result(repo, TWO)
    result.model = "weird <model>\nname"
    _message, trailers = prbody.commit_message(result)
    assert (
        trailers["Co-authored-by"]
        == "tinygen (weird model name) <tinygen@users.noreply.github.com>"
    )
    result.model = ""
    assert (
        prbody.commit_message(result)[1]["Co-authored-by"]
        == "tinygen <tinygen@users.noreply.github.com>"
    )


def test_github_repository_comes_from_the_remote_or_the_environment(
    make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(FILES)
    with pytest.raises(ConfigError, match="no origin remote") as info:
        github_repository(open_repository(str(repo)))
    assert info.value.hint and "GITHUB_REPOSITORY" in info.value.hint
    git(repo, "remote", "add", "origin", "https://github.com/octo/demo.git")
    assert github_repository(open_repository(str(repo))) == "octo/demo"
    git(repo, "remote", "set-url", "origin", "git@github.com:octo/other.git")
    assert github_repository(open_repository(str(repo))) == "octo/other"
    git(repo, "remote", "set-url", "origin", "https://gitlab.example/octo/demo.git")
    with pytest.raises(ConfigError, match=r"gitlab.example/octo/demo.git is not on GitHub"):
        github_repository(open_repository(str(repo)))
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://gitlab.example")
    assert github_repository(open_repository(str(repo))) == "octo/demo"  # an Enterprise host
    monkeypatch.delenv("GITHUB_SERVER_URL")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/named")
    assert github_repository(open_repository(str(repo))) == "octo/named"
