"""What a run would cost, before it is made: ``estimate`` builds the real reference sheet at
the target commit and projects the calls (``tinygen.estimate``) without calling a model;
``estimate_from`` is the same projection inside a run (recorded with its result)."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tinygen.config import Settings
from tinygen.errors import TinygenError
from tinygen.estimate import Estimate, Knobs, PassEstimate, likely_files, project
from tinygen.llm import default_model
from tinygen.models import Request
from tinygen.passes.brainstorm import MAX_NAMED
from tinygen.passes.common import RunContext
from tinygen.passes.sizes import prompt_sizes
from tinygen.pipeline.workspace import Target
from tinygen.repo.git import temp_worktree
from tinygen.runs import RunRecorder
from tinygen.sheet import build_sheet, render_sheet
from tinygen.summarize.job import plan_summaries
from tinygen.summarize.plan import Estimate as SummaryEstimate

if TYPE_CHECKING:
    from tinygen.llm import Completion, CompletionRequest
    from tinygen.sheet import Sheet


class _NoModel:
    """The provider of an estimate: it is never asked (a call would be a bug)."""

    def complete(self, request: CompletionRequest) -> Completion:
        raise TinygenError(f"an estimate made a model call ({request.label})")


def estimate(
    request: Request, target: Target, settings: Settings, *, model: str | None = None
) -> Estimate:
    """What running ``request`` would cost (``tinygen.estimate``), from the real reference
    sheet at the target commit; no model call is made and no run is recorded."""
    with (
        temp_worktree(target.root, target.base_commit) as wt,
        tempfile.TemporaryDirectory(prefix="tinygen-estimate-") as scratch,
    ):
        sheet = build_sheet(wt, query=request.text, max_file_bytes=settings.max_file_bytes)
        ctx = RunContext(
            provider=_NoModel(),
            settings=settings,
            request=request,
            root=wt,
            repo_paths=sheet.paths,
            sheet_text=render_sheet(sheet, settings.budget),
            record=RunRecorder(Path(scratch)),
            model=model or default_model(),
        )
        found = estimate_from(ctx, sheet)
        if settings.summaries == "auto":
            made = plan_summaries(wt, settings, name=target.repo_name)
            found = with_summaries(found, made.estimate)
        return found


def with_summaries(found: Estimate, summaries: SummaryEstimate) -> Estimate:
    """``found`` with the summaries a run with ``summaries = "auto"`` makes first, priced
    for the summary model, as one more pass (in every scenario: their number is known)."""
    if not summaries.calls:
        return found
    cost = summaries.cost_usd
    row = PassEstimate("summaries", summaries.calls, summaries.usage, cost)

    def plus(value: float | None) -> float | None:
        return None if value is None or cost is None else value + cost

    return dataclasses.replace(
        found,
        passes=(row, *found.passes),
        cost_low=plus(found.cost_low),
        cost_high=plus(found.cost_high),
        assumptions={**found.assumptions, "summary_model": summaries.model},
    )


def estimate_from(ctx: RunContext, sheet: Sheet) -> Estimate:
    """The projection for the run ``ctx`` describes, on its sheet."""
    settings = ctx.settings
    named = [p for p in sheet.mentioned if p in sheet.paths][:MAX_NAMED]
    knobs = Knobs(
        vote=settings.vote,
        max_samples=settings.max_samples,
        max_rounds=settings.max_rounds,
        lookup_rounds=settings.lookup_rounds,
        lookup_tokens=settings.lookup_tokens,
        jobs=settings.jobs,
    )
    return project(
        ctx.model, prompt_sizes(ctx, named), likely_files(sheet, ctx.request.text), knobs
    )
