"""What delivery does in its temporary worktrees, on real repositories with local bare remotes
(pull requests: the real PyGithub against the fake GitHub server):

- no hook runs there — not the repository's, not a global ``core.hooksPath``'s — and none can
  rewrite tinygen's commit message (``commit --no-verify`` stops only pre-commit/commit-msg);
- a change placed anew on a pull request head that moved (git's merge calls it a conflict)
  is committed only after the run's validation passes on that new tree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.github_server import DEFAULT_TOKEN, FakeGitHub
from tests.helpers import commit_all, git, write_files
from tests.test_publish_branch import make_result
from tinygen.delivery.publish import publish_branch, push_to_pr
from tinygen.errors import ExitCode, ValidationError
from tinygen.github import ForgePolicy, GitHubForge
from tinygen.models import Status
from tinygen.repo.clone import open_repository
from tinygen.validate.checks import CheckResult

REPO = "octo/demo"
FILES = {
    "app.py": "def f():\n    return 1\n",
    "settings.toml": "[tool]\na = 1\n",
    "lib/util.py": "X = 1\n",
}
TWO = {"app.py": "def f():\n    return 2\n"}
HOOKS = ("prepare-commit-msg", "commit-msg", "post-commit", "post-checkout", "post-rewrite")


def _install_hooks(folder: Path, markers: Path) -> None:
    """Hooks that leave a marker file when they run; prepare-commit-msg also rewrites the
    message, as a commit template tool would."""
    folder.mkdir(parents=True, exist_ok=True)
    markers.mkdir(parents=True, exist_ok=True)
    for name in HOOKS:
        script = f'#!/bin/sh\necho ran >> "{markers / name}"\n'
        if name == "prepare-commit-msg":
            script += 'echo "HIJACKED by a hook" > "$1"\n'
        hook = folder / name
        hook.write_text(script)
        hook.chmod(0o755)


@pytest.fixture(params=["repository", "global"])
def hooked(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[Path], Path]:
    """Installs the hooks in the repository's .git/hooks, or in a folder a global
    ``core.hooksPath`` names; returns the folder the markers would appear in."""

    def install(repo: Path) -> Path:
        markers = tmp_path / "markers"
        if request.param == "repository":
            _install_hooks(repo / ".git" / "hooks", markers)
        else:
            folder = tmp_path / "global-hooks"
            _install_hooks(folder, markers)
            git(tmp_path, "config", "--global", "core.hooksPath", str(folder))
        return markers

    return install


@pytest.fixture
def forge(gh: FakeGitHub) -> GitHubForge:
    return GitHubForge(token=DEFAULT_TOKEN, api_url=gh.api_url, policy=ForgePolicy.fast())


def _contributor(tmp_path: Path, bare: Path, branch: str, files: dict[str, str]) -> str:
    """Someone else pushes ``branch`` (from main) with one more commit; returns its sha."""
    work = tmp_path / f"contrib-{branch.replace('/', '-')}"
    git(tmp_path, "clone", "-q", str(bare), str(work))
    git(work, "switch", "-q", "-c", branch)
    write_files(work, files)
    sha = commit_all(work, f"work on {branch}")
    git(work, "push", "-q", "origin", branch)
    return sha


def _ran(markers: Path) -> list[str]:
    return sorted(p.name for p in markers.iterdir()) if markers.exists() else []


# --- no hooks ----------------------------------------------------------------------------------


def test_a_commit_made_in_a_temporary_worktree_runs_no_hook(
    pair: tuple[Path, Path], hooked: Callable[[Path], Path]
) -> None:
    repo, bare = pair
    result = make_result(repo, TWO)  # no validated tree: applied and committed in a worktree
    assert result.tree is None
    markers = hooked(repo)

    out = publish_branch(result, open_repository(str(repo)), branch="feature/two", push=True)

    assert _ran(markers) == []
    message = git(bare, "log", "-1", "--format=%B", "feature/two")
    assert message.startswith("Return two from f\n") and "HIJACKED" not in message
    assert "Tinygen-Run: 20260101-120000-abc123" in message
    assert git(bare, "show", f"{out.commit}:app.py") == TWO["app.py"]


def test_a_change_cherry_picked_onto_a_moved_pr_head_runs_no_hook(
    pair: tuple[Path, Path],
    gh: FakeGitHub,
    forge: GitHubForge,
    tmp_path: Path,
    hooked: Callable[[Path], Path],
) -> None:
    repo, bare = pair
    result = make_result(repo, TWO)
    head = _contributor(tmp_path, bare, "feature/x", {"lib/util.py": "X = 5\n"})
    number = gh.add_pull(REPO, "feature/x")
    markers = hooked(repo)

    out = push_to_pr(result, open_repository(str(repo)), forge, full_name=REPO, number=number)

    assert _ran(markers) == []
    assert git(bare, "rev-parse", f"{out.commit}^").strip() == head
    message = git(bare, "log", "-1", "--format=%B", "feature/x")
    assert message.startswith("Return two from f\n") and "HIJACKED" not in message
    assert git(bare, "show", "feature/x:app.py") == TWO["app.py"]


# --- a change placed anew on a moved head is validated again ------------------------------------

# The pull request gained a line right after the one the change edits: git's merge calls that
# a conflict, and the patch engine places the change by content.
ADJACENT = "def f():\n    return 1\n\n\ndef g():\n    return 3\n"
ADJACENT_AFTER = "def f():\n    return 2\n\n\ndef g():\n    return 3\n"


def test_a_change_placed_on_a_moved_head_is_committed_with_its_checks_passing(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, tmp_path: Path
) -> None:
    repo, bare = pair
    check = "grep -q 'return 2' app.py && grep -q 'def g' app.py"
    result = make_result(repo, TWO, checks=[CheckResult(check, 0, False, 0.1, "")])
    head = _contributor(tmp_path, bare, "feature/x", {"app.py": ADJACENT})
    number = gh.add_pull(REPO, "feature/x")

    out = push_to_pr(result, open_repository(str(repo)), forge, full_name=REPO, number=number)

    assert git(bare, "rev-parse", "feature/x").strip() == out.commit
    assert git(bare, "rev-parse", f"{out.commit}^").strip() == head
    assert git(bare, "show", "feature/x:app.py") == ADJACENT_AFTER
    assert git(bare, "log", "-1", "--format=%s", "feature/x").strip() == "Return two from f"


def test_a_change_placed_on_a_moved_head_whose_checks_fail_there_is_not_committed(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, tmp_path: Path
) -> None:
    repo, bare = pair
    # passed on the run's tree; fails on the head's (which calls f() somewhere new)
    check = "! grep -q 'f()' app.py"
    result = make_result(repo, TWO, checks=[CheckResult(check, 0, False, 0.1, "")])
    theirs = "def f():\n    return 1\n\n\ndef g():\n    return f()\n"
    head = _contributor(tmp_path, bare, "feature/x", {"app.py": theirs})
    number = gh.add_pull(REPO, "feature/x")

    with pytest.raises(ValidationError, match=r"head moved.*does not pass validation") as info:
        push_to_pr(result, open_repository(str(repo)), forge, full_name=REPO, number=number)

    assert "check(s) failed: ! grep -q 'f()' app.py" in info.value.message
    assert info.value.exit_code == ExitCode.PATCH and info.value.settings == ("ref",)
    assert info.value.saved_diff == result.diff_path
    assert git(bare, "rev-parse", "feature/x").strip() == head  # nothing pushed


def test_a_change_placed_on_a_moved_head_that_breaks_the_gate_there_is_not_committed(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, tmp_path: Path
) -> None:
    repo, bare = pair
    # the run adds `b = 2`; the head added `b = 3` at the same place: placed by content, the
    # file has the key twice, which TOML refuses (the gate's syntax check)
    result = make_result(repo, {"settings.toml": "[tool]\na = 1\nb = 2\n"})
    head = _contributor(tmp_path, bare, "feature/x", {"settings.toml": "[tool]\na = 1\nb = 3\n"})
    number = gh.add_pull(REPO, "feature/x")

    with pytest.raises(ValidationError, match=r"does not pass validation") as info:
        push_to_pr(result, open_repository(str(repo)), forge, full_name=REPO, number=number)

    assert "validation failed" in info.value.message
    assert git(bare, "rev-parse", "feature/x").strip() == head  # nothing pushed
    assert len(git(repo, "worktree", "list").splitlines()) == 1  # temporary ones removed


def test_a_failed_run_placed_on_a_moved_head_may_keep_failing_its_checks(
    pair: tuple[Path, Path], gh: FakeGitHub, forge: GitHubForge, tmp_path: Path
) -> None:
    """A run delivered as a stated failure (checks failed) is not held to checks it already
    failed; the gate still has to pass, and the commit says the run failed."""
    repo, bare = pair
    result = make_result(
        repo,
        TWO,
        status=Status.CHECKS_FAILED,
        message="check(s) failed: false",
        checks=[CheckResult("false", 1, False, 0.1, "")],
    )
    _contributor(tmp_path, bare, "feature/x", {"app.py": ADJACENT})
    number = gh.add_pull(REPO, "feature/x")

    out = push_to_pr(result, open_repository(str(repo)), forge, full_name=REPO, number=number)

    assert git(bare, "show", f"{out.commit}:app.py") == ADJACENT_AFTER
