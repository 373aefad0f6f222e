"""The command line says what a thing is (issue 12 item 20): a bare repository or the inside
of a git directory is named as such, not as "not inside a git repository"; ``-q`` means
``--quiet`` wherever it is a flag. Real repositories, the real CLI."""

from __future__ import annotations

import json
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


def test_map_query_is_dash_capital_q_and_the_old_dash_q_still_works(
    make_repo: RepoFactory,
) -> None:
    repo = make_repo({**FILES, "other.py": "X = 1\n"})
    new = CliRunner().invoke(cli, ["map", str(repo), "-Q", "change other.py", "--json"])
    assert new.exit_code == 0, new.stderr
    old = CliRunner().invoke(cli, ["map", str(repo), "-q", "change other.py", "--json"])
    assert old.exit_code == 0, old.stderr
    ranked = [json.loads(r.stdout) for r in (new, old)]
    assert [r["mentioned"] for r in ranked] == [["other.py"], ["other.py"]]
    assert [r["files"][0]["path"] for r in ranked] == ["other.py", "other.py"]
    assert "-q for the query is deprecated" in old.stderr and "use -Q or --query" in old.stderr
    assert "deprecated" not in new.stderr
    both = CliRunner().invoke(cli, ["map", str(repo), "-q", "a", "--query", "b"])
    assert both.exit_code == ExitCode.USAGE and "give the query once" in both.stderr


def test_every_shown_dash_q_means_quiet() -> None:
    """The class behind the map/run clash: one meaning per short option in every command."""
    import click

    from tinygen.cli import COMMANDS

    meanings: dict[str, set[str]] = {}
    for name in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        commands = [command, *getattr(command, "commands", {}).values()]
        for cmd in commands:
            for param in cmd.params:
                if not isinstance(param, click.Option) or param.hidden:
                    continue
                longs = [o for o in param.opts if o.startswith("--")]
                for short in (o for o in param.opts if len(o) == 2):
                    meanings.setdefault(short, set()).update(longs)
    assert meanings["-q"] == {"--quiet"}
    assert meanings["-Q"] == {"--query"}
    assert all(len(longs) <= 1 for longs in meanings.values()), meanings
