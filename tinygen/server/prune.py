"""Forgetting old work: jobs and their events in the store, run records in the clone cache.

A server runs for months; without this its database and its cache's run records
(``<cache>/<host>/<owner>/<name>.git/tinygen/runs/<run id>/``) grow with every job.
``--keep-days`` says how long finished jobs and run records are kept; queued and running
jobs are never pruned.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from tinygen.server.jobs import JobStore

log = logging.getLogger("tinygen.server")

DAY = 86400.0


def prune_run_records(cache_dir: Path, before: float) -> int:
    """Delete run records older than ``before`` (by modification time) in every cached
    repository under ``cache_dir``; how many. Cached repositories themselves stay."""
    if not cache_dir.is_dir():
        return 0
    removed = 0
    for top, dirs, _files in os.walk(cache_dir):
        here = Path(top)
        if here.name.endswith(".git") and (here / "HEAD").is_file():
            dirs[:] = []  # a repository: never walk its objects
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


def prune(store: JobStore, cache_dir: Path, keep_days: float, now: float | None = None) -> None:
    """Drop finished jobs and run records older than ``keep_days``."""
    before = (time.time() if now is None else now) - keep_days * DAY
    jobs = store.prune(before)
    records = prune_run_records(cache_dir, before)
    if jobs or records:
        log.info(
            "pruned %d job(s) and %d run record(s) older than %g days", jobs, records, keep_days
        )


__all__ = ["DAY", "prune", "prune_run_records"]
