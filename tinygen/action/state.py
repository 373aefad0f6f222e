"""tinygen's caches between workflow runs: the summaries (and the sheet cache) of the
clone's ``.git/tinygen`` carried through a folder that action.yml restores and saves with
``actions/cache``.

A runner starts with an empty clone cache, so what one run made would be lost with it.
action.yml names the folder in TINYGEN_ACTION_CACHE; :func:`restore` copies it into the
clone's state folder before anything reads it, :func:`keep` copies the state back after
the work and says whether the folder changed (the save step runs only then). Summaries
are merged record by record (they are keyed by content: a record of another tree is
never wrong, at worst unused); the sheet cache files are copied whole.

Best effort throughout: a cache that cannot be read or written is a warning in the log,
never a failed step.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

from tinygen.action.outputs import StepIO
from tinygen.errors import RepoError
from tinygen.repo.git import state_dir
from tinygen.sheet.cache import CACHE_NAME, DELTA_NAME
from tinygen.sheet.summaries import STORE_NAME, SummaryStore

CACHE_VARIABLE = "TINYGEN_ACTION_CACHE"
SHEET_FILES = (CACHE_NAME, DELTA_NAME)  # the delta counts only with its own main file

Warn = Callable[[str], None]


def cache_folder(env: Mapping[str, str]) -> Path | None:
    """The folder actions/cache keeps (None: not in a workflow that set one)."""
    text = env.get(CACHE_VARIABLE, "").strip()
    return Path(text) if text else None


def _regular(path: Path) -> bool:
    """A regular file, not a link: a restored cache is read, never followed."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _digest(folder: Path) -> dict[str, str]:
    out = {}
    for name in (STORE_NAME, *SHEET_FILES):
        if _regular(folder / name):
            out[name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    return out


def _copy_sheet(source: Path, target: Path) -> None:
    for name in SHEET_FILES:
        if _regular(source / name):
            shutil.copyfile(source / name, target / name)
        elif (target / name).exists():
            (target / name).unlink()  # a delta of another main file


def _merge_summaries(source: Path, target: Path) -> int:
    if not _regular(source / STORE_NAME):
        return 0
    store = SummaryStore.load(target)
    added = store.merge(SummaryStore.load(source))
    store.save()
    return added


def restore(folder: Path | None, root: Path, warn: Warn) -> int:
    """Copy the cached folder into the state of the repository at ``root``; how many
    summaries it added. The sheet cache is copied only where there is none yet (a fresh
    clone): one that is there is this machine's own, at least as new."""
    if folder is None or not folder.is_dir():
        return 0
    try:
        state = state_dir(root)
        added = _merge_summaries(folder, state)
        if not _regular(state / CACHE_NAME):
            _copy_sheet(folder, state)
        return added
    except (OSError, RepoError) as exc:
        warn(f"could not restore tinygen's cache from {folder}: {exc}")
        return 0


def keep(folder: Path | None, root: Path, warn: Warn) -> bool:
    """Copy the state of the repository at ``root`` into the cached folder; whether the
    folder changed (and so is worth saving as a new cache entry)."""
    if folder is None:
        return False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        before = _digest(folder)
        state = state_dir(root)
        _merge_summaries(state, folder)
        _copy_sheet(state, folder)
        return _digest(folder) != before
    except (OSError, RepoError) as exc:
        warn(f"could not keep tinygen's cache in {folder}: {exc}")
        return False


def restore_cache(env: Mapping[str, str], io: StepIO, root: Path) -> None:
    """:func:`restore` for the Action's step: what it did in the log."""
    folder = cache_folder(env)
    added = restore(folder, root, lambda text: io.annotate("warning", text))
    if added:
        io.log(f"{added:,} summaries restored from the workflow's cache")


def keep_cache(env: Mapping[str, str], io: StepIO, root: Path) -> None:
    """:func:`keep` for the Action's step: the output summaries-cache=changed tells
    action.yml to save the folder as a new cache entry."""
    if keep(cache_folder(env), root, lambda text: io.annotate("warning", text)):
        io.set_output("summaries-cache", "changed")


__all__ = ["CACHE_VARIABLE", "cache_folder", "keep", "keep_cache", "restore", "restore_cache"]
