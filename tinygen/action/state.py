"""tinygen's caches between workflow runs: the summaries (and the sheet cache) of the
clone's ``.git/tinygen`` carried through a folder that action.yml restores and saves with
``actions/cache``.

A runner starts with an empty clone cache, so what one run made would be lost with it.
action.yml names the folder in TINYGEN_ACTION_CACHE; :func:`restore` copies it into the
clone's state folder before anything reads it (and holds what it read in memory); after
the work, the folder is written again and the step says whether it changed (the save
step runs only then). Summaries are merged record by record (they are keyed by content: a
record of another tree is never wrong, at worst unused).

Two ways of writing it back, for two kinds of run:

- a refresh (a push to the default branch) runs nothing of the repository's: :func:`keep`
  copies the clone's state into the folder (summaries merged, the sheet cache whole);
- an issue or comment run runs the repository's checks, as the job's user, which could
  write anything into the clone's state or into the folder itself. :func:`keep_made`
  saves only when the run made summaries itself (``summaries = "auto"``), and then writes
  the folder from memory: what :func:`restore` read, plus the records :class:`MadeHere`
  read when the run left its summaries stage, before any check ran. The sheet cache it
  writes is the one it restored: its own, read back after the checks, is never saved.

Best effort throughout: a cache that cannot be read or written is a warning in the log,
never a failed step.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tinygen.action.outputs import StepIO
from tinygen.errors import RepoError
from tinygen.repo.git import state_dir
from tinygen.sheet.cache import CACHE_NAME, DELTA_NAME
from tinygen.sheet.summaries import INDEX_NAME, SHAS_NAME, STORE_NAME, SummaryRecord, SummaryStore

CACHE_VARIABLE = "TINYGEN_ACTION_CACHE"
SHEET_FILES = (CACHE_NAME, DELTA_NAME)  # the delta counts only with its own main file
# stages a run reports before its first check can run: a check comes after the sheet, the
# plan and the edits; a stage other than these means the summaries are done
BEFORE_ANY_CHECK = frozenset({"setup", "summaries"})

Warn = Callable[[str], None]
Progress = Callable[[str, str], None]  # a run's (stage, message), as the pipeline reports


@dataclass(frozen=True)
class Carried:
    """What the cache folder held when the run restored it (read before anything of the
    repository ran), and the summary keys the clone then had."""

    folder: Path | None
    records: dict[str, SummaryRecord] = field(default_factory=dict)
    sheet: dict[str, bytes] = field(default_factory=dict)  # file name -> content
    known: frozenset[str] = frozenset()  # the clone's summary keys after the restore
    added: int = 0  # summaries the folder added to the clone


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


def restore(folder: Path | None, root: Path, warn: Warn) -> Carried:
    """Copy the cached folder into the state of the repository at ``root``; what it held.
    The sheet cache is copied only where there is none yet (a fresh clone): one that is
    there is this machine's own, at least as new."""
    if folder is None or not folder.is_dir():
        return Carried(folder)
    try:
        state = state_dir(root)
        cached = SummaryStore.load(folder if _regular(folder / STORE_NAME) else None)
        clone = SummaryStore.load(state)
        added = clone.merge(cached)
        clone.save()
        sheet = {n: (folder / n).read_bytes() for n in SHEET_FILES if _regular(folder / n)}
        if not _regular(state / CACHE_NAME):
            _copy_sheet(folder, state)
        return Carried(folder, dict(cached.records), sheet, frozenset(clone.records), added)
    except (OSError, RepoError) as exc:
        warn(f"could not restore tinygen's cache from {folder}: {exc}")
        return Carried(folder)


def keep(folder: Path | None, root: Path, warn: Warn) -> bool:
    """Copy the state of the repository at ``root`` into the cached folder; whether the
    folder changed (and so is worth saving as a new cache entry). Only for runs that ran
    nothing of the repository's (a refresh): see :func:`keep_made` for the others."""
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


class MadeHere:
    """The summaries a run made itself: read from the clone's store once, when the run
    reports a stage past its summaries (before any check could write there), and held in
    memory. Nothing when ``auto`` is off (the run makes none)."""

    def __init__(self, root: Path, carried: Carried, *, auto: bool) -> None:
        self.root = root
        self.carried = carried
        self.auto = auto
        self.records: dict[str, SummaryRecord] = {}
        self.taken = False

    def watch(self, progress: Progress) -> Progress:
        """``progress``, taking the records at the first stage past the summaries."""

        def each(stage: str, message: str) -> None:
            if not self.taken and stage not in BEFORE_ANY_CHECK:
                self.taken = True
                self.records = self._read() if self.auto else {}
            progress(stage, message)

        return each

    def _read(self) -> dict[str, SummaryRecord]:
        try:
            store = SummaryStore.load(state_dir(self.root))
        except (OSError, RepoError):
            return {}
        known = self.carried.known
        return {key: r for key, r in store.records.items() if key not in known}


def keep_made(made: MadeHere, warn: Warn) -> bool:
    """Write the cached folder from memory: what it held when restored, plus the summaries
    the run made before its checks; whether there is anything to save (only when it made
    some: an entry with nothing new would hide a newer one from the next restore)."""
    folder = made.carried.folder
    if folder is None or not made.records:
        return False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # whatever is there now may have been written by a check: nothing of it is kept
        for name in (STORE_NAME, INDEX_NAME, SHAS_NAME, *SHEET_FILES):
            (folder / name).unlink(missing_ok=True)
        store = SummaryStore(folder)
        store.merge(SummaryStore(None, {**made.carried.records, **made.records}))
        store.save()
        for name, data in made.carried.sheet.items():
            (folder / name).write_bytes(data)
        return True
    except (OSError, RepoError) as exc:
        warn(f"could not keep tinygen's cache in {folder}: {exc}")
        return False


def restore_cache(env: Mapping[str, str], io: StepIO, root: Path) -> Carried:
    """:func:`restore` for the Action's step: what it did in the log."""
    carried = restore(cache_folder(env), root, lambda text: io.annotate("warning", text))
    if carried.added:
        io.log(f"{carried.added:,} summaries restored from the workflow's cache")
    return carried


def keep_cache(env: Mapping[str, str], io: StepIO, root: Path) -> None:
    """:func:`keep` for a refresh: the output summaries-cache=changed tells action.yml to
    save the folder as a new cache entry."""
    if keep(cache_folder(env), root, lambda text: io.annotate("warning", text)):
        io.set_output("summaries-cache", "changed")


def keep_made_cache(io: StepIO, made: MadeHere) -> None:
    """:func:`keep_made` for an issue or comment run (summaries-cache=changed as above)."""
    if keep_made(made, lambda text: io.annotate("warning", text)):
        io.set_output("summaries-cache", "changed")
        io.log(f"{len(made.records):,} summaries this run made kept for the workflow's cache")


__all__ = [
    "CACHE_VARIABLE",
    "Carried",
    "MadeHere",
    "cache_folder",
    "keep",
    "keep_cache",
    "keep_made",
    "keep_made_cache",
    "restore",
    "restore_cache",
]
