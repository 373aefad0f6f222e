"""Forgetting old work: jobs and their events in the store, run records in the clone cache;
and, at start, what the jobs of a killed server left in the clone cache.

A server runs for months; without this its database and its cache's run records
(``<cache>/<host>/<owner>/<name>.git/tinygen/runs/<run id>/``) grow with every job.
``--keep-days`` says how long finished jobs and run records are kept; queued and running
jobs are never pruned.

A server killed while jobs ran (``kill -9``, a crash) leaves their temporary worktrees
registered in the cached repositories and their run records ``running``: the next server
removes those worktrees and marks those records interrupted (:func:`recover_cache`, with
:func:`tinygen.runs.recover`), as the store marks the jobs themselves failed. Anything of a
live process (another server on the same cache) is left alone.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from tinygen.errors import TinygenError
from tinygen.runs import recover
from tinygen.server.jobs import JobStore

log = logging.getLogger("tinygen.server")

DAY = 86400.0


def cached_repositories(cache_dir: Path) -> Iterator[Path]:
    """The repositories in the clone cache (``*.git`` folders with a HEAD)."""
    if not cache_dir.is_dir():
        return
    for top, dirs, _files in os.walk(cache_dir):
        here = Path(top)
        if here.name.endswith(".git") and (here / "HEAD").is_file():
            dirs[:] = []  # a repository: never walk its objects
            yield here


def prune_run_records(cache_dir: Path, before: float) -> int:
    """Delete run records older than ``before`` (by modification time) in every cached
    repository under ``cache_dir``; how many. Cached repositories themselves stay."""
    removed = 0
    for here in cached_repositories(cache_dir):
        runs = here / "tinygen" / "runs"
        if not runs.is_dir():
            continue
        for record in runs.iterdir():
            try:
                if record.is_dir() and record.stat().st_mtime < before:
                    shutil.rmtree(record)
                    removed += 1
            except OSError:
                log.warning("cannot remove the old run record %s", record, exc_info=True)
    return removed


def recover_cache(cache_dir: Path) -> int:
    """Clean up after jobs whose server was killed: in every cached repository, remove the
    temporary worktrees of processes that have ended and mark their run records
    interrupted. How many repositories had something to clean up."""
    cleaned = 0
    for here in cached_repositories(cache_dir):
        try:
            done = recover(here, here / "tinygen")
        except TinygenError as exc:  # one broken entry must not keep the server down
            log.warning("cannot clean up after interrupted jobs in %s: %s", here, exc)
            continue
        if done:
            cleaned += 1
            log.warning("%s: %s", here, done.describe())
    return cleaned


def prune(store: JobStore, cache_dir: Path, keep_days: float, now: float | None = None) -> None:
    """Drop finished jobs and run records older than ``keep_days``."""
    before = (time.time() if now is None else now) - keep_days * DAY
    jobs = store.prune(before)
    records = prune_run_records(cache_dir, before)
    if jobs or records:
        log.info(
            "pruned %d job(s) and %d run record(s) older than %g days", jobs, records, keep_days
        )


__all__ = ["DAY", "cached_repositories", "prune", "prune_run_records", "recover_cache"]
