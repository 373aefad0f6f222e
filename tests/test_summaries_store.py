"""The summary store: folder keys are git's own tree SHAs (clean or changed work tree),
records survive a concurrent writer, a broken store is set aside, ``Summaries.along``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.conftest import RepoFactory
from tests.helpers import commit_all, git
from tinygen.repo.git import state_dir
from tinygen.sheet import build_sheet
from tinygen.sheet.summaries import (
    ROOT,
    STORE_NAME,
    Summaries,
    SummaryRecord,
    SummaryStore,
    SummaryStoreWarning,
    folder_shas,
    load_summaries,
)

FILES: dict[str, str | bytes] = {
    "README.md": "# Shop\n",
    "shop/__init__.py": "",
    "shop/cart.py": "def total(items):\n    return sum(items)\n",
    "shop/pay/stripe.py": "def charge(amount):\n    return amount\n",
    "shop/pay/deep/er/leaf.py": "X = 1\n",
    "shop/pay/deep/er/notes.txt": "plain\n",
    # git sorts a folder as "name/": these files must come out around "foo/" correctly
    "foo/inner.py": "Y = 2\n",
    "foo.py": "Z = 3\n",
    "foo-bar.py": "W = 4\n",
    "foo0.py": "V = 5\n",
    "docs/caf\u00e9.md": "accents\n",
    "data/blob.bin": bytes(range(256)) * 4,  # binary: skipped by the walk, still in the tree
    "tool.sh": "#!/bin/sh\necho hi\n",
}


def git_folders(root: Path, rev: str = "HEAD") -> dict[str, str]:
    """Every folder's tree SHA as git has it at ``rev`` (a commit or a tree)."""
    out = {ROOT: git(root, "rev-parse", f"{rev}^{{tree}}").strip()}
    listing = git(root, "ls-tree", "-r", "-t", "-z", rev)
    for record in listing.split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        _mode, kind, sha = meta.split(" ")
        if kind == "tree":
            out[path] = sha
    return out


@pytest.fixture
def repo(make_repo: RepoFactory) -> Path:
    root = make_repo(FILES, commit=False)
    os.chmod(root / "tool.sh", 0o755)
    os.symlink("cart.py", root / "shop/cart_link.py")  # a symlink to a file inside
    os.symlink("../nowhere", root / "shop/pay/broken")  # and one to nothing
    git(root, "add", "-A")
    # A submodule-like gitlink: a commit SHA recorded as a folder entry.
    commit = "1" * 40
    git(root, "update-index", "--add", "--cacheinfo", f"160000,{commit},shop/pay/vendored_sub")
    (root / "shop/pay/vendored_sub").mkdir()  # as a clone leaves a submodule not checked out
    commit_all(root, "initial")
    return root


def test_tree_shas_equal_gits_on_a_clean_checkout(repo: Path) -> None:
    sheet = build_sheet(repo)
    # the walk left some out of the sheet, but they are still part of their folders' trees
    assert {"data/blob.bin", "shop/pay/broken"} <= set(sheet.skipped)
    assert sheet.tracked["tool.sh"][0] == "100755"
    assert sheet.tracked["shop/pay/vendored_sub"][0] == "160000"
    shas = folder_shas(sheet)
    expected = git_folders(repo)
    assert shas == expected
    for folder in ("foo", "shop/pay/deep/er", "docs"):
        assert shas[folder] == git(repo, "rev-parse", f"HEAD:{folder}").strip()


def _work_tree_tree(repo: Path, tmp_path: Path) -> dict[str, str]:
    """What ``git add -u && git write-tree`` makes of the work tree, in a copy."""
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True)
    git(copy, "add", "-u")
    tree = git(copy, "write-tree").strip()
    return git_folders(copy, tree)


def test_a_changed_file_changes_only_its_folders(repo: Path, tmp_path: Path) -> None:
    before = folder_shas(build_sheet(repo))
    (repo / "shop/pay/deep/er/leaf.py").write_text("X = 2  # changed, not staged\n")
    after = folder_shas(build_sheet(repo))
    assert after == _work_tree_tree(repo, tmp_path)
    changed = {folder for folder in before if before[folder] != after[folder]}
    assert changed == {ROOT, "shop", "shop/pay", "shop/pay/deep", "shop/pay/deep/er"}
    assert before.keys() == after.keys()


