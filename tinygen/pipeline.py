"""The orchestrator: request + repository → validated canonical diff (a RunResult) → delivery.

    open_workspace   repository (checkout or clone cache), settings, provider
    run              sheet → brainstorm → edit per file (parallel) → [validate → verify → revise]*
    run_and_deliver  run → deliver (apply, branch, push, pull request) → salvage on failure

It is the only place that sequences the stages; the CLI and the Action call
``open_workspace`` and ``run_and_deliver``, the HTTP service (which delivers nothing: the
diff is its answer) ``open_workspace`` and ``run``; each words the typed results itself. All work happens in
a temporary worktree at the base commit; the user's checkout is never touched unless
delivery is asked to write it. Every run leaves a record under ``.git/tinygen/runs/<id>/``.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinygen.config import Settings, load_settings
from tinygen.delivery.ci import ci_feedback
from tinygen.delivery.deliver import deliver, salvage
from tinygen.delivery.options import DeliveryOptions
from tinygen.delivery.prepare import Prepared, prepare
from tinygen.errors import BudgetExceeded, Cancelled, ExitCode, TinygenError
from tinygen.estimate import Estimate, Knobs, likely_files, project
from tinygen.llm import Usage, cost_usd, default_model
from tinygen.llm.budget import Budget, BudgetedProvider
from tinygen.llm.factory import make_provider
from tinygen.models import (
    FileEdit,
    Plan,
    Request,
    RunResult,
    Status,
    Verdict,
)
from tinygen.passes.brainstorm import MAX_NAMED, brainstorm
from tinygen.passes.common import Progress, RunContext
from tinygen.passes.common import warm_up as prepare_passes
from tinygen.passes.edit import edit_files
from tinygen.passes.sizes import prompt_sizes
from tinygen.passes.verify import verify
from tinygen.patch import canonical_diff
from tinygen.repo.clone import OpenedRepo, open_repository
from tinygen.repo.git import state_dir, temp_worktree
from tinygen.repo.trees import snapshot_commit
from tinygen.rounds import (
    diff_paths,
    final_status,
    plan_with_revisions,
    revisions_for,
    validation_text,
)
from tinygen.runs import RunRecorder, new_run_id, recover, runs_root
from tinygen.settle import BestValid, Validated, combined_diff, settle_undecided
from tinygen.sheet import build_sheet, render_sheet
from tinygen.validate import PathPolicy, run_checks, run_gate

if TYPE_CHECKING:
    from tinygen.delivery.deliver import Delivered
    from tinygen.llm import Completion, CompletionRequest, Provider
    from tinygen.repo.spec import RepoSpec
    from tinygen.sheet import Sheet
    from tinygen.validate import CheckResult, GateReport


@dataclass(frozen=True)
class Target:
    """Where a run works: a repository (checkout or clone) and the commit to change."""

    root: Path
    base_commit: str


@dataclass(frozen=True)
class Workspace:
    """An opened repository with its settings (read from the base commit) and the provider
    those settings name: everything a run needs besides the request."""

    opened: OpenedRepo
    settings: Settings
    provider: Provider

    @property
    def root(self) -> Path:
        return self.opened.root

    @property
    def base_commit(self) -> str:
        return self.opened.base_commit

    def target(self, commit: str | None = None) -> Target:
        """Where to run: the base commit, or ``commit`` (a pull request's head)."""
        return Target(self.opened.root, commit or self.opened.base_commit)


def open_workspace(
    repo: str | RepoSpec | OpenedRepo,
    *,
    ref: str | None = None,
    overrides: dict[str, Any] | None = None,
    token: str | None = None,
    cache_dir: Path | None = None,
    adjust: Callable[[Settings], Settings] | None = None,
    provider: Provider | None = None,
    provider_for: Callable[[Settings], Provider] | None = None,
) -> Workspace:
    """Open ``repo`` (a checkout path, a bare repository, a URL through the clone cache, or
    an already opened repository), read its settings from the base commit with
    ``overrides`` on top, let the front end ``adjust`` them (the server's caps, the
    Action's protected workflows), and make the provider ``settings.model`` names (or take
    ``provider``, or ask ``provider_for`` for one: the server shares clients between jobs)."""

    opened = (
        repo
        if isinstance(repo, OpenedRepo)
        else open_repository(repo, ref=ref, cache_dir=cache_dir, token=token)
    )
    settings = load_settings(opened.root, overrides, commit=opened.base_commit)
    if adjust is not None:
        settings = adjust(settings)
    if provider is None:
        provider = (provider_for or make_provider)(settings)
    return Workspace(opened, settings, provider)


# Exit codes of the repository's CI on the pushed commit (its other states exit 0).
CI_EXIT = {"failed": ExitCode.CI_FAILED, "timed_out": ExitCode.CI_TIMED_OUT}


@dataclass
class Outcome:
    """What :func:`run_and_deliver` did: the run's result (None when it failed before it had
    one), its error, and the delivery's report or error. Front ends word these."""

    run_id: str
    result: RunResult | None = None
    error: TinygenError | None = None
    delivered: Delivered | None = None
    delivery_error: TinygenError | None = None
    # follow-up runs made because the repository's CI failed (DeliveryOptions.fix_checks)
    fixes: list[Outcome] = field(default_factory=list)

    @property
    def last(self) -> Outcome:
        """The last follow-up, or this outcome: whose CI decides the exit code."""
        return self.fixes[-1] if self.fixes else self

    @property
    def exit_code(self) -> int:
        """The run's error; else the delivery's error; else the run's status; else (when
        that is success) the repository's CI on the last pushed commit (12, 13)."""
        if self.error is not None:
            return int(self.error.exit_code)
        if self.delivery_error is not None:
            return int(self.delivery_error.exit_code)
        assert self.result is not None
        code = self.result.status.exit_code
        last = self.last
        if last is not self and (last.error is not None or last.delivery_error is not None):
            return last.exit_code
        ci = last.delivered.ci if last.delivered is not None else None
        if code == ExitCode.OK and ci is not None and ci.state in CI_EXIT:
            code = CI_EXIT[ci.state]  # the repository's CI, after tinygen's own outcome
        return int(code)


def run_and_deliver(
    request: Request,
    workspace: Workspace,
    prepared: Prepared | None = None,
    *,
    progress: Progress | None = None,
    run_id: str | None = None,
) -> Outcome:
    """Run the pipeline on the prepared target, then deliver the result as ``prepared``
    says. A run that fails after it had a diff is salvaged: its partial result (in memory,
    carried by the error) is delivered as a stated failure where the delivery allows it, so
    no work is lost. Never raises TinygenError: everything is in the Outcome."""

    run_id = run_id or new_run_id()
    outcome = Outcome(run_id)
    target = workspace.target(prepared.target_commit if prepared is not None else None)
    try:
        outcome.result = run(
            request,
            target,
            workspace.settings,
            workspace.provider,
            model=workspace.settings.model,
            progress=progress or _quiet,
            run_id=run_id,
        )
    except TinygenError as exc:
        outcome.error = exc
        if prepared is not None and isinstance(exc.partial, RunResult) and exc.partial.diff:
            try:
                outcome.delivered = salvage(prepared, exc.partial, workspace.settings)
            except TinygenError as err:
                outcome.delivery_error = err
        return outcome
    if prepared is not None:
        try:
            outcome.delivered = deliver(prepared, outcome.result, workspace.settings)
        except TinygenError as exc:
            if outcome.result.diff_path and exc.saved_diff is None:
                exc.saved_diff = outcome.result.diff_path
            outcome.delivery_error = exc
        _fix_ci(request, workspace, prepared, outcome, progress or _quiet)
    return outcome


def _fix_ci(
    request: Request,
    workspace: Workspace,
    prepared: Prepared,
    outcome: Outcome,
    progress: Progress,
) -> None:
    """While the repository's CI fails on the pull request and follow-ups are left: run
    again on the pull request's head with the failed checks in the request, push the fix
    as a new commit, and wait for CI again. Within what is left of the cost limit."""
    spent = outcome.result.cost_usd if outcome.result is not None else None
    for attempt in range(1, prepared.opts.fix_checks + 1):
        last = outcome.last
        ci = last.delivered.ci if last.delivered is not None else None
        number = last.delivered.pr_number if last.delivered is not None else None
        if ci is None or ci.state != "failed" or number is None or last.error is not None:
            return
        settings = workspace.settings
        if settings.max_cost is not None:
            left = settings.max_cost - (spent or 0.0)
            if left <= 0:
                return
            settings = dataclasses.replace(settings, max_cost=left)
        progress("fix-checks", f"CI failed on {ci.sha[:12]}: follow-up {attempt}")
        follow = Request(
            request.text + "\n" + ci_feedback(ci),
            source=request.source,
            issue_number=request.issue_number,
        )
        opts = DeliveryOptions(to_pr=number, wait_checks=prepared.opts.wait_checks)
        try:
            again_prepared = prepare(
                opts,
                workspace.opened,
                forge=prepared.forge,
                token=prepared.token,
                full_name=prepared.full_name,
            )
        except TinygenError as exc:
            outcome.fixes.append(Outcome(new_run_id(), delivery_error=exc))
            return
        again = run_and_deliver(
            follow, Workspace(workspace.opened, settings, workspace.provider), again_prepared,
            progress=progress,
        )  # fmt: skip
        outcome.fixes.append(again)
        cost = again.result.cost_usd if again.result is not None else None
        spent = (spent or 0.0) + (cost or 0.0)


def warm_up(model: str | None = None) -> None:
    """Import the SDK ``model`` needs and build the tool schemas, ahead of the first call:
    the CLI runs this in a thread while it opens the repository."""
    prepare_passes(model)


def _quiet(stage: str, message: str) -> None:
    pass


def run(
    request: Request,
    target: Target,
    settings: Settings,
    provider: Provider,
    *,
    model: str | None = None,
    progress: Progress = _quiet,
    run_id: str | None = None,
) -> RunResult:
    """Run the whole pipeline. Errors propagate as TinygenError after being recorded; when a
    diff already exists, it is saved in the run record: the error carries its path
    (``saved_diff``) and the partial result (``partial``).

    ``model`` None means the newest Sonnet the installed SDK knows; it is resolved after the
    sheet is built, so that the SDK import (over a second) can overlap the repository work.
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
        },
    )
    runner = _Runner(request, target, settings, provider, model, progress, record)
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


class _Runner:
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
        return RunResult(
            run_id=self.record.run_id,
            status=Status.FAILED,
            message=error,
            diff=self.best_diff,
            plan=self.plan,
            edits=list(self.edits.values()),
            usage=usage or Usage(),
            calls=self.ctx.calls if self.ctx else 0,
            cost_usd=cost_usd(self.model, usage) if usage is not None else None,
            timings=dict(self.timings),
            model=self.model,
            base_commit=self.target.base_commit,
            diff_path=str(saved) if saved is not None else None,
            estimate=self.estimate,
            max_cost=self.settings.max_cost,
        )

    def run(self) -> RunResult:

        policy = PathPolicy(
            protected=self.settings.protected_paths, allowed=self.settings.allowed_paths
        )
        setup_started = time.monotonic()
        with temp_worktree(self.target.root, self.target.base_commit) as wt:
            self.timings["setup"] = round(time.monotonic() - setup_started, 3)
            with self.stage("sheet"):
                self.progress("sheet", "mapping the repository")
                sheet = build_sheet(
                    wt,
                    query=self.request.text,
                    max_file_bytes=self.settings.max_file_bytes,
                )
                sheet_text = render_sheet(sheet, self.settings.budget)
                self.record.write_text("sheet.txt", sheet_text)

            with self.stage("model-client"):  # waits for the SDK import begun by the CLI
                self.model = self.requested_model or default_model()
            self.record.update(model=self.model)
            provider = self.provider
            if self.settings.max_cost is not None:
                self.budget = Budget(self.settings.max_cost, self.model)
                provider = BudgetedProvider(provider, self.budget)
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
                self.estimate = _estimate(ctx, sheet)
            self.record.update(estimate=self.estimate.to_dict())
            try:
                with self.stage("brainstorm"):
                    self.progress("brainstorm", "planning the change")
                    plan = brainstorm(ctx, list(sheet.mentioned), policy)
                self.record.update(plan=plan.to_dict())
                self.plan = plan
                if not plan.files:
                    message = plan.summary or "no change needed"
                    return self._result(ctx, Status.NO_CHANGE, message, plan)
                self.progress(
                    "plan", f"{len(plan.files)} file(s): {', '.join(f.path for f in plan.files)}"
                )
                return self._edit_and_verify(ctx, plan, policy)
            except BudgetExceeded as exc:
                return self._stopped(ctx, exc, policy)

    def _check_budget(self) -> None:
        """Stop the run (see ``_stopped``) once the cost limit has refused a call."""
        if self.budget is not None and self.budget.refusal is not None:
            raise self.budget.refusal

    def _stopped(self, ctx: RunContext, exc: BudgetExceeded, policy: PathPolicy) -> RunResult:
        """The run stopped at its cost limit: the best diff the gate passed so far (the
        edits made until then are validated first, when they are new), and the spend."""
        self.progress("budget", exc.message)
        diff = combined_diff(self.edits) if self.edits else ""
        if diff and not self.valid.seen(diff):
            with self.stage("validate"):
                gate, checks = self._validate(diff, policy, ctx.root)
            self.valid.consider(Validated(diff, gate, checks))
        best = self.valid.best
        kept = "the best valid diff so far is kept" if best else "no valid diff was made before"
        return self._result(
            ctx,
            Status.BUDGET_EXCEEDED,
            f"stopped at the cost limit: {exc.message}; {kept}",
            self.plan or Plan("", "", ()),
            edits=self.edits,
            diff=best.diff if best else "",
            verdict=self.verdict,
            gate=best.gate if best else None,
            checks=best.checks if best else None,
            rounds=self.rounds,
        )

    def _edit_and_verify(self, ctx: RunContext, plan: Plan, policy: PathPolicy) -> RunResult:

        with self.stage("edit"):
            edits = self.edits = edit_files(ctx, plan, list(plan.files), {}, {})
        self._check_budget()
        verdict: Verdict | None = None
        rounds = 0
        while True:
            # Every edit counts: a failed revision keeps the file's earlier good version.
            diff = canonical_diff(
                {e.path: e.before for e in edits.values()},
                {e.path: e.after for e in edits.values()},
            )
            self.best_diff = diff or self.best_diff
            if not diff:
                failed = [e for e in edits.values() if not e.ok]
                if failed:
                    message = (
                        f"the model's edits could not be placed in {', '.join(e.path for e in failed)} "
                        f"(tried {max(e.attempts for e in failed)} times each): nothing changed; "
                        f"`tinygen runs show {self.record.run_id}` has the details — a more specific "
                        "request (naming the function or lines) usually helps"
                    )
                    return self._result(ctx, Status.UNPLACED, message, plan, edits=edits)
                return self._result(
                    ctx, Status.NO_CHANGE, "the planned edits change nothing", plan, edits=edits
                )
            with self.stage("validate"):
                self.progress("validate", "checking the combined diff")
                gate, checks = self._validate(diff, policy, ctx.root)
                if self.settings.checks:  # undecided votes: the checks choose, if they can
                    done = settle_undecided(
                        edits,
                        Validated(diff, gate, checks),
                        lambda d: self._validate(d, policy, ctx.root),
                    )
                    diff, gate, checks = done.diff, done.gate, done.checks
                    self.best_diff = diff
            self.valid.consider(Validated(diff, gate, checks))
            if self.settings.max_rounds == 0:
                break
            rounds = self.rounds = rounds + 1
            with self.stage("verify"):
                verdict = self.verdict = verify(
                    ctx, plan, diff, validation_text(gate, checks, edits), rounds, policy
                )
            self.record.update(**{f"verdict_{rounds}": verdict.to_dict()})
            # A failed gate, check or edit is never approved, whatever the reviewer says.
            revisions = revisions_for(verdict, gate, checks, edits, diff_paths(diff))
            if not revisions or rounds >= self.settings.max_rounds:
                break  # a review that got its verdict ends the run as it says, limit or not
            self._check_budget()
            plan = plan_with_revisions(plan, revisions, ctx.repo_paths)
            self.progress("revise", f"round {rounds}: revising {len(revisions)} file(s)")
            with self.stage("edit"):
                items = [item for r in revisions if (item := plan.item(r.path)) is not None]
                feedback = {r.path: r.feedback for r in revisions}
                edits.update(edit_files(ctx, plan, items, edits, feedback))
            self._check_budget()
        status, message = final_status(gate, checks, verdict, edits, self.settings.max_rounds)
        return self._result(
            ctx,
            status,
            message,
            plan,
            edits=edits,
            diff=diff,
            verdict=verdict,
            gate=gate,
            checks=checks,
            rounds=rounds,
        )

    def _validate(
        self, diff: str, policy: PathPolicy, base_tree: Path
    ) -> tuple[GateReport, list[CheckResult]]:
        """The gate (reusing our clean checkout of the base), then the repository's checks in a
        worktree of their own, since checks may write anything."""

        gate = run_gate(self.target.root, self.target.base_commit, diff, policy, worktree=base_tree)
        checks: list[CheckResult] = []
        if gate.ok and gate.tree and self.settings.checks:
            self.progress("checks", f"running {len(self.settings.checks)} check(s)")
            # the checks see exactly the tree the gate validated and delivery will commit
            snapshot = snapshot_commit(self.target.root, gate.tree, self.target.base_commit)
            with temp_worktree(self.target.root, snapshot) as wt:
                checks = run_checks(
                    wt,
                    self.settings.checks,
                    timeout=self.settings.check_timeout,
                    memory_mb=self.settings.check_memory_mb,
                    pass_env=self.settings.check_env,
                )
        return gate, checks

    def _result(
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
            cost_usd=cost_usd(self.model, usage)
            if usage is not None
            else 0.0,  # no call: nothing spent
            timings=dict(self.timings),
            rounds=rounds,
            model=self.model,
            base_commit=self.target.base_commit,
            tree=gate.tree if gate is not None else None,  # also a syntax-invalid one
            estimate=self.estimate,
            max_cost=self.settings.max_cost,
        )


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
        return _estimate(ctx, sheet)


def _estimate(ctx: RunContext, sheet: Sheet) -> Estimate:
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
