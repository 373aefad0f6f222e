"""The cache: keyed by content, invalidated by changes, rebuilt when corrupt, safe in races."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.conftest import RepoFactory
from tests.helpers import commit_all, git, status
from tinygen.repo.git import state_dir
from tinygen.sheet import FileEntry, SheetCacheWarning, build_sheet
from tinygen.sheet.cache import CACHE_NAME, MAGIC


def names(sheet_files: list[FileEntry]) -> dict[str, list[str]]:
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


@pytest.mark.parametrize("garbage", [b"", MAGIC + b"\x00\x00\x00\x00junk", b"\x00" * 100])
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


def test_warm_entries_equal_cold_ones(make_repo: RepoFactory) -> None:
    from tinygen.sheet import render_sheet

    root = make_repo(
        {
            "pkg/__init__.py": "",
            "pkg/a.py": '"""A."""\nimport os\nfrom pkg import b\n\n@dec\nclass A:\n    def m(self) -> int: ...\n',
            "pkg/b.py": "X = 1\n\ndef helper_function(x):\n    return x\n",
            "web/app.ts": "import { y } from './y';\nexport function z(): number { return 1; }\n",
            "web/y.ts": "export const y = 2;\n",
        }
    )
    cold = build_sheet(root, query="helper function in pkg")
    warm = build_sheet(root, query="helper function in pkg")
    assert warm.stats.cache_misses == 0
    assert [f.as_dict() for f in warm.files] == [f.as_dict() for f in cold.files]
    assert warm.files == cold.files
    assert render_sheet(warm, None) == render_sheet(cold, None)
    assert render_sheet(warm, 120) == render_sheet(cold, 120)
    assert [(f.defs, f.terms, f.refs) for f in warm.files] == [
        (f.defs, f.terms, f.refs) for f in cold.files
    ]


def test_one_change_writes_only_the_small_delta(make_repo: RepoFactory) -> None:
    from tinygen.sheet.cache import DELTA_MIN, DELTA_NAME

    root = make_repo(
        {f"m{i:03}.py": f"import m{(i + 1) % 200:03}\ndef f{i}(): pass\n" for i in range(200)}
    )
    build_sheet(root)
    main = state_dir(root) / CACHE_NAME
    delta = state_dir(root) / DELTA_NAME
    main_bytes = main.read_bytes()
    assert not delta.exists()
    for k in range(3):
        (root / "m007.py").write_text(f"import m008\ndef changed{k}(): pass\n")
        edited = build_sheet(root)
        assert (edited.stats.cache_hits, edited.stats.cache_misses) == (199, 1)
        assert names(edited.files)["m007.py"] == [f"changed{k}"]
        assert edited.by_path()["m007.py"].resolved == ("m008.py",)
        assert main.read_bytes() == main_bytes  # the big file is not rewritten
        assert delta.is_file() and delta.stat().st_size < len(main_bytes) // 4
    # The delta counts on the next run: nothing to scan, and nothing is written.
    before = delta.read_bytes()
    again = build_sheet(root)
    assert again.stats.cache_misses == 0 and delta.read_bytes() == before
    # Many changes fold the delta into a new main file.
    for i in range(DELTA_MIN + 20):
        (root / f"m{i:03}.py").write_text(f"def g{i}(): pass\n")
    folded = build_sheet(root)
    assert folded.stats.cache_misses == DELTA_MIN + 20
    assert main.read_bytes() != main_bytes and not delta.exists()
    assert build_sheet(root).stats.cache_misses == 0


def test_stale_or_corrupt_delta(make_repo: RepoFactory) -> None:
    from tinygen.sheet.cache import DELTA_NAME

    root = make_repo({"a.py": "def a(): pass\n", "b.py": "def b(): pass\n"})
    build_sheet(root)
    (root / "a.py").write_text("def a2(): pass\n")
    build_sheet(root)  # writes the delta
    delta = state_dir(root) / DELTA_NAME
    saved = delta.read_bytes()
    # A delta written against another main file is ignored, silently.
    (state_dir(root) / CACHE_NAME).unlink()
    build_sheet(root)  # cold: a new main file with a new id (and the old delta removed)
    delta.write_bytes(saved)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sheet = build_sheet(root)
    assert sheet.stats.cache_misses == 0 and names(sheet.files)["a.py"] == ["a2"]
    # A corrupt delta is a warning, and the main file still serves.
    delta.write_bytes(saved[:-3])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sheet = build_sheet(root)
    assert any("corrupt" in str(w.message) for w in caught)
    assert names(sheet.files) == {"a.py": ["a2"], "b.py": ["b"]}


def test_cache_from_another_layout_version_is_rebuilt_silently(make_repo: RepoFactory) -> None:
    root = make_repo({"a.py": "def a(): pass\n"})
    build_sheet(root)
    path = state_dir(root) / CACHE_NAME
    path.write_bytes(MAGIC[:-1] + b"\x01" + path.read_bytes()[len(MAGIC) :])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sheet = build_sheet(root)
    assert sheet.stats.cache_misses == 1 and names(sheet.files) == {"a.py": ["a"]}
    assert path.read_bytes().startswith(MAGIC)


def test_a_file_that_differs_from_the_index_is_cached_under_its_own_content(
    make_repo: RepoFactory, tmp_path: Path
) -> None:
    """`git update-index --assume-unchanged` hides an edit from `git ls-files -m`: the
    index's blob SHA no longer names what is on disk. The record must be stored under the
    SHA of what was read, or a clean checkout of the commit (which shares the cache
    through the git directory) would be served the local edit's symbols."""
    root = make_repo({"a.py": "def committed(): pass\n", "b.py": "X = 1\n"})
    git(root, "update-index", "--assume-unchanged", "a.py")
    (root / "a.py").write_text("def local_edit(): pass\n")
    local = build_sheet(root).by_path()["a.py"]
    assert [s.name for s in local.symbols] == ["local_edit"]
    assert local.blob == git(root, "hash-object", "a.py").strip()
    clean = tmp_path / "clean"
    git(root, "worktree", "add", "--detach", "--quiet", str(clean), "HEAD")
    sheet = build_sheet(clean)
    assert [s.name for s in sheet.by_path()["a.py"].symbols] == ["committed"]
    assert sheet.by_path()["a.py"].blob == git(clean, "rev-parse", "HEAD:a.py").strip()


