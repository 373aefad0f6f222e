"""The cache: keyed by content, invalidated by changes, rebuilt when corrupt, safe in races."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from tests.conftest import RepoFactory
from tests.helpers import commit_all, status
from tinygen.git import state_dir
from tinygen.sheet import SheetCacheWarning, build_sheet
from tinygen.sheet.cache import CACHE_NAME


def names(sheet_files: list) -> dict[str, list[str]]:  # type: ignore[type-arg]
    return {f.path: [s.name for s in f.symbols] for f in sheet_files}


def test_warm_run_hits_and_a_change_misses_only_that_file(make_repo: RepoFactory) -> None:
    root = make_repo({f"m{i}.py": f"def f{i}(): pass\n" for i in range(5)})
    before = status(root)
    cold = build_sheet(root)
    assert (cold.stats.cache_hits, cold.stats.cache_misses) == (0, 5)
    assert (state_dir(root) / CACHE_NAME).is_file()
    assert status(root) == before  # the cache lives in .git/, not in the work tree
    warm = build_sheet(root)
    assert (warm.stats.cache_hits, warm.stats.cache_misses) == (0 + 5, 0)
    assert names(warm.files) == names(cold.files)

    (root / "m2.py").write_text("def changed(): pass\n")  # uncommitted edit
    edited = build_sheet(root)
    assert (edited.stats.cache_hits, edited.stats.cache_misses) == (4, 1)
    assert names(edited.files)["m2.py"] == ["changed"]
    commit_all(root)
    assert build_sheet(root).stats.cache_misses == 0  # same content, same blob: a hit

    (root / "m2.py").write_text("def f2(): pass\n")  # back to the old content: cached
    back = build_sheet(root)
    assert back.stats.cache_misses == 0 and names(back.files)["m2.py"] == ["f2"]


@pytest.mark.parametrize("garbage", [b"", b"TGSHEET\x01\x00\x00\x00\x00junk", b"\x00" * 100])
def test_corrupt_cache_is_rebuilt_with_a_warning(make_repo: RepoFactory, garbage: bytes) -> None:
    root = make_repo({"a.py": "def a(): pass\n"})
    build_sheet(root)
    path = state_dir(root) / CACHE_NAME
    path.write_bytes(garbage if garbage else path.read_bytes()[:-7])  # "" -> truncated
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sheet = build_sheet(root)
    assert any(issubclass(w.category, SheetCacheWarning) for w in caught)
    assert "corrupt" in str(caught[0].message)
    assert names(sheet.files) == {"a.py": ["a"]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt: the next run is clean and warm
        assert build_sheet(root).stats.cache_hits == 1


def test_concurrent_cold_runs_do_not_corrupt_the_cache(make_repo: RepoFactory) -> None:
    root = make_repo({f"pkg/m{i}.py": f"class C{i}:\n    def m(self): pass\n" for i in range(300)})
    code = (
        "import sys, warnings\n"
        "warnings.simplefilter('error')\n"
        "from pathlib import Path\n"
        "from tinygen.sheet import build_sheet\n"
        "s = build_sheet(Path(sys.argv[1]), jobs=2)\n"
        "print(len(s.files), sum(len(f.symbols) for f in s.files))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    outs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [o[1] for o in outs]
    assert {o[0].decode().strip() for o in outs} == {"300 600"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warm = build_sheet(root)
    assert warm.stats.cache_hits == 300 and warm.stats.cache_misses == 0
    assert not [p for p in state_dir(root).iterdir() if p.name.endswith(".tmp")]


def test_parallel_and_inline_builds_agree(make_repo: RepoFactory) -> None:
    files = {
        f"m{i:03}.py": f'"""Mod {i}."""\nimport m{(i + 1) % 200:03}\ndef f{i}(x: int) -> int: ...\n'
        for i in range(200)
    }
    root = make_repo(files)
    parallel = build_sheet(root, jobs=2)
    assert parallel.stats.workers == 2
    (state_dir(root) / CACHE_NAME).unlink()
    inline = build_sheet(root, jobs=1)
    assert inline.stats.workers == 1
    assert [f.as_dict() for f in parallel.files] == [f.as_dict() for f in inline.files]


def test_cached_import_resolution_follows_new_and_removed_files(make_repo: RepoFactory) -> None:
    root = make_repo({"a.py": "from lib import thing\n", "other.py": "X = 1\n"})
    assert build_sheet(root).by_path()["a.py"].resolved == ()
    (root / "lib.py").write_text("def thing(): ...\n")
    assert build_sheet(root, include_untracked=True).by_path()["a.py"].resolved == ("lib.py",)
    assert build_sheet(root).by_path()["a.py"].resolved == ()  # lib.py not walked
    commit_all(root)
    assert build_sheet(root).by_path()["a.py"].resolved == ("lib.py",)
    (root / "lib.py").unlink()
    assert build_sheet(root).by_path()["a.py"].resolved == ()
