"""publish_branch: real repositories, local bare remotes (apply_diff: test_repo_apply)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.helpers import commit_all, git, status, write_files
from tinygen.delivery.publish import PublishResult, publish_branch
from tinygen.errors import PatchParseError, PathPolicyError, RepoError
from tinygen.llm.usage import Usage
from tinygen.models import FileEdit, Plan, PlanItem, RunResult, Status, Verdict
from tinygen.patch import canonical_diff
from tinygen.repo.clone import open_repository
from tinygen.validate.checks import CheckResult
from tinygen.validate.gate import GateReport, Problem

FILES = {"app.py": "def f():\n    return 1\n", "lib/util.py": "X = 1\n", "README.md": "# app\n"}


def make_result(
    root: Path,
    after: Mapping[str, str | None],
    *,
    title: str = "Return two from f",
    status: Status = Status.APPROVED,
    message: str = "Looks right.",
    base: str | None = None,
    run_id: str = "20260101-120000-abc123",
    validation: GateReport | None = None,
    checks: list[CheckResult] | None = None,
) -> RunResult:
    """A RunResult as the pipeline makes it: a canonical diff against ``base``."""
    base = base or git(root, "rev-parse", "HEAD").strip()
    before: dict[str, str | None] = {}
    for path in after:
        proc = subprocess.run(
            ["git", "show", f"{base}:{path}"], cwd=root, capture_output=True, text=True
        )
        before[path] = proc.stdout if proc.returncode == 0 else None
    items = tuple(
        PlanItem(p, "create" if before[p] is None else "modify", f"Change {p}.") for p in after
    )
    return RunResult(
        run_id=run_id,
        status=status,
        message=message,
        diff=canonical_diff(before, after),
        plan=Plan(summary=f"{title}, as asked.", title=title, files=items),
        verdict=Verdict(approved=status == Status.APPROVED, summary=message),
        edits=[
            FileEdit(p, i.action, before[p], after[p], 1, notes=f"edited {p}")
            for p, i in zip(after, items, strict=True)
        ],
        validation=validation
        if validation is not None
        else GateReport(base, checks_run=["parse", "apply"]),
        checks=checks or [],
        usage=Usage(input_tokens=1200, output_tokens=300),
        calls=3,
        cost_usd=0.0123,
        model="claude-test-1",
        base_commit=base,
        diff_path=str(root / "diff.patch"),
    )


def _state(repo: Path) -> tuple[str, str, str]:
    return status(repo), git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "HEAD")


# --- publish_branch --------------------------------------------------------------------------


def test_branch_has_one_commit_with_trailers_and_the_checkout_is_untouched(
    pair: tuple[Path, Path],
) -> None:
    repo, bare = pair
    write_files(repo, {"scratch.txt": "the user's own work\n"})  # untracked, must survive
    before = _state(repo)
    result = make_result(repo, {"app.py": "def f():\n    return 2\n"})

    out = publish_branch(result, open_repository(str(repo)), branch=None, push=False)

    assert out == PublishResult("tinygen/return-two-from-f", out.commit, None, None, False)
    assert git(repo, "rev-parse", "tinygen/return-two-from-f").strip() == out.commit
    assert git(repo, "rev-parse", f"{out.commit}^").strip() == result.base_commit
    assert git(repo, "rev-list", "--count", f"{result.base_commit}..{out.commit}").strip() == "1"
    assert git(repo, "show", f"{out.commit}:app.py") == "def f():\n    return 2\n"
    message = git(repo, "log", "-1", "--format=%B", out.commit)
    assert message.startswith("Return two from f\n\nReturn two from f, as asked.")
    assert "Review (approved): Looks right." in message
    assert "- app.py (modify): Change app.py." in message
    trailers = git(repo, "log", "-1", "--format=%(trailers)", out.commit)
    assert "Co-authored-by: tinygen (claude-test-1) <tinygen@users.noreply.github.com>" in trailers
    assert "Tinygen-Run: 20260101-120000-abc123" in trailers
    assert _state(repo) == before
    assert "tinygen/return-two-from-f" not in git(bare, "branch", "--list")  # not pushed


def test_branch_name_collision_gets_a_suffix_and_explicit_names_are_checked(
    pair: tuple[Path, Path],
) -> None:
    repo, _bare = pair
    opened = open_repository(str(repo))
    result = make_result(repo, {"app.py": "def f():\n    return 2\n"})
    first = publish_branch(result, opened, branch=None, push=False)
    second = publish_branch(result, opened, branch="", push=False)
    assert (first.branch, second.branch) == (
        "tinygen/return-two-from-f",
        "tinygen/return-two-from-f-2",
    )
    assert publish_branch(result, opened, branch="mine/x", push=False).branch == "mine/x"
    with pytest.raises(RepoError, match="already exists"):
        publish_branch(result, opened, branch="mine/x", push=False)
    with pytest.raises(RepoError, match="not a valid branch name"):
        publish_branch(result, opened, branch="bad..name", push=False)


def test_push_goes_to_a_feature_branch_never_the_default_and_never_forced(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, bare = pair
    opened = open_repository(str(repo))
    result = make_result(repo, {"app.py": "def f():\n    return 2\n"})
    out = publish_branch(result, opened, branch=None, push=True)
    assert git(bare, "rev-parse", out.branch).strip() == out.commit

    main_before = git(bare, "rev-parse", "main").strip()
    with pytest.raises(RepoError, match="refusing to push to 'main'"):
        publish_branch(result, opened, branch="main", push=True)
    assert git(bare, "rev-parse", "main").strip() == main_before

    # Someone else owns `taken` on the remote: our push is rejected, never forced.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    git(other, "switch", "-q", "-c", "taken")
    write_files(other, {"README.md": "theirs\n"})
    theirs = commit_all(other, "theirs")
    git(other, "push", "-q", "origin", "taken")
    with pytest.raises(RepoError, match="non-fast-forward"):
        publish_branch(result, opened, branch="taken", push=True)
    assert git(bare, "rev-parse", "taken").strip() == theirs
    assert git(repo, "rev-parse", "--verify", "taken").strip() != theirs  # ours is kept locally


def test_push_from_the_clone_cache_leaves_no_branch_in_the_cache(pair: tuple[Path, Path]) -> None:
    repo, bare = pair
    opened = open_repository(str(bare))
    assert opened.is_clone
    result = make_result(opened.root, {"lib/util.py": "X = 2\n"}, base=opened.base_commit)
    out = publish_branch(result, opened, branch=None, push=True)
    assert git(bare, "show", f"{out.branch}:lib/util.py") == "X = 2\n"
    assert (
        git(bare, "rev-parse", f"{out.branch}^").strip() == git(repo, "rev-parse", "HEAD").strip()
    )
    assert git(opened.root, "for-each-ref", "refs/heads/").strip() == ""
    # The next run's default name sees the remote branch.
    again = publish_branch(result, opened, branch=None, push=True)
    assert again.branch == out.branch + "-2"


def test_failed_run_is_committed_with_the_failure_stated(pair: tuple[Path, Path]) -> None:
    repo, _bare = pair
    result = make_result(
        repo,
        {"app.py": "def f():\n    return 2\n"},
        status=Status.CHECKS_FAILED,
        message="check(s) failed: pytest -q",
    )
    out = publish_branch(result, open_repository(str(repo)), branch=None, push=False)
    message = git(repo, "log", "-1", "--format=%B", out.commit)
    assert message.startswith("[checks_failed] Return two from f\n")
    assert (
        "NOT APPROVED: tinygen run 20260101-120000-abc123 did not succeed (checks_failed): check(s) failed: pytest -q"
        in message
    )
    assert "Tinygen-Status: checks_failed" in message


def test_refuses_what_must_not_be_delivered(pair: tuple[Path, Path]) -> None:
    repo, bare = pair
    opened = open_repository(str(repo))
    refs_before = git(repo, "for-each-ref")
    empty = make_result(repo, {}, status=Status.NO_CHANGE)
    with pytest.raises(PatchParseError, match="produced no diff"):
        publish_branch(empty, opened, branch=None, push=True)
    policy = make_result(
        repo,
        {".github/workflows/x.yml": "on: push\n"},
        status=Status.INVALID,
        validation=GateReport(
            "", problems=[Problem("path", "protected", ".github/workflows/x.yml")]
        ),
    )
    with pytest.raises(PathPolicyError, match=r"forbids \(.github/workflows/x.yml\)") as info:
        publish_branch(policy, opened, branch=None, push=True)
    assert info.value.saved_diff and info.value.saved_diff.endswith("diff.patch")
    assert git(repo, "for-each-ref") == refs_before
    assert git(bare, "branch", "--list").split() == ["*", "main"]