def test_the_scan_keys_its_record_by_what_it_read(make_repo: RepoFactory) -> None:
    """A file changed after `git ls-files` (or between the walk's hash and the parse):
    the outcome's blob is the SHA of the bytes analyzed, whatever the listing said."""
    from tinygen.sheet.scan import Job, scan_batch

    root = make_repo({"a.py": "def listed(): pass\n"})
    listed_blob = git(root, "rev-parse", "HEAD:a.py").strip()
    (root / "a.py").write_text("def parsed(): pass\n")
    (out,) = scan_batch([Job("a.py", "python")], str(root), 1_000_000)
    assert out.blob == git(root, "hash-object", "a.py").strip() != listed_blob
    assert out.record is not None and b"parsed" in out.record.symbols


def test_no_usable_git_folder_runs_without_the_cache(make_repo: RepoFactory) -> None:
    root = make_repo({"a.py": "def a(): pass\n"})
    folder = root / ".git" / "tinygen"
    folder.write_text("not a folder")  # a file where tinygen's folder would go
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sheet = build_sheet(root)
    assert names(sheet.files) == {"a.py": ["a"]}
    (w,) = [w for w in caught if issubclass(w.category, SheetCacheWarning)]
    assert str(folder) in str(w.message) and "running without the sheet cache" in str(w.message)
    assert folder.read_text() == "not a folder"


def test_read_only_git_directory_runs_without_the_cache(make_repo: RepoFactory) -> None:
    from tests.test_sheet_walk import run_unprivileged

    root = make_repo({"a.py": "def a(): pass\n"})
    git_dir = root / ".git"
    code = (
        "import sys\n"
        "from tinygen.cli import main\n"
        "sys.argv = ['tinygen', 'map', sys.argv[1]]\n"
        "main()\n"
    )
    git_dir.chmod(0o555)
    try:
        proc = run_unprivileged(code, str(root))
    finally:
        git_dir.chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert "def a()" in proc.stdout and "Traceback" not in proc.stderr
    assert "tinygen: warning: cannot create tinygen's folder" in proc.stderr
    assert not (git_dir / "tinygen").exists()


def test_a_grammar_upgrade_rebuilds_the_cache(make_repo: RepoFactory, tmp_path: Path) -> None:
    root = make_repo({"a.py": "def a(): pass\n", "b.py": "def b(): pass\n"})
    assert build_sheet(root).stats.cache_misses == 2
    assert build_sheet(root).stats.cache_misses == 0
    # Another tree-sitter-python found first on sys.path, as after `pip install -U`.
    upgraded = tmp_path / "site"
    (upgraded / "tree_sitter_python-99.1.0.dist-info").mkdir(parents=True)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tinygen.sheet import build_sheet\n"
        "print(build_sheet(Path(sys.argv[1])).stats.cache_misses)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(upgraded)}

    def misses() -> str:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(root)], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    assert misses() == "2"  # every record rebuilt
    assert misses() == "0"  # and cached under the new version