def test_changes_the_walk_does_not_read_are_hashed(repo: Path, tmp_path: Path) -> None:
    # a binary file (skipped by the walk: the SHA comes from git hash-object) and a
    # deleted one (its folder's tree no longer holds it)
    (repo / "data/blob.bin").write_bytes(bytes(range(255, -1, -1)) * 4)
    (repo / "foo/inner.py").unlink()
    sheet = build_sheet(repo)
    assert sheet.tracked["data/blob.bin"][1] is None
    shas = folder_shas(sheet)
    assert shas == _work_tree_tree(repo, tmp_path)
    assert "foo" not in shas  # its only file is gone, and so is the folder


def test_a_changed_mode_or_a_file_made_a_symlink_counts(repo: Path, tmp_path: Path) -> None:
    os.chmod(repo / "foo.py", 0o755)
    (repo / "shop/pay/stripe.py").unlink()
    os.symlink("../cart.py", repo / "shop/pay/stripe.py")
    (repo / "shop/cart_link.py").unlink()
    os.symlink("__init__.py", repo / "shop/cart_link.py")  # a symlink pointing elsewhere
    assert folder_shas(build_sheet(repo)) == _work_tree_tree(repo, tmp_path)


def test_a_submodule_gone_from_the_work_tree_spoils_nothing_else(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "shop/pay/vendored_sub").rmdir()  # git then lists it as changed
    (repo / "foo/inner.py").write_text("Y = 3\n")
    (repo / "data/blob.bin").write_bytes(b"\0changed")  # hashed by git, beside the submodule
    before = folder_shas(build_sheet(repo))
    expected = _work_tree_tree(repo, tmp_path)
    # what a deleted submodule's folder would be is not known: shop/pay and its ancestors
    # miss; every other folder, the changed one included, is git's
    for folder in ("foo", "data", "shop/pay/deep", "docs"):
        assert before[folder] == expected[folder]
    assert before["shop/pay"] != git_folders(repo)["shop/pay"]


def test_a_large_file_skipped_by_size_still_counts(repo: Path, tmp_path: Path) -> None:
    (repo / "shop/cart.py").write_text("def total(items):\n    return 0\n" * 50)
    sheet = build_sheet(repo, max_file_bytes=100)
    assert sheet.skipped.get("shop/cart.py") == "too-large"
    assert folder_shas(sheet) == _work_tree_tree(repo, tmp_path)


def record(kind: str, text: str, model: str = "m1", **kw: object) -> SummaryRecord:
    return SummaryRecord(kind=kind, text=text, model=model, prompt="1", **kw)  # type: ignore[arg-type]


def test_records_are_found_by_content(repo: Path) -> None:
    sheet = build_sheet(repo)
    shas = folder_shas(sheet)
    store = SummaryStore.load(state_dir(repo))
    blob = sheet.by_path()["shop/cart.py"].blob
    store.put(blob, record("file", "Sums a cart."))
    store.put(shas["shop/pay"], record("folder", "Payment providers."))
    store.put(shas[ROOT], record("overview", "A shop."))
    store.save()
    found = load_summaries(build_sheet(repo))
    assert found.file_text("shop/cart.py") == "Sums a cart."
    assert found.folder_text("shop/pay") == "Payment providers."
    assert found.overview is not None and found.overview.text == "A shop."
    # A change below shop/pay gives it (and the root) another tree: their records miss;
    # the file's record is keyed by its blob and stays.
    (repo / "shop/pay/stripe.py").write_text("def charge(amount):\n    return -amount\n")
    again = load_summaries(build_sheet(repo))
    assert again.file_text("shop/cart.py") == "Sums a cart."
    assert again.folder_text("shop/pay") == "" and again.overview is None


def test_best_prefers_the_asked_model_then_any() -> None:
    store = SummaryStore(None)
    store.put("a" * 40, record("file", "by m1", model="m1"))
    store.put("a" * 40, record("file", "by m2", model="m2"))
    assert store.best("file", "a" * 40, "m1").text == "by m1"  # type: ignore[union-attr]
    assert store.best("file", "a" * 40, "other").text == "by m2"  # type: ignore[union-attr]
    assert store.best("folder", "a" * 40) is None


