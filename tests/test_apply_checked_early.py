"""`tinygen run --apply` into a checkout with local edits is refused before the first model
call, not after three paid ones (issue 12 item 19): which files the change touches is known
only after the plan, but whether the checkout's tracked files have uncommitted changes is
known at once. The real CLI, the real anthropic SDK against the fake Messages API, real git."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.fakes.anthropic_server import FakeAnthropic
from tests.helpers import git, write_files
from tests.test_delivery_cli import FILES, script_fix
from tinygen.cli import cli
from tinygen.errors import ExitCode


def run(fake: FakeAnthropic, repo: Path, *args: str) -> Result:
    env = {"ANTHROPIC_API_KEY": fake.api_key, "ANTHROPIC_BASE_URL": fake.base_url}
    return CliRunner().invoke(
        cli,
        ["run", "Make answer() return 42", "--repo", str(repo), "-q", "--apply", *args],
        env=env,
        catch_exceptions=False,
    )


@pytest.mark.parametrize(
    ("how", "named"),
    [
        ("modified", "README.md"),  # a file the change does not even touch
        ("staged", "util.py"),
        ("deleted", "README.md"),
        ("renamed", "util2.py"),
    ],
)
def test_local_edits_are_refused_before_any_model_call(
    fake: FakeAnthropic, make_repo: Callable[..., Path], how: str, named: str
) -> None:
    repo = make_repo(FILES)
    if how == "modified":
        write_files(repo, {"README.md": "# demo, edited\n"})
    elif how == "staged":
        write_files(repo, {"util.py": "NAME = 'staged'\n"})
        git(repo, "add", "util.py")
    elif how == "deleted":
        (repo / "README.md").unlink()
    else:
        git(repo, "mv", "util.py", "util2.py")
    before = git(repo, "status", "--porcelain")
    script_fix(fake)
    refused = run(fake, repo)
    assert refused.exit_code == ExitCode.REPO, refused.stderr
    assert f"uncommitted changes in {named}" in refused.stderr
    assert "commit or stash them first" in refused.stderr and "--force" in refused.stderr
    assert fake.requests == []  # nothing paid for
    assert git(repo, "status", "--porcelain") == before  # nothing written


def test_force_applies_over_local_edits_and_untracked_files_do_not_count(
    fake: FakeAnthropic, make_repo: Callable[..., Path]
) -> None:
    repo = make_repo(FILES)
    write_files(repo, {"notes.txt": "mine, untracked\n"})
    script_fix(fake)
    untracked_only = run(fake, repo)
    assert untracked_only.exit_code == ExitCode.OK, untracked_only.stderr
    assert (repo / "app.py").read_text().endswith("return 42\n")
    git(repo, "checkout", "--", "app.py")

    write_files(repo, {"README.md": "# demo, edited\n"})
    forced = run(fake, repo, "--force")
    assert forced.exit_code == ExitCode.OK, forced.stderr
    assert (repo / "app.py").read_text().endswith("return 42\n")
    assert (repo / "README.md").read_text() == "# demo, edited\n"  # the edit stays
