"""The path policy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import RepoFactory
from tinygen.errors import PathPolicyError
from tinygen.validate import PathPolicy, check_path
from tinygen.validate.paths import matches


def test_normalizes_good_paths(make_repo: RepoFactory) -> None:
    root = make_repo({"src/a.py": "x\n"})
    assert check_path(root, "./src//a.py", PathPolicy()) == "src/a.py"
    assert check_path(root, "src/new/b.py", PathPolicy()) == "src/new/b.py"


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("../x", "leaves the repository"),
        ("a/../../x", "leaves the repository"),
        ("/etc/passwd", "absolute"),
        (".git/config", ".git/"),
        ("sub/.GIT/hooks/x", ".git/"),
        (".github/workflows/ci.yml", "protected"),
        ("", "invalid"),
    ],
)
def test_refusals(make_repo: RepoFactory, path: str, needle: str) -> None:
    root = make_repo({"a.txt": "a\n"})
    with pytest.raises(PathPolicyError) as info:
        check_path(root, path, PathPolicy())
    assert needle in str(info.value)


def test_symlinks(make_repo: RepoFactory, tmp_path: Path) -> None:
    root = make_repo({"a.txt": "a\n", ".github/workflows/ci.yml": "x\n"})
    os.symlink(tmp_path, root / "out")
    os.symlink(root / ".git", root / "g")
    os.symlink(root / ".github" / "workflows", root / "wf")
    os.symlink("a.txt", root / "link.txt")
    for path, needle in [
        ("out/x", "outside the repository"),
        ("g/config", ".git/"),
        ("wf/ci.yml", "protected"),
        ("link.txt", "symbolic link"),
    ]:
        with pytest.raises(PathPolicyError) as info:
            check_path(root, path, PathPolicy())
        assert needle in str(info.value), path


def test_globs() -> None:
    assert matches(".github/workflows/a/b.yml", (".github/workflows/**",))
    assert matches("x/secrets.env", ("**/*.env",)) and matches("secrets.env", ("**/*.env",))
    assert not matches("src/a.py", ("*.py",))
    assert matches("a.py", ("*.py",))


@pytest.mark.parametrize(
    "path",
    [
        ".GitHub/Workflows/x.yml",  # case-insensitive filesystems (macOS, Windows)
        ".TINYGEN.toml",
        ".github/workflows./x.yml",  # NTFS drops trailing dots
        ".gi\u200ct/hooks/pre-commit",  # HFS+ ignores zero-width characters
        ".GIT/config",
        "GIT~1/config",  # NTFS short name of .git
        "sub/.git /hooks/x",
    ],
)
def test_protected_and_git_paths_are_matched_as_case_insensitive_filesystems_see_them(
    tmp_path: Path, path: str
) -> None:
    with pytest.raises(PathPolicyError):
        check_path(tmp_path, path, PathPolicy())


def test_folding_does_not_refuse_ordinary_names(tmp_path: Path) -> None:
    assert check_path(tmp_path, "docs/GitHub.md", PathPolicy()) == "docs/GitHub.md"
    assert check_path(tmp_path, "Workflows/x.yml", PathPolicy()) == "Workflows/x.yml"
    allowed = PathPolicy(allowed=(".github/workflows/ci.yml",))
    assert check_path(tmp_path, ".GitHub/workflows/ci.yml", allowed) == ".GitHub/workflows/ci.yml"
