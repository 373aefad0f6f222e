"""The Action's cache folder and a clone's .git/tinygen (tinygen/action/state.py): records
merged both ways, a fresh clone takes the cached sheet, and a cache that cannot be read
or written is a warning, never a failure; an issue run's folder is written from memory:
what was restored and what the run made before its checks, nothing written since. Real
git repositories, real stores."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tinygen.action.state import MadeHere, keep, keep_made, restore
from tinygen.repo.git import state_dir
from tinygen.sheet.cache import CACHE_NAME, DELTA_NAME
from tinygen.sheet.summaries import (
    INDEX_NAME,
    STORE_NAME,
    SummaryRecord,
    SummaryStore,
    SummaryStoreWarning,
)


def record(text: str) -> SummaryRecord:
    return SummaryRecord(kind="file", text=text, model="m", prompt="1", path="a.py")


def store_with(folder: Path, **texts: str) -> None:
    """Records ``sha -> text`` written to ``folder``'s store."""
    store = SummaryStore.load(folder)
    for sha, text in texts.items():
        store.put(sha, record(text))
    store.save()


def texts(folder: Path) -> set[str]:
    return {r.text for r in SummaryStore.load(folder).records.values()}


def test_records_are_merged_both_ways(tmp_path: Path, make_repo: Callable[..., Path]) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    cache = tmp_path / "cache"
    cache.mkdir()
    store_with(cache, aaa="from the cache")
    store_with(state_dir(repo), bbb="made here")
    warnings: list[str] = []
    assert restore(cache, repo, warnings.append).added == 1
    assert texts(state_dir(repo)) == {"from the cache", "made here"}
    assert keep(cache, repo, warnings.append) is True  # the folder gained a record
    assert texts(cache) == {"from the cache", "made here"}
    assert keep(cache, repo, warnings.append) is False  # nothing new: nothing to save
    assert warnings == []


def test_a_fresh_clone_takes_the_cached_sheet_and_gives_back_its_own(
    tmp_path: Path, make_repo: Callable[..., Path]
) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / CACHE_NAME).write_bytes(b"main of another runner")
    (cache / DELTA_NAME).write_bytes(b"its delta")
    restore(cache, repo, print)
    state = state_dir(repo)
    assert (state / CACHE_NAME).read_bytes() == b"main of another runner"
    assert (state / DELTA_NAME).read_bytes() == b"its delta"
    # this machine's own sheet cache is never replaced by the cached one
    (state / CACHE_NAME).write_bytes(b"rewritten here")
    (state / DELTA_NAME).unlink()
    restore(cache, repo, print)
    assert (state / CACHE_NAME).read_bytes() == b"rewritten here"
    assert keep(cache, repo, print) is True
    assert (cache / CACHE_NAME).read_bytes() == b"rewritten here"
    assert not (cache / DELTA_NAME).exists()  # the old delta belonged to the old main file


def test_a_broken_or_linked_cache_is_not_followed(
    tmp_path: Path, make_repo: Callable[..., Path]
) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    cache = tmp_path / "cache"
    cache.mkdir()
    secret = tmp_path / "elsewhere.bin"
    secret.write_bytes(b"not tinygen's")
    os.symlink(secret, cache / CACHE_NAME)
    (cache / STORE_NAME).write_text("{not json")
    warnings: list[str] = []
    with pytest.warns(SummaryStoreWarning, match="unusable"):
        assert restore(cache, repo, warnings.append).added == 0
    state = state_dir(repo)
    assert not (state / CACHE_NAME).exists()  # the link was not followed
    assert texts(state) == set()


def test_a_folder_that_cannot_be_written_is_a_warning(
    tmp_path: Path, make_repo: Callable[..., Path]
) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    store_with(state_dir(repo), aaa="made here")
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    warnings: list[str] = []
    assert keep(blocker / "cache", repo, warnings.append) is False
    assert len(warnings) == 1 and "could not keep tinygen's cache" in warnings[0]


def test_no_folder_no_work(make_repo: Callable[..., Path]) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    assert restore(None, repo, print).added == 0 and keep(None, repo, print) is False
    assert json.dumps(sorted(p.name for p in state_dir(repo).iterdir())) == "[]"


def made_in(repo: Path, cache: Path, *, auto: bool = True) -> tuple[MadeHere, list[str]]:
    """A run on ``repo`` after restoring ``cache``: its summaries stage makes a record,
    the run moves on (the sheet), then a check plants records and files everywhere."""
    made = MadeHere(repo, restore(cache, repo, print), auto=auto)
    stages: list[str] = []
    progress = made.watch(lambda stage, message: stages.append(stage))
    progress("setup", "recovered nothing")
    progress("summaries", "making 1 of 1 summaries")
    store_with(state_dir(repo), ccc="made by the run")
    progress("summaries", "1 of 1 summaries refreshed")
    progress("sheet", "mapping the repository")
    for folder in (state_dir(repo), cache):  # what a check could do, as the same user
        store_with(folder, ddd="PLANTED")
        (folder / CACHE_NAME).write_bytes(b"PLANTED sheet")
    (cache / INDEX_NAME).write_bytes(b"PLANTED index")
    (state_dir(repo) / "other.bin").write_bytes(b"x")
    progress("checks", "running the checks")  # later stages take nothing more
    store_with(state_dir(repo), eee="made after the checks")
    return made, stages


def test_an_issue_run_keeps_what_it_restored_and_made_before_its_checks(
    tmp_path: Path, make_repo: Callable[..., Path]
) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    cache = tmp_path / "cache"
    cache.mkdir()
    store_with(cache, aaa="from the cache")
    (cache / CACHE_NAME).write_bytes(b"the refresh's sheet")
    made, stages = made_in(repo, cache)
    assert stages == ["setup", "summaries", "summaries", "sheet", "checks"]  # all passed on
    assert {r.text for r in made.records.values()} == {"made by the run"}
    warnings: list[str] = []
    assert keep_made(made, warnings.append) is True
    assert texts(cache) == {"from the cache", "made by the run"}
    assert (cache / CACHE_NAME).read_bytes() == b"the refresh's sheet"  # as restored
    assert not (cache / INDEX_NAME).exists()
    assert warnings == []


def test_an_issue_run_that_made_nothing_keeps_nothing(
    tmp_path: Path, make_repo: Callable[..., Path]
) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    cache = tmp_path / "cache"
    cache.mkdir()
    store_with(cache, aaa="from the cache")
    # summaries = "cached": what appears in the store is not the run's
    made, _ = made_in(repo, cache, auto=False)
    assert made.records == {} and keep_made(made, print) is False
    # "auto" with every summary cached: the stage made none, a check's are not taken
    nothing = MadeHere(repo, restore(cache, repo, print), auto=True)
    progress = nothing.watch(lambda stage, message: None)
    progress("sheet", "mapping the repository")
    store_with(state_dir(repo), fff="PLANTED by a check")
    progress("checks", "running the checks")
    assert nothing.records == {} and keep_made(nothing, print) is False


def test_without_a_cache_folder_an_issue_run_keeps_nothing(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    made = MadeHere(repo, restore(None, repo, print), auto=True)
    progress = made.watch(lambda stage, message: None)
    store_with(state_dir(repo), ccc="made by the run")
    progress("sheet", "mapping the repository")
    assert len(made.records) == 1 and keep_made(made, print) is False
