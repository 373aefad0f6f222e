"""The review rounds of a run: edit every planned file, then validate (gate, checks) →
verify → revise until the change is approved, valid and placed, or the rounds run out; and
where a run stopped at its cost limit ends (the best valid diff so far). What each round
decides is pure functions in :mod:`tinygen.pipeline.rounds`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tinygen.errors import BudgetExceeded
from tinygen.models import Plan, Status, Verdict
from tinygen.passes.common import RunContext
from tinygen.passes.edit import edit_files
from tinygen.passes.verify import verify
from tinygen.patch import canonical_diff
from tinygen.pipeline.rounds import (
    diff_paths,
    final_status,
    plan_with_revisions,
    revisions_for,
    validation_text,
)
from tinygen.settle import Validated, combined_diff, settle_undecided
from tinygen.validate import PathPolicy, run_checks_on_tree, run_gate

if TYPE_CHECKING:
    from tinygen.models import RunResult
    from tinygen.pipeline.runner import Runner
    from tinygen.validate import CheckResult, GateReport


def edit_and_verify(run: Runner, ctx: RunContext, plan: Plan, policy: PathPolicy) -> RunResult:
    """Edit the plan's files, then the rounds; the result is the last round's diff."""
    with run.stage("edit"):
        edits = run.edits = edit_files(ctx, plan, list(plan.files), {}, {})
    _check_budget(run)
    verdict: Verdict | None = None
    rounds = 0
    while True:
        # Every edit counts: a failed revision keeps the file's earlier good version.
        diff = canonical_diff(
            {e.path: e.before for e in edits.values()},
            {e.path: e.after for e in edits.values()},
        )
        run.best_diff = diff or run.best_diff
        if not diff:
            failed = [e for e in edits.values() if not e.ok]
            if failed:
                message = (
                    f"the model's edits could not be placed in {', '.join(e.path for e in failed)} "
                    f"(tried {max(e.attempts for e in failed)} times each): nothing changed; "
                    f"`tinygen runs show {run.record.run_id}` has the details — a more specific "
                    "request (naming the function or lines) usually helps"
                )
                return run.result(ctx, Status.UNPLACED, message, plan, edits=edits)
            return run.result(
                ctx, Status.NO_CHANGE, "the planned edits change nothing", plan, edits=edits
            )
        with run.stage("validate"):
            run.progress("validate", "checking the combined diff")
            gate, checks = validate(run, diff, policy, ctx.root)
            if run.settings.checks:  # undecided votes: the checks choose, if they can
                done = settle_undecided(
                    edits,
                    Validated(diff, gate, checks),
                    lambda d: validate(run, d, policy, ctx.root),
                )
                diff, gate, checks = done.diff, done.gate, done.checks
                run.best_diff = diff
        run.valid.consider(Validated(diff, gate, checks))
        if run.settings.max_rounds == 0:
            break
        rounds = run.rounds = rounds + 1
        with run.stage("verify"):
            verdict = run.verdict = verify(
                ctx, plan, diff, validation_text(gate, checks, edits), rounds, policy
            )
        run.record.update(**{f"verdict_{rounds}": verdict.to_dict()})
        # A failed gate, check or edit is never approved, whatever the reviewer says.
        revisions = revisions_for(verdict, gate, checks, edits, diff_paths(diff))
        if not revisions or rounds >= run.settings.max_rounds:
            break  # a review that got its verdict ends the run as it says, limit or not
        _check_budget(run)
        plan = plan_with_revisions(plan, revisions, ctx.repo_paths)
        run.progress("revise", f"round {rounds}: revising {len(revisions)} file(s)")
        with run.stage("edit"):
            items = [item for r in revisions if (item := plan.item(r.path)) is not None]
            feedback = {r.path: r.feedback for r in revisions}
            edits.update(edit_files(ctx, plan, items, edits, feedback))
        _check_budget(run)
    status, message = final_status(gate, checks, verdict, edits, run.settings.max_rounds)
    return run.result(
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


def _check_budget(run: Runner) -> None:
    """Stop the run (see ``stopped``) once the cost limit has refused a call."""
    if run.budget is not None and run.budget.refusal is not None:
        raise run.budget.refusal


def stopped(run: Runner, ctx: RunContext, exc: BudgetExceeded, policy: PathPolicy) -> RunResult:
    """The run stopped at its cost limit: the best diff the gate passed so far (the
    edits made until then are validated first, when they are new), and the spend."""
    run.progress("budget", exc.message)
    diff = combined_diff(run.edits) if run.edits else ""
    if diff and not run.valid.seen(diff):
        with run.stage("validate"):
            gate, checks = validate(run, diff, policy, ctx.root)
        run.valid.consider(Validated(diff, gate, checks))
    best = run.valid.best
    kept = "the best valid diff so far is kept" if best else "no valid diff was made before"
    return run.result(
        ctx,
        Status.BUDGET_EXCEEDED,
        f"stopped at the cost limit: {exc.message}; {kept}",
        run.plan or Plan("", "", ()),
        edits=run.edits,
        diff=best.diff if best else "",
        verdict=run.verdict,
        gate=best.gate if best else None,
        checks=best.checks if best else None,
        rounds=run.rounds,
    )


def validate(
    run: Runner, diff: str, policy: PathPolicy, base_tree: Path
) -> tuple[GateReport, list[CheckResult]]:
    """The gate (reusing our clean checkout of the base), then the repository's checks on the
    gate's tree, in a worktree of their own, since checks may write anything."""

    target, settings = run.target, run.settings
    gate = run_gate(target.root, target.base_commit, diff, policy, worktree=base_tree)
    checks: list[CheckResult] = []
    if gate.ok and gate.tree and settings.checks:
        run.progress("checks", f"running {len(settings.checks)} check(s)")
        # the checks see exactly the tree the gate validated and delivery will commit
        checks = run_checks_on_tree(
            target.root,
            gate.tree,
            target.base_commit,
            settings.checks,
            timeout=settings.check_timeout,
            memory_mb=settings.check_memory_mb,
            pass_env=settings.check_env,
        )
    return gate, checks
