"""Pushes (never forced, never to the default branch) and the --to-pr flow, against local
bare repositories as remotes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import branch_commit, commit_all, git, write_files
from tinygen.delivery.commits import commit_on_top
from tinygen.delivery.pushes import checkout_pr_head, push_branch, push_to_ref
from tinygen.errors import RepoError
from tinygen.repo.clone import open_repository


def _diff(old: str, new: str) -> str:
    return f"--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-{old}\n+{new}\n"


@pytest.fixture
def pair(make_repo: Callable[..., Path], bare_remote: Callable[[Path], Path]) -> tuple[Path, Path]:
    repo = make_repo({"app.py": "v1\n"})
    return repo, bare_remote(repo)


def _branch(repo: Path, name: str, new: str = "v2") -> str:
    base = git(repo, "rev-parse", "HEAD").strip()
    sha = branch_commit(
        repo, base, _diff("v1", new), branch=name, message=f"set {new}", trailers={}
    )
    return sha


def test_push_branch(pair: tuple[Path, Path]) -> None:
    repo, bare = pair
    sha = _branch(repo, "tinygen/set-v2")
    push_branch(repo, "tinygen/set-v2")
    assert git(bare, "rev-parse", "refs/heads/tinygen/set-v2").strip() == sha
    assert git(repo, "rev-parse", "refs/remotes/origin/tinygen/set-v2").strip() == sha
    push_branch(repo, "tinygen/set-v2")  # up to date: a no-op, not an error
    # A remote given as a path works the same (no tracking ref to update then).
    sha3 = _branch(repo, "tinygen/set-v3", "v3")
    push_branch(repo, "tinygen/set-v3", remote=str(bare))
    assert git(bare, "rev-parse", "refs/heads/tinygen/set-v3").strip() == sha3


def test_push_refuses_default_branches(pair: tuple[Path, Path]) -> None:
    repo, bare = pair
    for branch, default in (("main", None), ("master", None), ("develop", "develop")):
        with pytest.raises(RepoError, match=f"refusing to push to '{branch}'") as info:
            push_branch(repo, branch, default_branch=default)
        assert info.value.hint
    # origin/HEAD names the default when the caller does not know it.
    git(repo, "branch", "trunk")
    git(repo, "update-ref", "refs/remotes/origin/trunk", "HEAD")
    git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    with pytest.raises(RepoError, match="refusing to push to 'trunk'"):
        push_branch(repo, "trunk")
    with pytest.raises(RepoError, match="refusing to push to 'main'"):
        push_to_ref(repo, "HEAD", "main")
    assert git(bare, "branch", "--list").split() == ["*", "main"]  # nothing was pushed


def test_non_fast_forward_is_rejected_clearly_and_keeps_the_branch(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, bare = pair
    # Someone else already pushed a different commit to the same branch name.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    git(other, "switch", "-q", "-c", "tinygen/set-v2")
    write_files(other, {"app.py": "theirs\n"})
    theirs = commit_all(other, "theirs")
    git(other, "push", "-q", "origin", "tinygen/set-v2")

    ours = _branch(repo, "tinygen/set-v2")
    with pytest.raises(RepoError, match=r"rejected.*non-fast-forward") as info:
        push_branch(repo, "tinygen/set-v2")
    assert "never force-pushes" in str(info.value)
    assert info.value.hint and "local branch is kept" in info.value.hint
    assert git(repo, "rev-parse", "tinygen/set-v2").strip() == ours
    assert git(bare, "rev-parse", "tinygen/set-v2").strip() == theirs


def test_push_errors(pair: tuple[Path, Path]) -> None:
    repo, _bare = pair
    with pytest.raises(RepoError, match="no local branch 'nope'"):
        push_branch(repo, "nope")
    _branch(repo, "t/x")
    with pytest.raises(RepoError, match="no remote named 'upstream'") as info:
        push_branch(repo, "t/x", remote="upstream")
    assert info.value.hint and "git remote add" in info.value.hint
    for trick in ("ext::sh -c touch% /tmp/pwned", "-oProxyCommand=x"):
        with pytest.raises(RepoError, match=r"transport helpers|not a valid remote"):
            push_branch(repo, "t/x", remote=trick)
    git(repo, "remote", "add", "evil", "ext::sh -c touch% pwned")
    with pytest.raises(RepoError, match="transport helpers are not allowed"):
        push_branch(repo, "t/x", remote="evil")
    assert not (repo / "pwned").exists()
    with pytest.raises(RepoError, match="is not a valid branch name"):
        push_branch(repo, "--force")


def test_to_pr_flow(pair: tuple[Path, Path], tmp_path: Path) -> None:
    repo, bare = pair
    # A PR head branch made by someone else, not present in our checkout.
    contributor = tmp_path / "contrib"
    git(tmp_path, "clone", "-q", str(bare), str(contributor))
    git(contributor, "switch", "-q", "-c", "feature/pr-7")
    write_files(contributor, {"app.py": "pr\n"})
    pr_head = commit_all(contributor, "PR work")
    git(contributor, "push", "-q", "origin", "feature/pr-7")

    before = (git(repo, "branch", "--list"), git(repo, "rev-parse", "HEAD"))
    head = checkout_pr_head(repo, remote_url_or_name="origin", head_ref="feature/pr-7")
    assert head == pr_head
    assert git(repo, "rev-parse", "--is-shallow-repository").strip() == "false"  # still full
    top = commit_on_top(
        repo, head, _diff("pr", "pr+fix"), message="Fix the PR", trailers={"Tinygen-Run": "r7"}
    )
    assert git(repo, "rev-parse", f"{top}^").strip() == pr_head
    push_to_ref(repo, top, "feature/pr-7")
    assert git(bare, "rev-parse", "feature/pr-7").strip() == top
    assert git(bare, "show", "feature/pr-7:app.py") == "pr+fix\n"
    assert (git(repo, "branch", "--list"), git(repo, "rev-parse", "HEAD")) == before

    # The contributor pushes again meanwhile: our next stale commit is refused, not forced.
    git(contributor, "pull", "-q", "--ff-only", "origin", "feature/pr-7")
    write_files(contributor, {"app.py": "pr2\n"})
    newer = commit_all(contributor, "more PR work")
    git(contributor, "push", "-q", "origin", "feature/pr-7")
    stale = commit_on_top(repo, top, _diff("pr+fix", "again"), message="Again", trailers={})
    with pytest.raises(RepoError, match="non-fast-forward"):
        push_to_ref(repo, stale, "feature/pr-7")
    assert git(bare, "rev-parse", "feature/pr-7").strip() == newer
    # By URL rather than remote name, too.
    assert (
        checkout_pr_head(repo, remote_url_or_name=f"file://{bare}", head_ref="feature/pr-7")
        == newer
    )


def test_checkout_pr_head_validates_and_reports(pair: tuple[Path, Path]) -> None:
    repo, _bare = pair
    for bad in ("-x", "a..b", "--upload-pack=touch x", "refs/heads/@{-1}"):
        with pytest.raises(RepoError, match="is not a valid branch name"):
            checkout_pr_head(repo, remote_url_or_name="origin", head_ref=bad)
    with pytest.raises(RepoError, match="could not fetch the branch 'gone'") as info:
        checkout_pr_head(repo, remote_url_or_name="origin", head_ref="gone")
    assert info.value.hint and "exists on the remote" in info.value.hint


def test_deliver_from_the_shallow_clone_cache(pair: tuple[Path, Path]) -> None:
    repo, bare = pair
    opened = open_repository(f"file://{bare}")
    assert git(opened.root, "rev-parse", "--is-shallow-repository").strip() == "true"
    sha = branch_commit(
        opened.root,
        opened.base_commit,
        _diff("v1", "cached"),
        branch="tinygen/c",
        message="c",
        trailers={},
    )
    with pytest.raises(RepoError, match="refusing to push to 'main'"):
        push_branch(opened.root, "main", default_branch=opened.default_branch)
    push_branch(opened.root, "tinygen/c", default_branch=opened.default_branch)
    assert git(bare, "rev-parse", "tinygen/c").strip() == sha
    assert git(bare, "rev-parse", "tinygen/c^").strip() == git(repo, "rev-parse", "main").strip()
    # --to-pr from the cache: the head is fetched shallow, the cache stays usable.
    head = checkout_pr_head(opened.root, remote_url_or_name="origin", head_ref="tinygen/c")
    top = commit_on_top(opened.root, head, _diff("cached", "cached2"), message="c2", trailers={})
    push_to_ref(opened.root, top, "tinygen/c", default_branch=opened.default_branch)
    assert git(bare, "show", "tinygen/c:app.py") == "cached2\n"
    git(bare, "fsck", "--connectivity-only")


def test_the_remotes_own_default_branch_is_protected_without_origin_head(
    pair: tuple[Path, Path],
) -> None:
    # Like `git init` + `git remote add` + `git fetch` (actions/checkout): no origin/HEAD, and
    # the remote's default branch is neither main nor master.
    repo, bare = pair
    git(bare, "branch", "develop", "main")
    git(bare, "symbolic-ref", "HEAD", "refs/heads/develop")
    git(repo, "fetch", "-q", "origin")
    assert git(repo, "for-each-ref", "refs/remotes/origin/HEAD") == ""
    before = git(bare, "rev-parse", "develop").strip()
    _branch(repo, "develop")
    with pytest.raises(RepoError, match="refusing to push to 'develop'"):
        push_branch(repo, "develop")
    with pytest.raises(RepoError, match="refusing to push to 'develop'"):
        push_to_ref(repo, "develop", "develop")
    # whatever default the caller believes in (a pull request's base, say)
    with pytest.raises(RepoError, match="refusing to push to 'develop'"):
        push_to_ref(repo, "develop", "develop", default_branch="release")
    with pytest.raises(RepoError, match="refusing to push to 'develop'"):
        push_branch(repo, "develop", remote=str(bare))
    assert git(bare, "rev-parse", "develop").strip() == before
    _branch(repo, "tinygen/ok")
    push_branch(repo, "tinygen/ok")  # feature branches still go through
    assert (
        git(bare, "rev-parse", "tinygen/ok").strip() == git(repo, "rev-parse", "tinygen/ok").strip()
    )


def test_push_refused_when_the_default_branch_cannot_be_told(pair: tuple[Path, Path]) -> None:
    repo, bare = pair
    git(bare, "symbolic-ref", "HEAD", "refs/heads/gone")  # HEAD names no branch
    _branch(repo, "tinygen/x")
    with pytest.raises(RepoError, match="cannot tell the default branch") as info:
        push_branch(repo, "tinygen/x")
    assert info.value.hint
    assert "tinygen/x" not in git(bare, "branch", "--list")
    # a default branch known from elsewhere (the forge) is enough
    push_branch(repo, "tinygen/x", default_branch="main")
    assert "tinygen/x" in git(bare, "branch", "--list")
