"""The summaries stage of a run with ``summaries = "auto"``: make the missing summaries
before the sheet is ranked, paid from the run's own ``max_cost``.

A summary that cannot be made (the model fails, or the cost limit is reached) does not
fail the run: the run goes on with the summaries that exist, and says so.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from tinygen.config import Settings
from tinygen.llm.budget import Budget, BudgetedProvider
from tinygen.passes.common import Progress
from tinygen.summarize.build import Report
from tinygen.summarize.job import plan_summaries, summarize, summary_provider

if TYPE_CHECKING:
    from tinygen.llm import Provider


def refresh_summaries(
    root: Path, settings: Settings, provider: Provider | None, progress: Progress
) -> tuple[Report, float]:
    """Make what the repository at ``root`` is missing; (the report, dollars spent)."""
    found = plan_summaries(root, settings)
    missing = len(found.plan.missing())
    if not missing:
        return Report(total=found.plan.total, cached=found.plan.total), 0.0
    cost = found.estimate.cost_usd
    progress(
        "summaries",
        f"making {missing:,} of {found.plan.total:,} summaries"
        + (f" (about ${cost:.4f})" if cost is not None else ""),
    )
    # the run's own limit applies below, priced for the summary model
    base = provider or summary_provider(dataclasses.replace(settings, max_cost=None))
    budget: Budget | None = None
    if settings.max_cost is not None:
        budget = Budget(settings.max_cost, settings.summary_model)
        base = BudgetedProvider(base, budget)

    def each(done: int, total: int, dollars: float) -> None:
        if done == total or done % 50 == 0:
            progress("summaries", f"{done:,} of {total:,} made, ${dollars:.4f}")

    summarize(found, settings, provider=base, progress=each)
    report = found.report
    assert report is not None
    progress("summaries", report.line())
    spent = budget.spent if budget is not None else (report.cost_usd or 0.0)
    return report, spent


__all__ = ["refresh_summaries"]
