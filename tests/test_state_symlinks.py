"""Nothing tinygen writes under a git directory goes through a symbolic link (issue 12 item 7):
a link at ``.git/tinygen``, below it, or at the worktree lock is refused, named, and the
place it points to stays untouched. Real repositories, the real CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import RepoFactory
from tests.fakes.anthropic_server import FakeAnthropic
from tinygen.cli import cli
from tinygen.errors import ExitCode, RepoError
from tinygen.repo.git import real_folder, state_dir

FILES = {"app.py": "def answer() -> int:\n    return 41\n"}


def everything_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def run_cli(fake: FakeAnthropic, repo: Path, *args: str) -> Result:
    env = {"ANTHROPIC_API_KEY": fake.api_key, "ANTHROPIC_BASE_URL": fake.base_url}
    return CliRunner().invoke(cli, [*args, "--repo", str(repo)], env=env, catch_exceptions=False)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Where a planted link points: it must stay empty."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def test_map_does_not_write_the_cache_through_a_linked_state_folder(
    make_repo: RepoFactory, outside: Path
) -> None:
    repo = make_repo(FILES)
    (repo / ".git" / "tinygen").symlink_to(outside, target_is_directory=True)
    result = CliRunner().invoke(cli, ["map", str(repo), "--query", "answer"])
    assert result.exit_code == 0, result.stderr
    assert "def answer() -> int" in result.stdout  # the sheet, without a cache
    assert f"{repo / '.git' / 'tinygen'} is a symbolic link" in result.stderr
    assert everything_under(outside) == []


@pytest.mark.parametrize("link", ["tinygen", "tinygen/runs"])
def test_a_run_refuses_a_linked_state_folder_before_any_model_call(
    fake: FakeAnthropic, make_repo: RepoFactory, outside: Path, link: str
) -> None:
    repo = make_repo(FILES)
    planted = repo / ".git" / link
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.symlink_to(outside, target_is_directory=True)
    result = run_cli(fake, repo, "run", "Make answer() return 42")
    assert result.exit_code == ExitCode.REPO, result.stderr
    assert f"{planted} is a symbolic link" in result.stderr
    assert f"rm {planted}" in result.stderr  # what to do
    assert fake.requests == []
    assert everything_under(outside) == []


def test_the_worktree_lock_is_never_opened_through_a_link(
    fake: FakeAnthropic, make_repo: RepoFactory, outside: Path
) -> None:
    repo = make_repo(FILES)
    target = outside / "created-by-tinygen"
    (repo / ".git" / "tinygen-worktrees.lock").symlink_to(target)  # dangling: open would create
    result = CliRunner().invoke(cli, ["apply", "-", "--repo", str(repo), "--check", "true"],
                                input="--- a/app.py\n+++ b/app.py\n@@\n-    return 41\n+    return 42\n")  # fmt: skip
    assert result.exit_code == ExitCode.REPO, result.stderr
    assert "tinygen-worktrees.lock" in result.stderr and "Traceback" not in result.stderr
    assert not target.exists() and everything_under(outside) == []
    assert (repo / "app.py").read_text().endswith("return 41\n")


def test_real_folder_refuses_links_and_files_at_every_level(tmp_path: Path) -> None:
    base = tmp_path / "gitdir"
    base.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    made = real_folder(base, "tinygen", "runs", "x")
    assert made == base / "tinygen" / "runs" / "x" and made.is_dir() and not made.is_symlink()
    os.rmdir(made)
    (base / "tinygen" / "runs" / "x").symlink_to(elsewhere)
    with pytest.raises(RepoError, match="runs/x is a symbolic link"):
        real_folder(base, "tinygen", "runs", "x")
    (base / "tinygen" / "runs" / "x").unlink()
    (base / "tinygen" / "runs" / "x").write_text("in the way")
    with pytest.raises(RepoError, match="runs/x is not a folder"):
        real_folder(base, "tinygen", "runs", "x")
    assert everything_under(elsewhere) == []


def test_state_dir_of_a_checkout_is_a_real_folder(make_repo: RepoFactory, outside: Path) -> None:
    repo = make_repo(FILES)
    assert state_dir(repo) == (repo / ".git" / "tinygen").resolve()
    os.rmdir(repo / ".git" / "tinygen")
    (repo / ".git" / "tinygen").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RepoError, match="is a symbolic link"):
        state_dir(repo)
