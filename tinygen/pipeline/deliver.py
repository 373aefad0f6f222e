"""Run, then deliver: ``run_and_deliver`` delivers a run's result as the prepared delivery
says, salvages a failed run's partial result, and (``fix_checks``) runs follow-ups while the
repository's CI fails on the pull request."""

from __future__ import annotations

import dataclasses

from tinygen.delivery.ci import ci_feedback
from tinygen.delivery.deliver import deliver, salvage
from tinygen.delivery.options import DeliveryOptions
from tinygen.delivery.prepare import Prepared, prepare
from tinygen.errors import TinygenError
from tinygen.models import Request, RunResult
from tinygen.passes.common import Progress
from tinygen.pipeline.outcome import Outcome
from tinygen.pipeline.runner import quiet, run
from tinygen.pipeline.workspace import Workspace
from tinygen.runs import new_run_id


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
            progress=progress or quiet,
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
        _fix_ci(request, workspace, prepared, outcome, progress or quiet)
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
