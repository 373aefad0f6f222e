"""A push to the default branch with refresh-summaries on: make the summaries its new tip
is missing (``tinygen summarize`` in the Action), so that runs find them cached.

    clone the branch ─► restore the workflow's cache ─► plan (cached vs to make)
        ─► summarize with summary-model inside summaries-max-cost ─► keep the cache

Only what changed is paid for: the records are keyed by content, so after a push that
changed one file, that file, its ancestor folders and the overview are made again. A
build stopped by the cost limit keeps what it made (the cache is kept whatever happens);
the next push makes the rest.
"""

from __future__ import annotations

from collections.abc import Mapping

from tinygen.action.event import Event
from tinygen.action.outputs import StepIO
from tinygen.action.preflight import refresh_overrides, repo_url
from tinygen.action.state import keep_cache, restore_cache
from tinygen.config import load_settings
from tinygen.redact import redact
from tinygen.repo.clone import open_repository
from tinygen.repo.git import temp_worktree
from tinygen.summarize.build import Report
from tinygen.summarize.job import plan_summaries, summarize
from tinygen.summarize.progress import every_tenth


def refresh_summaries(
    env: Mapping[str, str], io: StepIO, event: Event, token: str | None
) -> Report:
    """The report of the build on the tip of the pushed branch (the default branch).
    TinygenError when the repository cannot be opened or the settings are wrong; a build
    stopped by the cost limit or a failed summary is in the report, as ``tinygen
    summarize`` reports it."""
    url = repo_url(env, event.repository)
    branch = (event.ref or "").removeprefix("refs/heads/")
    io.log(f"fetching {redact(url)} ({branch})")
    opened = open_repository(url, ref=branch, token=token)
    restore_cache(env, io, opened.root)
    try:
        settings = load_settings(
            opened.root, refresh_overrides(env), env, commit=opened.base_commit
        )
        with temp_worktree(opened.root, opened.base_commit) as tree:
            found = plan_summaries(tree, settings)
            est = found.estimate
            cost = "" if est.cost_usd is None else f", about ${est.cost_usd:.4f}"
            io.log(
                f"{est.total:,} summaries on {opened.base_commit[:12]}: {est.cached:,} cached, "
                f"{est.calls:,} to make with {settings.summary_model}{cost}"
                + (f" (limit ${settings.max_cost:.4f})" if settings.max_cost is not None else "")
            )
            # a workflow log has no progress bar: the plain lines of `tinygen summarize`
            summarize(found, settings, progress=every_tenth(lambda t: io.log(f"summaries: {t}")))
    finally:
        keep_cache(env, io, opened.root)  # what was made is kept, also after a stop
    assert found.report is not None
    return found.report


__all__ = ["refresh_summaries"]
