"""The command line says what a thing is (issue 12 item 20): a bare repository or the inside
of a git directory is named as such, not as "not inside a git repository"; ``-q`` means
``--quiet`` wherever it is a flag. Real repositories, the real CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import RepoFactory
from tinygen.cli import cli
from tinygen.errors import ExitCode

FILES = {"app.py": "def answer() -> int:\n    return 41\n"}


@pytest.mark.parametrize(
    "command", [["map", "{path}"], ["apply", "--repo", "{path}", "--dry-run", "/dev/null"]]
)
def test_a_bare_repository_is_called_one(
    make_repo: RepoFactory, tmp_path: Path, command: list[str]
) -> None:
    bare = (tmp_path / "shared.git").resolve()
    subprocess.run(["git", "clone", "-q", "--bare", str(make_repo(FILES)), str(bare)], check=True)
    result = CliRunner().invoke(cli, [c.format(path=bare) for c in command])
    assert result.exit_code == ExitCode.REPO
    assert f"{bare} is a bare repository: it has no working tree" in result.stderr
    assert f"git clone {bare} DIR" in result.stderr  # what to do
    assert "not inside a git repository" not in result.stderr


def test_the_inside_of_a_git_directory_is_called_that(make_repo: RepoFactory) -> None:
    repo = make_repo(FILES).resolve()
    result = CliRunner().invoke(cli, ["map", str(repo / ".git" / "refs")])
    assert result.exit_code == ExitCode.REPO
    assert f"is inside the git directory {repo / '.git'}" in result.stderr
    assert f"run tinygen in the working tree ({repo})" in result.stderr
