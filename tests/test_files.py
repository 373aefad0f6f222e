from __future__ import annotations

import pytest

from tests.helpers import git, write_files
from tinygen.errors import PatchApplyError, PathPolicyError
from tinygen.files import WorkingTreeTexts, uncommitted


def test_uncommitted_sees_modified_staged_untracked_and_renamed(make_repo) -> None:
    root = make_repo({"a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n", "d.txt": "d\n"})
    write_files(root, {"a.txt": "changed\n", "new.txt": "n\n"})
    git(root, "mv", "b.txt", "b2.txt")
    write_files(root, {"c.txt": "staged\n"})
    git(root, "add", "c.txt")
    paths = ["a.txt", "b.txt", "b2.txt", "c.txt", "d.txt", "new.txt"]
    assert uncommitted(root, paths) == ["a.txt", "b2.txt", "c.txt", "new.txt"]
    assert uncommitted(root, ["d.txt"]) == []
    assert uncommitted(root, []) == []


def test_working_tree_texts_reads_lazily_and_refuses_escapes(make_repo, tmp_path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret\n")
    root = make_repo({"a.txt": "a\r\n", "bin.dat": b"\x00\x01", "latin.txt": b"caf\xe9\n"})
    (root / "link.txt").symlink_to(outside)
    texts = WorkingTreeTexts(root, ["a.txt", "bin.dat", "latin.txt"])
    assert texts["a.txt"] == "a\r\n"  # exact bytes, CRLF kept
    assert "a.txt" in texts and "missing.txt" not in texts
    with pytest.raises(KeyError):
        texts["missing.txt"]
    with pytest.raises(PatchApplyError, match="binary"):
        texts["bin.dat"]
    with pytest.raises(PatchApplyError, match="not UTF-8"):
        texts["latin.txt"]
    with pytest.raises(PathPolicyError):
        texts["link.txt"]
    with pytest.raises(PathPolicyError):
        texts["../secret.txt"]
    assert list(texts) == ["a.txt", "bin.dat", "latin.txt"]