def test_workers_are_not_forked_while_other_threads_run(make_repo: RepoFactory) -> None:
    """fork copies only the calling thread: a lock another thread holds (the SDK import of
    `tinygen run`, a server's job threads) would stay locked in the child forever. With
    other threads alive the workers are fresh interpreters, which also works when this
    process's main module cannot be re-run (multiprocessing's spawn would: `python -`)."""
    files = {f"m{i:03}.py": f"import m{(i + 1) % 200:03}\ndef f{i}(): pass\n" for i in range(200)}
    root = make_repo(files)
    inline = [f.as_dict() for f in build_sheet(root, jobs=1).files]
    (state_dir(root) / CACHE_NAME).unlink()
    code = (
        "import json, sys, threading\n"
        "from pathlib import Path\n"
        "from tinygen.sheet import build_sheet\n"
        "from tinygen.sheet.build import pool_start_method\n"
        "stop = threading.Event()\n"
        "other = threading.Thread(target=stop.wait)\n"
        "other.start()\n"
        "sheet = build_sheet(Path(sys.argv[1]), jobs=2)\n"
        "print(json.dumps([pool_start_method(), sheet.stats.workers, sheet.stats.cache_misses,\n"
        "                  [f.as_dict() for f in sheet.files]]))\n"
        "stop.set()\n"
    )
    # The code on stdin: the main module is "<stdin>", which no worker could re-run.
    proc = subprocess.run(
        [sys.executable, "-", str(root)], input=code, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    method, workers, misses, entries = json.loads(proc.stdout)
    assert (method, workers, misses) == ("subprocess", 2, 200)
    assert entries == inline


def test_ranking_data_left_by_an_unranked_build_is_filled_in_and_stored(
    make_repo: RepoFactory,
) -> None:
    """A build without a query leaves each record's referenced identifiers and term bag
    for later (a cold `tinygen map` does not need them); the first build that ranks
    computes them, in workers when there are many, and stores them; the result is the
    same as a cold ranked build's."""
    from tinygen.sheet.cache import load
    from tinygen.sheet.model import PENDING

    files = {
        f"pkg/m{i:03}.py": f'"""Billing step {i}."""\nfrom pkg.m{(i + 1) % 160:03} import Invoice{(i + 1) % 160}\n'
        f"class Invoice{i}:\n    def total_amount(self) -> int: ...\n"
        for i in range(160)
    }
    root = make_repo(files)
    query = "Invoice7 total amount is wrong"
    unranked = build_sheet(root, jobs=2)
    assert unranked.stats.workers == 2

    def pending() -> int:
        cache = load(state_dir(root))
        return sum(cache.cold.get(key)[2] == PENDING for key in cache.records)

    assert pending() == 160
    # Asked anyway (a budget without a query ranks too), an entry reads its own file.
    lazily = {f.path: (f.refs, f.terms) for f in unranked.files}
    ranked = build_sheet(root, query=query, jobs=2)
    assert ranked.stats.cache_misses == 0 and pending() == 0
    order = [(f.path, f.score) for f in ranked.files]
    filled = {f.path: (f.refs, f.terms) for f in ranked.files}
    (state_dir(root) / CACHE_NAME).unlink()
    cold = build_sheet(root, query=query, jobs=2)
    assert cold.stats.cache_misses == 160
    assert [(f.path, f.score) for f in cold.files] == order
    assert {f.path: (f.refs, f.terms) for f in cold.files} == filled == lazily
    refs, terms = filled["pkg/m006.py"]
    assert "Invoice7" in refs.split() and "bill" in marshal.loads(terms)
    warm = build_sheet(root, query=query)
    assert [(f.path, f.score) for f in warm.files] == order


def only_in_this_process(chunk: list[int], pid: int) -> list[int]:
    """A task every worker process fails (importable by them, as a worker needs)."""
    if os.getpid() != pid:
        raise RuntimeError("a worker that breaks")
    return [x * 10 for x in chunk]


def test_work_a_failed_worker_leaves_is_done_here() -> None:
    from tinygen.sheet.build import _in_subprocesses

    chunks = [[i, i + 100] for i in range(12)]
    got = _in_subprocesses(only_in_this_process, chunks, 3, os.getpid())
    assert sorted(got) == sorted(x * 10 for chunk in chunks for x in chunk)
