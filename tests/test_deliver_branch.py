"""Branch names and commits made in a temporary worktree: the user's checkout never changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import commit_all, git, status, write_files
from tinygen.delivery.branches import (
    branch_name_for,
    create_branch_at,
    slugify,
    validate_branch_name,
)
from tinygen.delivery.commits import (
    DEFAULT_IDENTITY,
    build_message,
    commit_on_top,
)
from tinygen.errors import PatchApplyError, PatchParseError, PathPolicyError, RepoError

DIFF = (
    "--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n def main():\n-    return 1\n+    return 2\n"
    "--- /dev/null\n+++ b/docs/new.md\n@@ -0,0 +1 @@\n+hello\n"
)


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo({"app.py": "def main():\n    return 1\n", ".gitignore": "*.log\n"})


def _snapshot(root: Path) -> tuple[str, ...]:
    return (
        status(root),
        git(root, "rev-parse", "HEAD"),
        git(root, "symbolic-ref", "HEAD"),
        git(root, "diff"),
        git(root, "diff", "--cached"),
        git(root, "stash", "list"),
        git(root, "worktree", "list", "--porcelain"),
    )


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Fix: the parser's CRLF bug!", "fix-the-parser-s-crlf-bug"),
        ("Café déjà vu", "cafe-deja-vu"),
        ("  --Leading dashes and /slashes/..  ", "leading-dashes-and-slashes"),
        ("🚀🚀", "change"),
        ("", "change"),
        (
            "Add a very long title that keeps going well past the limit of the slug length",
            "add-a-very-long-title-that-keeps-going-well",
        ),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug
    assert len(slugify(title)) <= 48


@pytest.mark.parametrize(
    "name",
    [
        "-x",
        "a..b",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "HEAD",
        "@",
        "@{-1}",
        "x.lock",
        "x/",
        "/x",
        "a\x00b",
        "a\nb",
        "a*",
    ],
)
def test_invalid_branch_names(name: str) -> None:
    with pytest.raises(RepoError, match="is not a valid branch name") as info:
        validate_branch_name(name)
    assert info.value.hint


@pytest.mark.parametrize("name", ["tinygen/fix-1", "feature/x.y", "UPPER_case"])
def test_valid_branch_names(name: str) -> None:
    assert validate_branch_name(name) == name


def test_branch_name_collisions_local_and_remote(
    repo: Path, bare_remote: Callable[[Path], Path]
) -> None:
    bare = bare_remote(repo)
    title = "Fix the bug"
    assert branch_name_for(repo, title) == "tinygen/fix-the-bug"
    git(repo, "branch", "tinygen/fix-the-bug")  # taken locally
    assert branch_name_for(repo, title) == "tinygen/fix-the-bug-2"
    # Taken only on the remote (never fetched here): ls-remote finds it.
    git(bare, "branch", "tinygen/fix-the-bug-2", "main")
    assert branch_name_for(repo, title) == "tinygen/fix-the-bug-3"
    assert branch_name_for(repo, title, remote=None) == "tinygen/fix-the-bug-2"
    assert branch_name_for(repo, title, prefix="bot-") == "bot-fix-the-bug"
    # `tinygen/x` cannot coexist with `tinygen/x/y`: treated as taken.
    git(repo, "branch", "tinygen/other/deeper")
    assert branch_name_for(repo, "other") == "tinygen/other-2"


def test_branch_name_when_a_prefix_is_a_branch(repo: Path) -> None:
    git(repo, "branch", "tinygen")
    with pytest.raises(RepoError, match="a branch named 'tinygen' exists") as info:
        branch_name_for(repo, "Anything")
    assert info.value.hint


def test_branch_name_offline_remote_falls_back_to_local(repo: Path, tmp_path: Path) -> None:
    git(repo, "remote", "add", "origin", str(tmp_path / "gone.git"))
    git(repo, "branch", "tinygen/a")
    assert branch_name_for(repo, "a") == "tinygen/a-2"


def test_a_commit_and_its_branch_leave_the_checkout_alone(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    # Make the user's state busy: another branch checked out, dirty, staged, untracked, ignored.
    git(repo, "switch", "-q", "-c", "work")
    write_files(repo, {"app.py": "def main():\n    return 99\n"})
    later = commit_all(repo, "user work")
    write_files(
        repo, {"app.py": "dirty\n", "staged.txt": "s\n", "notes.txt": "u\n", "x.log": "i\n"}
    )
    git(repo, "add", "staged.txt")
    before = _snapshot(repo)
    branches_before = git(repo, "branch", "--list")

    sha = commit_on_top(
        repo,
        base,
        DIFF,
        message="Return 2 from main\n\nThe plan said so.",
        trailers={
            "Co-authored-by": "tinygen (model-x) <tinygen@example.invalid>",
            "Tinygen-Run": "run-42",
        },
        author=("Bot", "bot@example.invalid"),
    )
    create_branch_at(repo, "tinygen/change", sha)

    assert _snapshot(repo) == before
    assert git(repo, "rev-parse", "HEAD").strip() == later
    after = set(git(repo, "branch", "--list").split()) - set(branches_before.split())
    assert after == {"tinygen/change"}
    assert git(repo, "rev-parse", "tinygen/change").strip() == sha
    assert git(repo, "rev-parse", "tinygen/change^").strip() == base
    assert git(repo, "show", "tinygen/change:app.py") == "def main():\n    return 2\n"
    assert git(repo, "show", "tinygen/change:docs/new.md") == "hello\n"
    assert git(repo, "log", "-1", "--format=%an <%ae>", "tinygen/change").strip() == (
        "Bot <bot@example.invalid>"
    )
    message = git(repo, "log", "-1", "--format=%B", "tinygen/change")
    assert message.startswith("Return 2 from main\n\nThe plan said so.\n\n")
    trailers = git(repo, "log", "-1", "--format=%(trailers:only,unfold)", "tinygen/change")
    assert "Tinygen-Run: run-42" in trailers and "Co-authored-by: tinygen (model-x)" in trailers


def test_refusals_and_bad_diffs(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    before = _snapshot(repo)
    sha = commit_on_top(repo, base, DIFF, message="m", trailers={})
    with pytest.raises(RepoError, match="already exists"):
        create_branch_at(repo, "main", sha)
    with pytest.raises(RepoError, match="is not a valid branch name"):
        create_branch_at(repo, "-f", sha)
    with pytest.raises(PatchParseError, match="the diff is empty"):
        commit_on_top(repo, base, "  \n", message="m", trailers={})
    stale = DIFF.replace("-    return 1", "-    return 7")
    with pytest.raises(PatchApplyError, match="does not apply") as info:
        commit_on_top(repo, base, stale, message="m", trailers={})
    assert "app.py" in info.value.feedback
    with pytest.raises(RepoError, match="is not a commit"):
        commit_on_top(repo, "no-such-ref", DIFF, message="m", trailers={})
    # Nothing was left behind by the failures: no branch, no worktree, same checkout.
    assert "t/x" not in git(repo, "branch", "--list")
    assert _snapshot(repo) == before


def test_no_identity_configured_uses_the_default(
    repo: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    for name in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(name)
    with (isolated_env / ".gitconfig").open("a") as fh:
        fh.write("[user]\n\tuseConfigOnly = true\n")  # like a fresh CI runner: no identity
    base = git(repo, "rev-parse", "HEAD").strip()
    sha = commit_on_top(repo, base, DIFF, message="m", trailers={})
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>", sha).strip() == (
        "{0} <{1}>|{0} <{1}>".format(*DEFAULT_IDENTITY)
    )
    assert git(repo, "rev-parse", f"{sha}^").strip() == base
    assert git(repo, "branch", "--contains", sha).strip() == ""  # on no branch


def test_build_message() -> None:
    assert (
        build_message("  Title  \n\n body  \n", {"A-B": "x\ny  z"})
        == "Title\n\n body\n\nA-B: x y z\n"
    )
    assert build_message("Title", {}) == "Title\n"
    with pytest.raises(ValueError, match="bad trailer key"):
        build_message("T", {"bad key": "v"})
    with pytest.raises(ValueError, match="commit message is required"):
        build_message("  ", {})


def _git_diff_of(repo: Path, files: dict[str, str]) -> str:
    """The diff git itself writes for adding ``files`` (C-quoted names and all); the
    checkout is left as it was."""
    write_files(repo, files)
    git(repo, "add", "--", *files)
    diff = git(repo, "diff", "--cached")
    git(repo, "reset", "-q")
    for name in files:
        (repo / name).unlink()
    return diff


@pytest.mark.parametrize(
    "path",
    [
        ".github/workflows/évil.yml",  # git writes "b/.github/workflows/\303\251vil.yml"
        '.github/workflows/a "quoted" name.yml',
        ".github/workflows/with space.yml",
    ],
)
def test_commit_checks_the_paths_git_writes(repo: Path, path: str) -> None:
    diff = _git_diff_of(repo, {path: "on: push\n"})
    assert '"' in diff.splitlines()[0] or " " in path  # git quoted (or spaced) the name
    base = git(repo, "rev-parse", "HEAD").strip()
    before = _snapshot(repo)
    with pytest.raises(PathPolicyError, match="is protected"):
        commit_on_top(repo, base, diff, message="m", trailers={})
    assert _snapshot(repo) == before


def test_commit_allows_unusual_names_outside_protected_paths(repo: Path) -> None:
    names = {"docs/café menu.md": "x\n", 'docs/say "hi".txt': "y\n"}
    diff = _git_diff_of(repo, names)
    base = git(repo, "rev-parse", "HEAD").strip()
    sha = commit_on_top(repo, base, diff, message="m", trailers={})
    assert git(repo, "show", f"{sha}:docs/café menu.md") == "x\n"
    # a rename out of a protected directory is refused too (its old side is checked)
    write_files(repo, {".github/workflows/ci.yml": "on: push\n"})
    base = commit_all(repo, "ci")
    git(repo, "mv", ".github/workflows/ci.yml", "ci.yml")
    rename = git(repo, "diff", "--cached", "-M")
    git(repo, "reset", "-q", "--hard")
    assert "rename from" in rename
    with pytest.raises(PathPolicyError, match=r"\.github/workflows/ci\.yml.*is protected"):
        commit_on_top(repo, base, rename, message="m", trailers={})
