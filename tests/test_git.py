from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import git, status
from tinygen.errors import RepoError
from tinygen.repo.git import head_commit, repo_root, resolve_commit, state_dir, temp_worktree


def test_concurrent_worktrees_on_one_repository(make_repo) -> None:
    """git itself races on its worktree list; temp_worktree must serialize add/remove."""
    root = make_repo({"a.txt": "a\n"})
    base = head_commit(root)
    assert base is not None

    def use(i: int) -> str:
        with temp_worktree(root, base) as wt:
            return (wt / "a.txt").read_text()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(use, range(36)))
    assert results == ["a\n"] * 36
    assert git(root, "worktree", "list").count("\n") == 1  # only the main worktree is left


def test_temp_worktree_is_removed_on_error_and_leaves_the_checkout_alone(make_repo) -> None:
    root = make_repo({"a.txt": "a\n"})
    before = status(root)
    base = head_commit(root)
    assert base is not None
    with pytest.raises(ValueError), temp_worktree(root, base) as wt:
        (wt / "a.txt").write_text("changed\n")
        raise ValueError("boom")
    assert not wt.exists()
    assert status(root) == before
    assert git(root, "worktree", "list").count("\n") == 1


def test_repo_root_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(RepoError) as info:
        repo_root(tmp_path)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(RepoError):
        repo_root(tmp_path / "missing")


def test_empty_repository_has_no_head_and_refs_are_checked(make_repo) -> None:
    root = make_repo()
    assert head_commit(root) is None
    with pytest.raises(RepoError) as info:
        resolve_commit(root, "--upload-pack=evil")
    assert "is not a commit" in str(info.value)


def test_state_dir_lives_in_the_git_directory(make_repo) -> None:
    root = make_repo({"a.txt": "a\n"})
    assert state_dir(root) == (root / ".git" / "tinygen").resolve()
    assert status(root) == ""  # nothing untracked appeared in the working tree


def test_temporary_worktrees_run_no_smudge_filters_and_no_hooks(
    make_repo, isolated_env: Path
) -> None:
    """A repository's .lfsconfig / .gitattributes must not make a checkout fetch or run
    anything (SSRF from the HTTP service): smudge filters and hooks are off."""
    marker = isolated_env / "ran"
    root = make_repo({".gitattributes": "*.bin filter=lfs\n", "data.bin": "pointer\n"})
    with open(isolated_env / ".gitconfig", "a") as fh:
        fh.write(f'[filter "lfs"]\n\tsmudge = "touch {marker}-smudge; cat"\n\trequired = true\n')
    hook = root / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}-hook\n")
    hook.chmod(0o755)
    base = head_commit(root)
    assert base is not None
    with temp_worktree(root, base) as wt:
        assert (wt / "data.bin").read_text() == "pointer\n"
    assert not list(isolated_env.glob("ran-*")), "a filter or hook ran"
