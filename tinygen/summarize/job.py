"""The summaries of one repository, from settings to a report: what every front end calls
(``tinygen summarize``, the Action's refresh, a run with ``summaries = "auto"``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tinygen.config import Settings
from tinygen.llm.budget import Budget, BudgetedProvider
from tinygen.llm.factory import make_provider
from tinygen.llm.provider import Provider
from tinygen.sheet.build import build_sheet
from tinygen.sheet.model import Sheet
from tinygen.sheet.summary_record import SummaryRecord
from tinygen.sheet.summary_store import SummaryStore
from tinygen.sheet.tree_shas import folder_shas
from tinygen.summarize.build import Progress, Report, build_summaries
from tinygen.summarize.plan import Estimate, Plan, estimate, make_plan

PRUNE_ABOVE = 3  # times the tree's summaries a store may hold before it is pruned
PRUNE_MIN = 1000  # records a store may always hold


@dataclass
class Summarized:
    """A repository's summary plan, its estimate and (after a build) the report."""

    sheet: Sheet
    store: SummaryStore
    shas: Mapping[str, str]  # folder -> git tree SHA ("" the root)
    plan: Plan
    estimate: Estimate
    report: Report | None = None

    def records(self) -> dict[str, SummaryRecord]:
        """path -> the record each node has now ("" the overview)."""
        out = {}
        for path, node in self.plan.nodes.items():
            record = self.store.best(node.kind, node.sha, self.plan.model)
            if record is not None:
                out[path] = record
        return out


def plan_summaries(
    root: Path, settings: Settings, sheet: Sheet | None = None, *, name: str = ""
) -> Summarized:
    """What the repository at ``root`` needs, what is cached, and the estimate of the rest;
    ``name`` is the repository's name for the overview (default: the folder's, which for
    a temporary worktree means nothing)."""
    if sheet is None:
        sheet = build_sheet(
            root,
            max_file_bytes=settings.max_file_bytes,
            include_untracked=False,
            ranking=False,
        )
    store = SummaryStore.for_root(sheet.root)
    shas = folder_shas(sheet)
    plan = make_plan(sheet, store, settings.summary_model, shas, name)
    return Summarized(sheet, store, shas, plan, estimate(plan, store))


def summary_provider(settings: Settings) -> Provider:
    """The provider for ``summary_model``, inside ``max_cost`` when one is set."""
    provider = make_provider(dataclasses.replace(settings, model=settings.summary_model))
    if settings.max_cost is not None:
        limit = Budget(settings.max_cost, settings.summary_model, latch=False)
        provider = BudgetedProvider(provider, limit)
    return provider


def summarize(
    found: Summarized,
    settings: Settings,
    *,
    provider: Provider | None = None,
    progress: Progress | None = None,
) -> Summarized:
    """Make what ``found`` is missing (no provider is made when nothing is)."""
    if not found.plan.missing():
        found.report = Report(total=found.plan.total, cached=len(found.plan.cached))
        prune(found)
        return found
    if provider is None:
        provider = summary_provider(settings)
    found.report = build_summaries(
        found.plan, provider, found.store, jobs=settings.jobs, progress=progress
    )
    prune(found)
    return found


def prune(found: Summarized) -> int:
    """Keep the store near the size of the tree: past ``PRUNE_ABOVE`` times its summaries,
    records no current file or folder uses are dropped (see SummaryStore.prune)."""
    keep = {(node.kind, node.sha) for node in found.plan.nodes.values()}
    return found.store.prune(keep, max(PRUNE_MIN, PRUNE_ABOVE * found.plan.total))


__all__ = ["Summarized", "plan_summaries", "prune", "summarize", "summary_provider"]
