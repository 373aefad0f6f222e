"""A refused write leaves nothing behind (issue 12 item 8): when one target of a several-file
change cannot be replaced, the originals are back and no temporary or backup file remains
in the working tree. Real repositories; the real CLI for the reported case."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import RepoFactory
from tests.helpers import status
from tinygen.cli import cli
from tinygen.errors import ExitCode, RepoError
from tinygen.repo.files import write_files_atomically

FILES = {"a.txt": "a\n", "b.txt": "b\n", "sub/c.txt": "c\n"}
TWO_FILES = "--- a/a.txt\n+++ b/a.txt\n@@\n-a\n+A\n--- a/b.txt\n+++ b/b.txt\n@@\n-b\n+B\n"


def tree(root: Path) -> dict[str, bytes]:
    """Every file of the working tree (not .git) with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def _can_make_immutable(path: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


@pytest.fixture
def unreplaceable(make_repo: RepoFactory) -> Iterator[tuple[Path, str]]:
    """A checkout where b.txt cannot be renamed: immutable when we may set that (root, as
    in the report), else b.txt is a directory that the change deletes as a file."""
    root = make_repo(FILES)
    if _can_make_immutable(root / "b.txt"):
        try:
            yield root, TWO_FILES
        finally:
            subprocess.run(["chattr", "-i", str(root / "b.txt")], check=True)
        return
    (root / "b.txt").unlink()
    (root / "b.txt").mkdir()
    (root / "b.txt" / "keep").write_text("k\n")
    yield root, "--- a/a.txt\n+++ b/a.txt\n@@\n-a\n+A\n"


def test_apply_with_an_unwritable_target_leaves_nothing_behind(
    unreplaceable: tuple[Path, str],
) -> None:
    root, diff = unreplaceable
    before, git_before = tree(root), status(root)
    if (root / "b.txt").is_dir():  # not root: the same failure through the library
        with pytest.raises(RepoError, match="nothing was changed"):
            write_files_atomically(root, {"a.txt": "A\n", "b.txt": None})
    else:
        result = CliRunner().invoke(cli, ["apply", "--repo", str(root)], input=diff)
        assert result.exit_code == ExitCode.REPO, result.stderr
        assert "nothing was changed" in result.stderr
    assert tree(root) == before  # no .b.txt.*.bak, no .a.txt.*.tinygen
    assert status(root) == git_before


def test_deleting_a_path_that_became_a_directory_leaves_nothing_behind(
    make_repo: RepoFactory,
) -> None:
    """The rename that moves a deleted file aside fails (it is a directory now) after the
    other file was already replaced: everything goes back, no reserved name stays."""
    root = make_repo(FILES)
    (root / "b.txt").unlink()
    (root / "b.txt").mkdir()
    (root / "b.txt" / "keep").write_text("k\n")
    before = tree(root)
    with pytest.raises(RepoError, match="nothing was changed"):
        write_files_atomically(root, {"a.txt": "A\n", "new/d.txt": "d\n", "b.txt": None})
    assert tree(root) == before
    assert not (root / "new").exists()
