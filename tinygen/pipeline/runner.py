"""One run, recorded: ``run`` makes a temporary worktree at the base commit and sequences
sheet → model client → cost limit → estimate → brainstorm → review rounds
(:mod:`tinygen.pipeline.review`) into a typed ``RunResult``. With ``summaries = "auto"``
the model client and the cost limit come first, then the summaries
(:mod:`tinygen.pipeline.auto_summaries`), so that nothing is paid for a run that cannot
start. Every run leaves a record under ``.git/tinygen/runs/<id>/``; a failed one raises its
error carrying what it got done."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tinygen.config import Settings
from tinygen.errors import BudgetExceeded, Cancelled, TinygenError
from tinygen.estimate import Estimate
from tinygen.llm import Usage, cost_usd, default_model
from tinygen.llm.budget import Budget, BudgetedProvider
from tinygen.models import FileEdit, Plan, Request, RunResult, RunSummaries, Status, Verdict
from tinygen.passes.brainstorm import brainstorm
from tinygen.passes.common import Progress, RunContext
from tinygen.passes.common import warm_up as prepare_passes
from tinygen.pipeline.auto_summaries import auto_summaries
from tinygen.pipeline.estimates import estimate_from, with_summaries
from tinygen.pipeline.review import edit_and_verify, stopped
from tinygen.pipeline.workspace import Target
from tinygen.repo.git import state_dir, temp_worktree
from tinygen.runs import RunRecorder, recover, runs_root
from tinygen.settle import BestValid
from tinygen.sheet import build_sheet, render_sheet
from tinygen.validate import PathPolicy

if TYPE_CHECKING:
    from tinygen.llm import Provider
    from tinygen.validate import CheckResult, GateReport


def warm_up(model: str | None = None) -> None:
    """Import the SDK ``model`` needs and build the tool schemas, ahead of the first call:
    the CLI runs this in a thread while it opens the repository."""
    prepare_passes(model)


def quiet(stage: str, message: str) -> None:
    """The progress of a run nobody watches."""


def run(
    request: Request,
    target: Target,
    settings: Settings,
    provider: Provider,
    *,
    model: str | None = None,
    progress: Progress = quiet,
    run_id: str | None = None,
    summary_provider: Provider | None = None,
) -> RunResult:
    """Run the whole pipeline. Errors propagate as TinygenError after being recorded; when a
    diff already exists, it is saved in the run record: the error carries its path
    (``saved_diff``) and the partial result (``partial``).

    ``model`` None means the newest Sonnet the installed SDK knows; it is resolved after the
    sheet is built, so that the SDK import (over a second) can overlap the repository work.

    ``summary_provider`` writes the missing summaries when ``settings.summaries`` is
    "auto" (None: one made for ``settings.summary_model``).
    """
    state = state_dir(target.root)
    recovered = recover(target.root, state)  # what runs killed before they ended left
    if recovered:
        progress("setup", recovered.describe())
    record = RunRecorder(runs_root(state), run_id)
    record.update(
        request={"text": request.text, "source": request.source, "issue": request.issue_number},
        base_commit=target.base_commit,
        settings={
            "budget": settings.budget,
            "jobs": settings.jobs,
            "max_rounds": settings.max_rounds,
            "vote": settings.vote,
            "max_samples": settings.max_samples,
            "max_cost": settings.max_cost,
            "summaries": settings.summaries,
        },
    )
    runner = Runner(request, target, settings, provider, model, progress, record)
    runner.summary_provider = summary_provider
    started = time.monotonic()
    try:
        result = runner.run()
        result.timings["total"] = round(time.monotonic() - started, 3)
    except BaseException as exc:
        interrupted = not isinstance(exc, TinygenError) or isinstance(exc, Cancelled)
        status = "interrupted" if interrupted else str(Status.FAILED)
        saved = record.write_text("diff.patch", runner.best_diff) if runner.best_diff else None
        message = exc.message if isinstance(exc, TinygenError) else type(exc).__name__
        partial = runner.partial(message, saved)
        record.finish(
            result=partial.to_dict() | {"status": status, "error": message}, status=status
        )
        if isinstance(exc, TinygenError):
            # data, not sentences: front ends say where the diff is and what was spent
            exc.run_id = record.run_id
            exc.saved_diff = str(saved) if saved is not None else None
            exc.partial = partial
        raise
    if result.diff:
        result.diff_path = str(record.write_text("diff.patch", result.diff))
    record.finish(result=result.to_dict(), status=str(result.status))
    return result


class Runner:
    """A run's state as the stages fill it in: what a failed run reports comes from here."""

    def __init__(
        self,
        request: Request,
        target: Target,
        settings: Settings,
        provider: Provider,
        model: str | None,
        progress: Progress,
        record: RunRecorder,
    ) -> None:
        self.request = request
        self.target = target
        self.settings = settings
        self.provider = provider
        self.model = model or ""
        self.requested_model = model
        self.progress = progress
        self.record = record
        self.timings: dict[str, float] = {}
        self.best_diff = ""
        self.ctx: RunContext | None = None
        self.edits: dict[str, FileEdit] = {}
        self.plan: Plan | None = None
        self.verdict: Verdict | None = None
        self.rounds = 0
        self.budget: Budget | None = None
        self.estimate: Estimate | None = None
        self.valid = BestValid()  # what a run stopped at its cost limit returns
        self.summary_provider: Provider | None = None
        self.summaries: RunSummaries | None = None  # made first with summaries = "auto"
        self.run_provider: Provider | None = None  # the provider inside the budget

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.monotonic() - started, 3)

    def partial(self, error: str, saved: Path | None) -> RunResult:
        """What a failed or interrupted run got done: usage already paid for, files already
        edited, the best diff so far (saved at ``saved``)."""

        usage = self.ctx.usage_total if self.ctx else None
        own = cost_usd(self.model, usage) if usage is not None else None
        if own is None and usage is None and self.summaries is not None:
            own = 0.0  # no call of its own, but the summaries were paid
        return RunResult(
            run_id=self.record.run_id,
            status=Status.FAILED,
            message=error,
            diff=self.best_diff,
            plan=self.plan,
            edits=list(self.edits.values()),
            usage=usage or Usage(),
            calls=self.ctx.calls if self.ctx else 0,
            cost_usd=self.total_cost(own),
            timings=dict(self.timings),
            model=self.model,
            base_commit=self.target.base_commit,
            diff_path=str(saved) if saved is not None else None,
            estimate=self.estimate,
            max_cost=self.settings.max_cost,
            summaries=self.summaries,
        )

    def total_cost(self, own: float | None) -> float | None:
        """The money the run spent: its own calls' and its summaries' (None: either is
        not known)."""
        if self.summaries is None or own is None:
            return own
        made = self.summaries.cost_usd
        return None if made is None else own + made

    def prepare_model(self) -> Provider:
        """Resolve the run's model and put its provider inside the cost limit: a model
        without a price fails here, before anything is paid."""
        if self.run_provider is None:
            with self.stage("model-client"):  # waits for the SDK import begun by the CLI
                self.model = self.requested_model or default_model()
            self.record.update(model=self.model)
            self.run_provider = self.provider
            if self.settings.max_cost is not None:
                self.budget = Budget(self.settings.max_cost, self.model)
                self.run_provider = BudgetedProvider(self.provider, self.budget)
        return self.run_provider

    def make_summaries(self, root: Path) -> None:
        """The "auto" summaries, before the sheet: within their share of the cost limit,
        charged to the run's budget; whatever happens to them, the run goes on."""
        with self.stage("summaries"):
            self.summaries, spent = auto_summaries(
                root,
                self.settings,
                self.summary_provider,
                self.progress,
                name=self.target.repo_name,  # the worktree's folder name means nothing
            )
        if self.budget is not None:
            self.budget.charge(spent)  # paid from the run's limit
        self.record.update(summaries=self.summaries.to_dict())

    def run(self) -> RunResult:

        policy = PathPolicy(
            protected=self.settings.protected_paths, allowed=self.settings.allowed_paths
        )
        setup_started = time.monotonic()
        with temp_worktree(self.target.root, self.target.base_commit) as wt:
            self.timings["setup"] = round(time.monotonic() - setup_started, 3)
            if self.settings.summaries == "auto":
                self.prepare_model()  # what the run needs is checked before they are paid
                self.make_summaries(wt)
            with self.stage("sheet"):
                self.progress("sheet", "mapping the repository")
                sheet = build_sheet(
                    wt,
                    query=self.request.text,
                    max_file_bytes=self.settings.max_file_bytes,
                    summaries=self.settings.summaries != "off",
                )
                sheet_text = render_sheet(sheet, self.settings.budget)
                self.record.write_text("sheet.txt", sheet_text)

            provider = self.prepare_model()
            ctx = self.ctx = RunContext(
                provider=provider,
                settings=self.settings,
                request=self.request,
                root=wt,
                repo_paths=sheet.paths,
                sheet_text=sheet_text,
                sheet=sheet,  # the brainstorm's lookups search it (no second build)
                record=self.record,
                model=self.model,
                progress=self.progress,
            )
            with self.stage("estimate"):
                self.estimate = estimate_from(ctx, sheet)
                made = self.summaries.estimate if self.summaries is not None else None
                if made is not None:  # what the summaries were projected to cost
                    self.estimate = with_summaries(self.estimate, made)
            self.record.update(estimate=self.estimate.to_dict())
            try:
                with self.stage("brainstorm"):
                    self.progress("brainstorm", "planning the change")
                    plan = brainstorm(ctx, list(sheet.mentioned), policy)
                self.record.update(plan=plan.to_dict())
                self.plan = plan
                if not plan.files:
                    message = plan.summary or "no change needed"
                    return self.result(ctx, Status.NO_CHANGE, message, plan)
                self.progress(
                    "plan", f"{len(plan.files)} file(s): {', '.join(f.path for f in plan.files)}"
                )
                return edit_and_verify(self, ctx, plan, policy)
            except BudgetExceeded as exc:
                return stopped(self, ctx, exc, policy)

    def result(
        self,
        ctx: RunContext,
        status: Status,
        message: str,
        plan: Plan,
        *,
        edits: dict[str, FileEdit] | None = None,
        diff: str = "",
        verdict: Verdict | None = None,
        gate: GateReport | None = None,
        checks: list[CheckResult] | None = None,
        rounds: int = 0,
    ) -> RunResult:
        """The run's typed result, with the usage, cost and timings so far."""

        usage = ctx.usage_total
        return RunResult(
            run_id=self.record.run_id,
            status=status,
            message=message,
            diff=diff,
            plan=plan,
            verdict=verdict,
            edits=list((edits or {}).values()),
            validation=gate,
            checks=list(checks or []),
            usage=usage or Usage(),
            calls=ctx.calls,
            # no call: nothing spent
            cost_usd=self.total_cost(cost_usd(self.model, usage) if usage is not None else 0.0),
            timings=dict(self.timings),
            rounds=rounds,
            model=self.model,
            base_commit=self.target.base_commit,
            tree=gate.tree if gate is not None else None,  # also a syntax-invalid one
            estimate=self.estimate,
            max_cost=self.settings.max_cost,
            summaries=self.summaries,
        )
