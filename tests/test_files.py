from __future__ import annotations

import pytest

from tests.helpers import git, write_files
from tinygen.errors import PatchApplyError, PathPolicyError, RepoError
from tinygen.repo.files import uncommitted, write_files_atomically
from tinygen.repo.texts import WorkingTreeTexts


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


def test_uncommitted_counts_ignored_files(make_repo) -> None:
    root = make_repo({".gitignore": ".env\nbuild/\n", "a.txt": "a\n"})
    write_files(root, {".env": "SECRET=1\n", "build/out.txt": "o\n"})
    assert uncommitted(root, [".env", "build/out.txt", "a.txt"]) == [".env", "build/out.txt"]


def test_write_refuses_a_file_changed_since_it_was_read(make_repo) -> None:
    root = make_repo({"a.txt": "a\n", "b.txt": "b\n"})
    write_files(root, {"b.txt": "edited meanwhile\n"})
    with pytest.raises(RepoError, match=r"b\.txt changed on disk"):
        write_files_atomically(
            root,
            {"a.txt": "A\n", "b.txt": "B\n", "c.txt": "C\n"},
            expected={"a.txt": "a\n", "b.txt": "b\n", "c.txt": None},
        )
    assert (root / "a.txt").read_text() == "a\n" and not (root / "c.txt").exists()
    write_files(root, {"c.txt": "appeared\n"})
    with pytest.raises(RepoError, match=r"c\.txt changed on disk"):
        write_files_atomically(root, {"c.txt": "C\n"}, expected={"c.txt": None})
    write_files_atomically(root, {"a.txt": "A\n"}, expected={"a.txt": "a\n"})
    assert (root / "a.txt").read_text() == "A\n"


def test_a_file_can_become_a_directory(make_repo) -> None:
    root = make_repo({"zz": "file\n", "keep.txt": "k\n"})
    write_files_atomically(root, {"zz": None, "zz/x.txt": "x\n"})
    assert (root / "zz" / "x.txt").read_text() == "x\n"
    with pytest.raises(RepoError, match=r"keep\.txt is a file"):
        write_files_atomically(root, {"keep.txt/y.txt": "y\n"})
    with pytest.raises(RepoError, match="it is a directory"):
        write_files_atomically(root, {"zz": "file again\n"})
    assert (root / "zz" / "x.txt").read_text() == "x\n" and (root / "keep.txt").is_file()
