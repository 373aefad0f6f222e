"""The summaries stage of a run with ``summaries = "auto"``: make the missing summaries
before the sheet is built, with ``summary_model``.

With ``max_cost`` they may take at most :data:`SHARE` of it (what they spend is then
charged to the run's own budget), so the run always keeps the rest. Nothing here fails the
run: a summary model with no price (under ``max_cost``) or no key skips the stage, a
summary that cannot be made is reported, the share's end stops the build (what was made
is kept) — and the run goes on with the summaries that exist, and says so.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from tinygen.config import Settings
from tinygen.errors import Cancelled, ConfigError, TinygenError
from tinygen.llm.budget import Budget, BudgetedProvider
from tinygen.llm.factory import make_provider
from tinygen.llm.usage import Usage, cost_usd
from tinygen.models import RunSummaries
from tinygen.passes.common import Progress
from tinygen.redact import redact
from tinygen.summarize.build import Report
from tinygen.summarize.job import plan_summaries, summarize

if TYPE_CHECKING:
    from tinygen.llm import Provider

SHARE = 0.5  # of `max_cost`: the most a run's summaries may take


def auto_summaries(
    root: Path,
    settings: Settings,
    provider: Provider | None,
    progress: Progress,
    *,
    name: str = "",
) -> tuple[RunSummaries, float]:
    """Make what the repository at ``root`` (a worktree of the repository called ``name``)
    is missing with ``provider`` (None: one for ``summary_model``); (what was done, dollars
    to charge to the run's budget)."""
    limit = settings.max_cost * SHARE if settings.max_cost is not None else None
    try:
        return _make(root, settings, provider, progress, limit, name)
    except Cancelled:
        raise
    except TinygenError as exc:  # e.g. git refusing to list the tree: the run can go on
        reason = f"the summaries stage failed: {redact(exc.message)}"
        progress("summaries", f"skipped: {reason}; the run goes on without new ones")
        return RunSummaries(Report(total=0, cached=0), limit, skipped=reason), 0.0


def _make(
    root: Path,
    settings: Settings,
    provider: Provider | None,
    progress: Progress,
    limit: float | None,
    name: str,
) -> tuple[RunSummaries, float]:
    found = plan_summaries(root, settings, name=name)
    plan = found.plan
    missing = len(plan.missing())
    if not missing:
        return RunSummaries(Report(total=plan.total, cached=plan.total), limit), 0.0
    try:
        budget, base = _summary_provider(settings, provider, limit)
    except ConfigError as exc:
        reason = _unusable(settings.summary_model, exc)
        progress(
            "summaries",
            f"skipped: {reason}; the run goes on with the {len(plan.cached):,} cached",
        )
        none = Report(total=plan.total, cached=len(plan.cached), not_made=missing)
        return RunSummaries(none, limit, skipped=reason), 0.0
    cost = found.estimate.cost_usd
    about = [f"about ${cost:.4f}"] if cost is not None else []
    if limit is not None:
        about.append(f"at most ${limit:.4f}, {SHARE:.0%} of `max_cost`")
    progress(
        "summaries",
        f"making {missing:,} of {plan.total:,} summaries with {settings.summary_model}"
        + (f" ({'; '.join(about)})" if about else ""),
    )

    def each(done: int, total: int, dollars: float) -> None:
        if done == total or done % 50 == 0:
            progress("summaries", f"{done:,} of {total:,} made, ${dollars:.4f}")

    summarize(found, settings, provider=base, progress=each)
    report = found.report
    assert report is not None
    progress("summaries", report.line())
    if report.stopped is not None:
        progress(
            "summaries",
            f"stopped at their share of `max_cost` (${limit or 0:.4f}); "
            "the run goes on with the summaries that exist",
        )
    # a failed call counts at its worst case (it may have been billed): the budget knows
    spent = budget.spent if budget is not None else (report.cost_usd or 0.0)
    return RunSummaries(report, limit, estimate=found.estimate), spent


def _summary_provider(
    settings: Settings, provider: Provider | None, limit: float | None
) -> tuple[Budget | None, Provider]:
    """The summaries' own budget (None without ``max_cost``) and the provider inside it.
    Raises ConfigError when ``summary_model`` has no price (with a limit) or no key."""
    model = settings.summary_model
    if limit is not None and cost_usd(model, Usage(input_tokens=1)) is None:
        raise ConfigError(
            f"`summary_model` {model} has no price in the price table, and `max_cost` needs one",
            hint="add it to a prices file named by TINYGEN_PRICES_FILE, or choose a priced "
            "`summary_model`",
            settings=("summary_model", "max_cost"),
        )
    # not latched: a call refused while others held reservations is asked again (build.py)
    budget = Budget(limit, model, latch=False) if limit is not None else None
    if provider is None:
        provider = make_provider(dataclasses.replace(settings, model=settings.summary_model))
    return budget, BudgetedProvider(provider, budget) if budget is not None else provider


def _unusable(model: str, exc: ConfigError) -> str:
    """Why ``summary_model`` cannot be used, naming the setting at fault."""
    hint = f" ({redact(exc.hint)})" if exc.hint else ""
    if exc.settings and "summary_model" in exc.settings:  # our own words: the price
        return f"{exc.message}{hint}"
    return f"`summary_model` {model} cannot be used: {redact(exc.message)}{hint}"


__all__ = ["SHARE", "auto_summaries"]