_WRITER = """
import sys
from pathlib import Path
from tinygen.sheet.summaries import SummaryRecord, SummaryStore
store = SummaryStore.load(Path(sys.argv[1]))
store.put("c" * 40, SummaryRecord(kind="file", text="from the other writer", model="m",
                                  prompt="1"))
store.save()
"""


def test_save_merges_what_a_concurrent_writer_saved(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    first = SummaryStore.load(folder)
    first.put("a" * 40, record("file", "mine"))
    # Another process loads and saves after this store was loaded, before it saves.
    subprocess.run(
        [sys.executable, "-c", _WRITER, str(folder)],
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    first.put("b" * 40, record("file", "mine too"))
    assert first.unsaved == 2
    first.save()
    assert first.unsaved == 0
    assert first.best("file", "c" * 40) is not None  # merged into memory as well
    on_disk = SummaryStore.load(folder)
    texts = sorted(r.text for r in on_disk.records.values())
    assert texts == ["from the other writer", "mine", "mine too"]
    assert not [p.name for p in folder.iterdir() if p.name != STORE_NAME]  # no temp left


def test_an_unreadable_store_is_set_aside_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / STORE_NAME).write_text("{not json")
    with pytest.warns(SummaryStoreWarning, match="unusable"):
        store = SummaryStore.load(folder)
    assert store.records == {}
    # a reader leaves it alone (it may be a newer tinygen's); the next writer sets it aside
    assert (folder / STORE_NAME).read_text() == "{not json"
    store.put("a" * 40, record("file", "fresh"))
    with pytest.warns(SummaryStoreWarning, match="kept as"):
        store.save()
    assert (folder / f"{STORE_NAME[:-5]}.json.bad").read_text() == "{not json"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new store reads back without a warning
        assert [r.text for r in SummaryStore.load(folder).records.values()] == ["fresh"]


def test_a_store_of_another_format_is_left_to_the_tinygen_that_wrote_it(tmp_path: Path) -> None:
    newer = json.dumps({"format": 99, "records": {}})
    (tmp_path / STORE_NAME).write_text(newer)
    with pytest.warns(SummaryStoreWarning, match="no summaries are used"):
        assert SummaryStore.load(tmp_path).records == {}
    assert (tmp_path / STORE_NAME).read_text() == newer  # a reader changes nothing
    assert not (tmp_path / f"{STORE_NAME[:-5]}.json.bad").exists()


def test_bad_records_are_dropped_and_long_texts_cut(tmp_path: Path) -> None:
    good = record("file", "x" * 10_000).to_json()
    payload = {
        "format": 1,
        "records": {
            "file:" + "a" * 40 + ":m1:1": good,
            "file:" + "b" * 40 + ":m1:1": {
                "kind": "poem",
                "text": "?",
                "model": "m",
                "prompt": "1",
            },
            "nocolons": good,
        },
    }
    (tmp_path / STORE_NAME).write_text(json.dumps(payload))
    store = SummaryStore.load(tmp_path)
    assert list(store.records) == ["file:" + "a" * 40 + ":m1:1"]
    assert len(store.records["file:" + "a" * 40 + ":m1:1"].text) == 4000


def test_along_gives_the_folders_of_paths_outermost_first_each_once() -> None:
    s = Summaries(
        folders={
            "shop": record("folder", "the shop"),
            "shop/pay": record("folder", "payments"),
            "shop/pay/deep": record("folder", "deep"),
            "docs": record("folder", "docs"),
        }
    )
    paths = ["shop/pay/deep/x.py", "shop/cart.py", "docs/a.md", "top.py"]
    assert s.along(paths) == [
        ("shop", "the shop"),
        ("shop/pay", "payments"),
        ("shop/pay/deep", "deep"),
        ("docs", "docs"),
    ]
    assert s.along(paths, limit=2) == [("shop", "the shop"), ("shop/pay", "payments")]
    assert s.along(["top.py"]) == []
    assert not Summaries() and bool(s)
